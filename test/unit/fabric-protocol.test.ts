// The KSF1 wire format: every message round-trips, and anything malformed is an Integrity error
// (never a guess), because a misparsed window would read the wrong bytes.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { KisekiError } from '../../src/errors.js';
import { Envelope } from '../../src/gen/kiseki/v1/chunk.js';
import * as P from '../../src/transport/fabric-protocol.js';
import { idOf, makeEnvelope } from '../helpers/fabric-chunks.js';

const isIntegrity = (e: unknown): boolean => KisekiError.is(e, 'Integrity');
const token = randomBytes(16);

test('a GET request round-trips header, token and chunk id', () => {
  const id = randomBytes(32);
  const m = P.encodeGet({ reqId: 0xfffffffe, session: 7, token }, id);
  const h = P.readHeader(m);
  assert.equal(h.op, P.Op.Get);
  assert.equal(h.reqId, 0xfffffffe);
  assert.equal(h.session, 7);
  assert.ok(h.token.equals(token));
  assert.ok(P.decodeChunkId(m).equals(id));
});

test('an RMA GET reply carries the window and the envelope head; join restores the envelope', () => {
  const env = makeEnvelope(1000);
  const { head, ciphertext } = P.splitEnvelope(env);
  assert.equal(ciphertext.buffer, env.ciphertext.buffer, 'the ciphertext is not copied');
  const w = { len: ciphertext.length, addr: 0x7fff_0000_1234n, key: 0xdead_beef_cafen };
  const m = P.encodeGetReplyRma(9, 3, w, head);
  assert.deepEqual(P.readWindow(m, P.HEADER_SIZE, P.MAX_CIPHERTEXT), w);
  const back = P.joinEnvelope(P.readHead(m, P.HEADER_SIZE + 24), Buffer.from(ciphertext));
  assert.ok(Buffer.from(back.ciphertext).equals(env.ciphertext));
  assert.ok(idOf(back).equals(idOf(env)));
  assert.ok(Buffer.from(back.nonce).equals(Buffer.from(env.nonce)));
  assert.ok(Buffer.from(back.authTag).equals(Buffer.from(env.authTag)));
});

test('an RMA PUT carries id, window and head', () => {
  const env = makeEnvelope(10);
  const { head } = P.splitEnvelope(env);
  const m = P.encodePutRma({ reqId: 1, session: 2, token }, idOf(env), { len: 10, addr: 0n, key: 5n }, head);
  const id = P.decodeChunkId(m);
  assert.ok(id.equals(idOf(env)));
  const at = P.HEADER_SIZE + 1 + id.length;
  assert.equal(P.readWindow(m, at, P.MAX_CIPHERTEXT).key, 5n);
  assert.ok(P.readHead(m, at + 24).equals(Buffer.from(head)));
});

test('inline replies and puts carry the whole encoded envelope', () => {
  const bytes = randomBytes(5000);
  const r = P.encodeGetReplyInline(1, 1, bytes);
  assert.equal(P.readHeader(r).flags & P.FLAG_INLINE, P.FLAG_INLINE);
  assert.ok(P.readInline(r, P.HEADER_SIZE).equals(bytes));
  const id = randomBytes(32);
  const p = P.encodePutInline({ reqId: 1, session: 1, token }, id, bytes);
  assert.ok(P.readInline(p, P.HEADER_SIZE + 1 + 32).equals(bytes));
});

test('error replies carry their status and a readable detail', () => {
  const m = P.encodeReply(P.Op.GetReply, 4, P.Status.NotFound, 1, 0, 'chunk ab not found');
  assert.equal(P.readHeader(m).status, P.Status.NotFound);
  assert.equal(P.replyDetail(m), 'chunk ab not found');
  const put = P.encodePutReply(4, 1, P.Status.Ok, P.PutOutcomeCode.Deduplicated);
  assert.equal(P.decodePutOutcome(put), P.PutOutcomeCode.Deduplicated);
});

test('garbage, wrong magic, unknown ops and truncated bodies are Integrity errors', () => {
  assert.throws(() => P.readHeader(Buffer.alloc(10)), isIntegrity);
  assert.throws(() => P.readHeader(Buffer.alloc(64)), isIntegrity);
  const m = P.encodeGet({ reqId: 1, session: 1, token }, randomBytes(32));
  const badOp = Buffer.from(m);
  badOp.writeUInt8(0x55, 4);
  assert.throws(() => P.readHeader(badOp), isIntegrity);
  assert.throws(() => P.decodeChunkId(m.subarray(0, P.HEADER_SIZE + 10)), isIntegrity);
  const w = P.encodeGetReplyRma(1, 1, { len: 100, addr: 0n, key: 1n }, Buffer.alloc(0));
  assert.throws(() => P.readWindow(w.subarray(0, P.HEADER_SIZE + 20), P.HEADER_SIZE, 1000), isIntegrity);
  assert.throws(() => P.readWindow(w, P.HEADER_SIZE, 99), isIntegrity, 'a window larger than the limit');
  const zero = P.encodeGetReplyRma(1, 1, { len: 0, addr: 0n, key: 1n }, Buffer.alloc(0));
  assert.throws(() => P.readWindow(zero, P.HEADER_SIZE, 1000), isIntegrity, 'an empty window');
  const inl = P.encodeGetReplyInline(1, 1, randomBytes(100));
  assert.throws(() => P.readInline(inl.subarray(0, inl.length - 1), P.HEADER_SIZE), isIntegrity);
});

test('a head that claims ciphertext is rejected on join', () => {
  const env = makeEnvelope(10);
  const full = P.splitEnvelope(env);
  const withCt = Envelope.encode(env).finish();
  assert.throws(() => P.joinEnvelope(withCt, Buffer.alloc(10)), isIntegrity);
  assert.doesNotThrow(() => P.joinEnvelope(full.head, Buffer.alloc(10)));
});

test('the wire mode follows the provider, KISEKI_FABRIC_RMA and KISEKI_FABRIC_INLINE_MAX', () => {
  assert.deepEqual(P.wireMode(true, {}), { rma: true, recvSize: P.CONTROL_SIZE, recvDepth: 64 });
  assert.equal(P.wireMode(true, { KISEKI_FABRIC_RMA: '0' }).rma, false);
  assert.equal(P.wireMode(false, {}).rma, false);
  assert.equal(P.wireMode(false, { KISEKI_FABRIC_INLINE_MAX: '65536' }).recvSize, 65536);
  assert.throws(() => P.wireMode(false, { KISEKI_FABRIC_INLINE_MAX: '12' }), (e: unknown) => KisekiError.is(e, 'InvalidArgument'));
});

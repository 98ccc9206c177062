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

test('a batched GET request round-trips header, token and every chunk id in order', () => {
  const ids = [randomBytes(32), randomBytes(32), randomBytes(20)];
  const m = P.encodeGet({ reqId: 0xfffffffe, session: 7, token }, ids);
  const h = P.readHeader(m);
  assert.equal(h.op, P.Op.Get);
  assert.equal(h.reqId, 0xfffffffe);
  assert.equal(h.session, 7);
  assert.ok(h.token.equals(token));
  assert.deepEqual(P.decodeGetIds(m), ids);
  assert.throws(() => P.encodeGet({ reqId: 1, session: 1, token }, []), (e: unknown) => KisekiError.is(e, 'InvalidArgument'));
  assert.throws(() => P.encodeGet({ reqId: 1, session: 1, token }, Array.from({ length: P.MAX_GET_BATCH + 1 }, () => randomBytes(32))), (e: unknown) => KisekiError.is(e, 'InvalidArgument'));
});

test('a batched RMA GET reply carries per-chunk status, windows and heads in order', () => {
  const a = P.splitEnvelope(makeEnvelope(100));
  const b = P.splitEnvelope(makeEnvelope(200));
  const entries: P.GetEntry[] = [
    { status: P.Status.Ok, window: { len: 100, addr: 1n, key: 2n }, head: a.head },
    { status: P.Status.NotFound },
    { status: P.Status.Later },
    { status: P.Status.Ok, window: { len: 200, addr: 3n, key: 4n }, head: b.head },
  ];
  const m = P.encodeGetReplyRma(5, 6, entries);
  const back = P.decodeGetReplyRma(m, 4, P.MAX_CIPHERTEXT);
  assert.deepEqual(back.map((e) => e.status), [P.Status.Ok, P.Status.NotFound, P.Status.Later, P.Status.Ok]);
  assert.deepEqual((back[3] as { window: P.RmaWindow }).window, { len: 200, addr: 3n, key: 4n });
  assert.ok(Buffer.from((back[0] as { head: Uint8Array }).head).equals(Buffer.from(a.head)));
  assert.throws(() => P.decodeGetReplyRma(m, 3, P.MAX_CIPHERTEXT), isIntegrity, 'a reply for a different number of chunks');
  assert.throws(() => P.decodeGetReplyRma(m.subarray(0, m.length - 5), 4, P.MAX_CIPHERTEXT), isIntegrity, 'truncated');
});

test('an RMA GET reply carries the window and the envelope head; join restores the envelope', () => {
  const env = makeEnvelope(1000);
  const { head, ciphertext } = P.splitEnvelope(env);
  assert.equal(ciphertext.buffer, env.ciphertext.buffer, 'the ciphertext is not copied');
  const w = { len: ciphertext.length, addr: 0x7fff_0000_1234n, key: 0xdead_beef_cafen };
  const m = P.encodeGetReplyRma(9, 3, [{ status: P.Status.Ok, window: w, head }]);
  const entry = P.decodeGetReplyRma(m, 1, P.MAX_CIPHERTEXT)[0] as { window: P.RmaWindow; head: Uint8Array };
  assert.deepEqual(entry.window, w);
  const back = P.joinEnvelope(entry.head, Buffer.from(ciphertext));
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
  const m = P.encodeGet({ reqId: 1, session: 1, token }, [randomBytes(32)]);
  const badOp = Buffer.from(m);
  badOp.writeUInt8(0x55, 4);
  assert.throws(() => P.readHeader(badOp), isIntegrity);
  assert.throws(() => P.decodeGetIds(m.subarray(0, P.HEADER_SIZE + 10)), isIntegrity);
  const ok = (len: number): P.GetEntry[] => [{ status: P.Status.Ok, window: { len, addr: 0n, key: 1n }, head: Buffer.alloc(0) }];
  const w = P.encodeGetReplyRma(1, 1, ok(100));
  assert.throws(() => P.decodeGetReplyRma(w.subarray(0, P.HEADER_SIZE + 20), 1, 1000), isIntegrity);
  assert.throws(() => P.decodeGetReplyRma(w, 1, 99), isIntegrity, 'a window larger than the limit');
  assert.throws(() => P.decodeGetReplyRma(P.encodeGetReplyRma(1, 1, ok(0)), 1, 1000), isIntegrity, 'an empty window');
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

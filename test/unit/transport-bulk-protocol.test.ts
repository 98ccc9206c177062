// The KSB1 wire format (src/transport/bulk-protocol.ts): frames survive any split of the byte stream,
// bodies are views when they arrive whole, and every malformed header is refused before a body
// buffer is allocated.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KisekiError, kerr } from '../../src/errors.js';
import {
  BULK_HEADER_BYTES, BulkProtocolError, FrameReader, MAX_BULK_BODY, MAX_BULK_GET_IDS, Op, encodeHeader, errorOfStatus, statusOfError,
} from '../../src/transport/bulk-protocol.js';

function frame(op: Op, id: number, arg: number, body: Buffer): Buffer {
  return Buffer.concat([encodeHeader({ op, status: 0, id, arg, length: body.length }), body]);
}

test('frames come out whole and in order however the stream is split', () => {
  const bodies = [Buffer.alloc(0), Buffer.from('x'), Buffer.alloc(70_000, 7), Buffer.alloc(32 * 3, 1)];
  const stream = Buffer.concat([
    frame(Op.PING, 1, 0, bodies[0]!), frame(Op.PUT, 2, 1, bodies[1]!), frame(Op.PUT, 3, 1, bodies[2]!), frame(Op.GET, 4, 3, bodies[3]!),
  ]);
  for (const step of [1, 5, 23, 24, 25, 4096, 65_536, stream.length]) {
    const r = new FrameReader('node');
    const got = [];
    for (let at = 0; at < stream.length; at += step) got.push(...r.push(stream.subarray(at, at + step)));
    assert.deepEqual(got.map((f) => [f.op, f.id, f.arg]), [[Op.PING, 1, 0], [Op.PUT, 2, 1], [Op.PUT, 3, 1], [Op.GET, 4, 3]], `step ${step}`);
    got.forEach((f, i) => assert.ok(f.body.equals(bodies[i]!), `step ${step}: body ${i}`));
    assert.ok(r.idle);
  }
});

test('a body that arrives in one read is a view of it (no copy)', () => {
  const buf = frame(Op.PUT, 9, 1, Buffer.alloc(1000, 3));
  const [f] = new FrameReader('node').push(buf);
  assert.equal(f!.body.buffer, buf.buffer);
  assert.equal(f!.body.byteOffset, buf.byteOffset + BULK_HEADER_BYTES);
});

test('malformed headers are refused before allocating: magic, version, op per side, lengths, counts', () => {
  const h = (o: Partial<{ op: number; status: number; arg: number; length: number }>): Buffer => encodeHeader({ op: Op.PING, status: 0, id: 1, arg: 0, length: 0, ...o });
  const bad: Buffer[] = [
    Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n'),
    Buffer.concat([h({}).subarray(0, 4), Buffer.from([9]), h({}).subarray(5)]),
    h({ op: Op.PUT, arg: 1, length: MAX_BULK_BODY + 1 }),
    h({ op: Op.GET, arg: MAX_BULK_GET_IDS + 1, length: (MAX_BULK_GET_IDS + 1) * 32 }),
    h({ op: Op.GET, arg: 2, length: 33 }),
    h({ op: Op.CHUNK }),
    h({ status: 1 }),
    h({ length: 1 }),
  ];
  for (const b of bad) assert.throws(() => new FrameReader('node').push(b), BulkProtocolError, b.subarray(0, 8).toString('hex'));
  assert.throws(() => new FrameReader('client').push(h({ op: Op.GET, arg: 1, length: 32 })), BulkProtocolError, 'a client accepts replies only');
  assert.throws(() => new FrameReader('client').push(encodeHeader({ op: Op.ERROR, status: 1, id: 1, arg: 0, length: 5000 })), BulkProtocolError);
});

test('error kinds travel as statuses and come back as the same kind; unknown ones are transport failures', () => {
  for (const kind of ['NotFound', 'NoSpace', 'InvalidArgument', 'PermissionDenied', 'Integrity', 'KeyDestroyed'] as const) {
    assert.ok(KisekiError.is(errorOfStatus(statusOfError(kerr(kind, 'x')), 'x'), kind), kind);
  }
  assert.ok(KisekiError.is(errorOfStatus(statusOfError(new Error('boom')), 'x'), 'Internal'));
  assert.ok(KisekiError.is(errorOfStatus(999, 'x'), 'TransportFailed'));
});

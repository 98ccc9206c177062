// The client's receive pool (src/transport/receive-buffers.ts): one owner per buffer, stale or
// repeated recycles never free a buffer someone else now holds, and a reused buffer never shows a
// shorter chunk the tail of a longer one. The last test drives it through a real bulk stream socket
// and a real FileChunkStore.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import type { Envelope } from '../../src/gen/kiseki/v1/chunk.js';
import { BulkListener } from '../../src/node/bulk-listener.js';
import { FileChunkStore } from '../../src/node/file-chunk-store.js';
import { FrameReader, Op, encodeHeader } from '../../src/transport/bulk-protocol.js';
import { ReceiveBuffers, receiveBuffers, recycleEnvelopes } from '../../src/transport/receive-buffers.js';
import { BulkChunkTransport } from '../../src/transport/transport-bulk.js';
import { checkEnvelopes, idOf, makeEnvelope, TENANT_A } from '../helpers/fabric-chunks.js';

const KIB = 1024;

function lend(pool: ReceiveBuffers, length: number): { env: Envelope; body: Buffer } {
  const body = pool.take(length)!;
  const env = { ...makeEnvelope(1), ciphertext: body.subarray(3) } as Envelope;
  pool.adopt(env, body);
  return { env, body };
}

test('I-RB1: a buffer is lent to one envelope at a time; repeated and stale recycles free nothing', () => {
  const pool = new ReceiveBuffers(256 * KIB, 4);
  assert.equal(pool.take(1000), null, 'small bodies are not pooled');
  assert.equal(pool.take(257 * KIB), null, 'bodies beyond the capacity are not pooled');
  const a = lend(pool, 200 * KIB);
  pool.recycle(a.env);
  pool.recycle(a.env);
  assert.equal(pool.freeCount, 1, 'a second recycle must not list the buffer twice');
  const b = lend(pool, 100 * KIB);
  assert.equal(b.body.buffer, a.body.buffer, 'the recycled buffer is reused');
  const c = lend(pool, 100 * KIB);
  assert.notEqual(c.body.buffer, b.body.buffer, 'two live envelopes never share a buffer');
  pool.recycle(a.env); // stale: a's lending ended; b owns the buffer now
  assert.equal(pool.freeCount, 0);
  const stranger = { ...makeEnvelope(1), ciphertext: Buffer.alloc(100 * KIB) } as Envelope;
  pool.recycle(stranger);
  pool.adopt(stranger, stranger.ciphertext);
  pool.recycle(stranger);
  assert.equal(pool.freeCount, 0, 'buffers the pool did not make are never taken in');
  pool.recycle(b.env);
  pool.recycle(c.env);
  assert.equal(pool.freeCount, 2);
});

test('I-RB2: a body gathered into a reused buffer is exactly its own bytes, never the tail of a longer one', () => {
  const pool = new ReceiveBuffers(1024 * KIB, 4);
  const reader = new FrameReader('client', (h) => pool.take(h.length));
  const frame = (body: Buffer): Buffer => Buffer.concat([encodeHeader({ op: Op.CHUNK, status: 0, id: 1, arg: 0, length: body.length }), body]);
  const feed = (bytes: Buffer): Buffer => {
    // In 16 KiB pieces, as a TLS socket delivers them, so the body spans reads.
    const out = [];
    for (let i = 0; i < bytes.length; i += 16 * KIB) out.push(...reader.push(bytes.subarray(i, i + 16 * KIB)));
    assert.equal(out.length, 1);
    return out[0]!.body;
  };
  const long = Buffer.alloc(900 * KIB, 0xaa);
  const got1 = feed(frame(long));
  assert.deepEqual(got1, long);
  const env = { ...makeEnvelope(1), ciphertext: got1 } as Envelope;
  pool.adopt(env, got1);
  pool.recycle(env);
  const short = Buffer.alloc(70 * KIB, 0x55);
  const got2 = feed(frame(short));
  assert.equal(got2.buffer, got1.buffer, 'the second body reused the first one\'s buffer');
  assert.equal(got2.length, short.length);
  assert.deepEqual(got2, short);
});

test('I-RB2: chunks of different sizes read over a real bulk stream and recycled after each read come back exactly', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ksk-recv-pool-'));
  const store = new FileChunkStore(path.join(dir, 'data'));
  await store.open();
  const listener = new BulkListener({ spec: { kind: 'unix', path: path.join(dir, 'bulk.sock'), tenant: TENANT_A }, store, log: pino({ level: 'silent' }) });
  await listener.start();
  const t = new BulkChunkTransport({ address: listener.address!, tls: null });
  try {
    const envs = [makeEnvelope(4 << 20), makeEnvelope(70_000), makeEnvelope((4 << 20) - 7), makeEnvelope(1 << 20), makeEnvelope(4095)];
    await t.putChunks(envs);
    const reused0 = receiveBuffers.stats.reused;
    for (let round = 0; round < 3; round++) {
      for (const e of envs) {
        const got = await t.getChunks([idOf(e)]);
        assert.equal(checkEnvelopes([e], got), null);
        assert.equal(got[0]!.ciphertext.length, e.ciphertext.length);
        recycleEnvelopes(got);
      }
    }
    assert.ok(receiveBuffers.stats.reused > reused0, 'the receive buffers were reused');
  } finally {
    await t.close();
    await listener.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

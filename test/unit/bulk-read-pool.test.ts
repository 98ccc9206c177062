// The node's pooled chunk read buffers (src/node/chunk-read-pool.ts) on real files and a real bulk
// stream socket: one owner per buffer, and a buffer reused for a shorter chunk — another tenant's —
// never carries the old chunk's tail into a reply.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { BulkListener } from '../../src/node/bulk-listener.js';
import { encodeEnvelopeParts } from '../../src/node/chunk-frames.js';
import { ChunkReadPool } from '../../src/node/chunk-read-pool.js';
import { FileChunkStore } from '../../src/node/file-chunk-store.js';
import { BulkChunkTransport } from '../../src/transport/transport-bulk.js';
import { checkEnvelopes, idOf, makeEnvelope, TENANT_A, TENANT_B } from '../helpers/fabric-chunks.js';

let dir: string;
let store: FileChunkStore;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'ksk-read-pool-'));
  store = new FileChunkStore(path.join(dir, 'data'));
  await store.open();
});

after(() => rmSync(dir, { recursive: true, force: true }));

function chunkFile(tenant: string, id: Buffer): Buffer {
  const hex = id.toString('hex');
  return readFileSync(path.join(dir, 'data', 'chunks', tenant, hex.slice(0, 2), hex));
}

test('I-RP1: a released buffer is free once however often it is released; two live leases never share one', async () => {
  const pool = new ChunkReadPool(1024, 4);
  const fill = (b: Buffer): Promise<number> => { b.fill(7); return Promise.resolve(b.length); };
  const a = await pool.read(100, fill);
  a.release();
  a.release();
  assert.equal(pool.freeCount, 1, 'a second release must not list the buffer twice');
  const b = await pool.read(100, fill);
  const c = await pool.read(100, fill);
  assert.equal(pool.stats.reused, 1);
  assert.notEqual(b.bytes.buffer, c.bytes.buffer, 'two leases at once hold two buffers');
  a.release(); // a stale lease's release must not free b's buffer
  assert.equal(pool.freeCount, 0);
  b.release();
  c.release();
  assert.equal(pool.freeCount, 2);
  const big = await pool.read(4096, fill);
  assert.equal(big.bytes.length, 4096, 'beyond the capacity: a buffer of its own');
  big.release();
  assert.equal(pool.freeCount, 2);
});

test('I-RP2: a buffer reused for a shorter chunk of another tenant holds exactly that chunk, never the old tail', async () => {
  const pool = new ChunkReadPool();
  const long = makeEnvelope((4 << 20) - 7);
  const short = makeEnvelope(4095);
  await store.put(TENANT_B, long);
  await store.put(TENANT_A, short);
  const first = (await store.getLeased(TENANT_B, idOf(long), pool))!;
  assert.equal(checkEnvelopes([long], [first.envelope]), null);
  const store1 = first.envelope.ciphertext.buffer;
  first.release();
  const second = (await store.getLeased(TENANT_A, idOf(short), pool))!;
  assert.equal(second.envelope.ciphertext.buffer, store1, 'the pooled buffer was reused');
  assert.equal(pool.stats.reused, 1);
  assert.equal(checkEnvelopes([short], [second.envelope]), null);
  // What the stream writes is exactly the stored file, not a byte of the buffer beyond it.
  const sent = Buffer.concat(encodeEnvelopeParts(second.envelope));
  assert.deepEqual(sent, chunkFile(TENANT_A, idOf(short)));
  assert.ok(sent.length < 8192);
  second.release();
  assert.equal(await store.getLeased(TENANT_A, Buffer.alloc(32, 1), pool), null, 'absent chunk: no lease');
});

test('I-RP2: over a real bulk stream socket, GETs alternating long and short chunks return exactly their bytes from reused buffers', async () => {
  const pool = new ChunkReadPool();
  const listener = new BulkListener({ spec: { kind: 'unix', path: path.join(dir, 'bulk.sock'), tenant: TENANT_A }, store, readPool: pool, log: pino({ level: 'silent' }) });
  await listener.start();
  const t = new BulkChunkTransport({ address: listener.address!, tls: null });
  try {
    const envs = [makeEnvelope(4 << 20), makeEnvelope(1), makeEnvelope(3 << 20), makeEnvelope(65_537)];
    await t.putChunks(envs);
    for (let round = 0; round < 3; round++) {
      for (const e of envs) {
        const got = await t.getChunks([idOf(e)]);
        assert.equal(checkEnvelopes([e], got), null);
        assert.equal(got[0]!.ciphertext.length, e.ciphertext.length);
      }
      const all = await t.getChunks(envs.map(idOf));
      assert.equal(checkEnvelopes(envs, all), null);
    }
    assert.ok(pool.stats.reused > 0, `buffers were reused (${JSON.stringify(pool.stats)})`);
  } finally {
    await t.close();
    await listener.close();
  }
});

// L2 reads reuse their buffers (src/cache/buffer-recycler.ts): a page's buffer goes back to the pool
// only after its last release, zeroed (I-CC2), and the next hit that reuses it carries its own bytes.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkCache } from '../../src/cache/chunk-cache.js';
import { BufferRecycler } from '../../src/cache/buffer-recycler.js';
import { Page } from '../../src/cache/page.js';
import { chunk, config, tempDir } from './cache-fixtures.js';

const dirs: { cleanup(): Promise<void> }[] = [];
after(async () => { for (const d of dirs) await d.cleanup(); });

test('I-CC2 recycling: a Page hands its backing to onFree only after the last release, and zeroed', () => {
  const backing = Buffer.alloc(16, 7);
  const freed: Buffer[] = [];
  const page = new Page(backing.subarray(0, 12), backing, (b) => freed.push(b));
  page.acquire();
  page.release();
  assert.equal(freed.length, 0, 'a reader still holds it');
  page.release();
  assert.deepEqual(freed, [backing]);
  assert.ok(backing.every((x) => x === 0), 'zeroed before it was handed back');
  page.release();
  assert.equal(freed.length, 1, 'extra releases do not free twice');
});

test('BufferRecycler: takes back its own whole buffers up to its byte bound, never views or foreign ones; hands them out by exact size', () => {
  const r = new BufferRecycler(3 * 1024);
  const a = r.take(1024);
  const b = r.take(1024);
  const big = r.take(2048);
  r.give(a);
  r.give(big);
  r.give(b); // over the bound: dropped
  assert.equal(r.freeBytes, 3072);
  r.give(r.take(4096).subarray(0, 1024)); // a view: never kept
  r.give(Buffer.alloc(1024)); // not made here: may share memory with its owner
  assert.equal(r.freeBytes, 3072);
  r.give(a); // already free: listed once
  assert.equal(r.freeBytes, 3072);
  assert.equal(r.take(1024).buffer, a.buffer);
  assert.notEqual(r.take(1024).buffer, b.buffer, 'a dropped buffer is not handed out');
  assert.equal(r.take(2048).buffer, big.buffer);
  assert.equal(r.freeBytes, 0);
  assert.equal(r.take(512).length, 512, 'a new buffer when none fits');
});

test('I-CC2 L2 hits with recycled buffers: each hit has its own chunk\'s bytes, the buffer is reused only after release', async () => {
  const d = await tempDir();
  dirs.push(d);
  // L1 too small for any chunk: every get is an L2 read into a (recycled) buffer.
  const cache = await ChunkCache.open(config(d.path, { l1: '1' }), { tenant: 't1', pool: { scavenge: false, capacityRefreshMs: 0 }, statsIntervalMs: 0 });
  try {
    const a = chunk(64 * 1024);
    const b = chunk(64 * 1024);
    await cache.put(a.id, a.data);
    await cache.put(b.id, b.data);
    const h1 = await cache.get(a.id);
    assert.ok(h1.kind === 'hit' && h1.tier === 'l2' && h1.data.equals(a.data));
    const first = h1.data;
    // While h1 is held, a hit of the same size must not get its buffer.
    const h2 = await cache.get(b.id);
    assert.ok(h2.kind === 'hit' && h2.data.equals(b.data));
    assert.notEqual(h2.data.buffer, first.buffer, 'a held page\'s buffer is not reused');
    assert.ok(first.equals(a.data), 'the held page still has its bytes');
    h1.release();
    assert.ok(first.every((x) => x === 0), 'released: zeroed (I-CC2)');
    const h3 = await cache.get(b.id);
    assert.ok(h3.kind === 'hit');
    assert.equal(h3.data.buffer, first.buffer, 'the released buffer was reused');
    assert.ok(h3.data.equals(b.data), 'and holds the new hit\'s bytes');
    h2.release();
    h3.release();
  } finally {
    await cache.close();
  }
});

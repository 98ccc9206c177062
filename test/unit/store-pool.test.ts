// StorePool: the free list under every buffer pool (ChunkBuffers, BufferRecycler, ReceiveBuffers,
// the node's ChunkReadPool).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StorePool } from '../../src/util/store-pool.js';

test('a given store is handed out again for its exact capacity, and only once', () => {
  const p = new StorePool(1 << 20);
  const a = p.take(4096);
  assert.equal(a.reused, false);
  assert.equal(a.store.byteLength, 4096);
  assert.equal(p.give(a.store), true);
  assert.equal(p.give(a.store), false, 'a second give of a free store does nothing');
  assert.equal(p.freeCount, 1);
  assert.equal(p.take(8192).store === a.store, false, 'another capacity gets another store');
  const again = p.take(4096);
  assert.deepEqual(again, { store: a.store, reused: true });
  assert.notEqual(p.take(4096).store, a.store, 'two takers never share a store');
});

test('stores it did not make are never kept; free bytes are bounded', () => {
  const p = new StorePool(8192);
  assert.equal(p.give(new ArrayBuffer(4096)), false);
  assert.equal(p.isLent(new ArrayBuffer(4096)), false);
  const s = [p.take(4096), p.take(4096), p.take(4096)].map((t) => t.store);
  assert.deepEqual(s.map((x) => p.give(x)), [true, true, false]);
  assert.equal(p.freeBytes, 8192);
  p.clear();
  assert.equal(p.freeBytes, 0);
  assert.equal(p.take(4096).reused, false, 'clear drops the free stores');
});

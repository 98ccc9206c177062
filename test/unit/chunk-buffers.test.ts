// ChunkBuffers: the pool of chunk-sized buffers the read and write paths open and fill chunks into.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkBuffers } from '../../src/client/chunk-buffers.js';

const MiB = 1 << 20;

test('a given buffer comes back zeroed, whole, and is reused for a shorter chunk of the same store size', () => {
  const pool = new ChunkBuffers();
  const a = pool.take(4 * MiB);
  assert.equal(a.length, 4 * MiB);
  a.fill(0xab);
  pool.give(a);
  assert.equal(a.every((x) => x === 0), true, 'give zeroes the bytes (no plaintext lingers in a free buffer)');
  const b = pool.take(3 * MiB + 5);
  assert.equal(b.buffer, a.buffer, 'the 3 MiB chunk reuses the 4 MiB store');
  assert.equal(b.length, 3 * MiB + 5);
  assert.equal(Buffer.from(b.buffer).every((x) => x === 0), true, 'a taken buffer is all zeros');
  assert.deepEqual(pool.stats, { taken: 2, reused: 1 });
});

test('a second give of one buffer does not let two owners take the same memory', () => {
  const pool = new ChunkBuffers();
  const a = pool.take(MiB);
  pool.give(a);
  pool.give(a);
  const b = pool.take(MiB);
  const c = pool.take(MiB);
  assert.notEqual(b.buffer, c.buffer);
});

test('buffers the pool did not make are never zeroed or kept', () => {
  const pool = new ChunkBuffers();
  const foreign = Buffer.alloc(MiB, 7);
  pool.give(foreign);
  assert.equal(foreign[0], 7, 'a foreign buffer (it may share memory with others) is left alone');
  assert.notEqual(pool.take(MiB).buffer, foreign.buffer);
});

test('free memory is bounded: beyond the bound, given buffers are left to the GC', () => {
  const pool = new ChunkBuffers(2 * MiB);
  const bufs = [pool.take(MiB), pool.take(MiB), pool.take(MiB)];
  for (const b of bufs) pool.give(b);
  const again = [pool.take(MiB), pool.take(MiB), pool.take(MiB)];
  assert.equal(pool.stats.reused, 2);
  assert.equal(new Set(again.map((b) => b.buffer)).size, 3);
});

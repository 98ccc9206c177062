// Wrong bytes are the worst bug: whatever happens to the cache (evictions, wipes, corrupted or
// vanished files, a failing or hung disk), every byte a read returns is the chunk's own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { open, mkdir, rm, truncate, unlink } from 'node:fs/promises';
import { ChunkCache } from '../../src/cache/chunk-cache.js';
import { ManualClock } from '../../src/cache/clock.js';
import { cacheDirsRemovedAfter, chunk, config, sha256hex, waitFor } from './cache-fixtures.js';

const cacheDir = cacheDirsRemovedAfter();

test('read(): 16 concurrent readers of a cold chunk cause one canonical fetch; then L1, then (after L1 loss) L2', async () => {
  const dir = await cacheDir();
  const cache = await ChunkCache.open(config(dir), { tenant: 't1', statsIntervalMs: 0, pool: { scavenge: false } });
  const c = chunk(64 * 1024);
  let fetches = 0;
  const fetch = async () => { fetches++; await new Promise((r) => setTimeout(r, 20)); return Buffer.from(c.data); };
  const reads = await Promise.all(Array.from({ length: 16 }, () => cache.read(c.id, fetch)));
  assert.equal(fetches, 1);
  for (const r of reads) { assert.equal(r.source, 'canonical'); assert.ok(r.data.equals(c.data)); r.release(); }
  const l1 = await cache.read(c.id, fetch);
  assert.equal(l1.source, 'l1');
  assert.ok(l1.data.equals(c.data));
  l1.release();
  await waitFor(() => cache.stats().l2_entries === 1);
  assert.equal(cache.stats().l2_entries, 1);
  await assert.rejects(cache.read(chunk().id, async () => { throw new Error('canonical says no'); }), /canonical says no/);
  await cache.close();
});

test('never wrong bytes: random reads, evictions, wipes and on-disk corruption, every returned chunk hashes to its id', async () => {
  const dir = await cacheDir();
  const cache = await ChunkCache.open(config(dir, { l1: String(2 * 8192), l2: String(16 * (8192 + 4)) }), { tenant: 't1', statsIntervalMs: 0, pool: { scavenge: false, capacityRefreshMs: 0 } });
  const universe = Array.from({ length: 24 }, () => chunk(8192));
  const canonical = new Map(universe.map((c) => [c.id, c.data]));
  const rand = mulberry32(12345);
  const vandalRand = mulberry32(777);
  let served = 0;
  const sources = new Set<string>();
  const reader = async () => {
    for (let i = 0; i < 150; i++) {
      const c = universe[rand(universe.length)]!;
      const r = await cache.read(c.id, async () => Buffer.from(canonical.get(c.id)!));
      assert.equal(sha256hex(r.data), c.id, `wrong bytes from ${r.source}`);
      sources.add(r.source);
      served++;
      await new Promise((res) => setTimeout(res, 1)); // lets background L2 writes land
      assert.equal(sha256hex(r.data), c.id, `bytes changed under a reader (${r.source})`);
      r.release();
    }
  };
  const vandal = async () => {
    for (let i = 0; i < 60; i++) {
      const c = universe[vandalRand(universe.length)]!;
      const path = cache.pool!.l2.path(c.id);
      const action = vandalRand(12);
      try {
        if (action === 0) { const fh = await open(path, 'r+'); await fh.write(Buffer.from([vandalRand(256)]), 0, 1, vandalRand(8196)); await fh.close(); }
        else if (action === 1) await truncate(path, vandalRand(8196));
        else if (action === 2) await unlink(path);
        else if (action === 3) await cache.wipe('manual');
      } catch { /* the file was not there */ }
      await new Promise((res) => setTimeout(res, 2));
    }
  };
  await Promise.all([reader(), reader(), reader(), vandal()]);
  assert.equal(served, 450);
  const s = cache.stats();
  assert.ok(sources.has('l1') && sources.has('l2') && sources.has('canonical'), `only ${[...sources].join()}`);
  assert.ok(s.wipes > 0, JSON.stringify(s));
  await cache.close();
});

test('a failing L2 disk is taken down after consecutive I/O errors (reads go to canonical) and retried after the cool-off', async () => {
  const dir = await cacheDir();
  const clock = new ManualClock();
  const cache = await ChunkCache.open(config(dir, { l1: '1' }), { tenant: 't1', clock, statsIntervalMs: 0, pool: { scavenge: false }, disk: { maxConsecutiveErrors: 3, coolOffMs: 60_000 } });
  const cs = Array.from({ length: 4 }, () => chunk());
  for (const c of cs) await cache.put(c.id, c.data);
  for (const c of cs.slice(0, 3)) { const p = cache.pool!.l2.path(c.id); await unlink(p); await mkdir(p); } // EISDIR on read
  for (const c of cs.slice(0, 3)) assert.equal((await cache.get(c.id)).kind, 'miss');
  assert.equal(cache.diskState, 'down');
  assert.equal((await cache.get(cs[3]!.id)).kind, 'miss', 'a down disk is not read, even for a good entry');
  assert.equal((await cache.put(chunk().id, chunk().data)).kind, 'stored');
  for (const c of cs.slice(0, 3)) await rm(cache.pool!.l2.path(c.id), { recursive: true });
  clock.advance(60_000);
  assert.equal(cache.diskState, 'normal');
  const hit = await cache.get(cs[3]!.id);
  assert.ok(hit.kind === 'hit' && hit.data.equals(cs[3]!.data));
  if (hit.kind === 'hit') hit.release();
  await cache.close();
});

test('a hung L2 read (a FIFO nobody writes) is abandoned by the watchdog: the read is a miss and the disk goes down', async () => {
  const dir = await cacheDir();
  const clock = new ManualClock();
  const cache = await ChunkCache.open(config(dir, { l1: '1' }), { tenant: 't1', clock, statsIntervalMs: 0, pool: { scavenge: false }, disk: { watchdogMs: 5000 } });
  const c = chunk();
  await cache.put(c.id, c.data);
  const path = cache.pool!.l2.path(c.id);
  await unlink(path);
  execFileSync('mkfifo', ['-m', '600', path]);
  const pending = cache.get(c.id);
  await new Promise((r) => setTimeout(r, 50)); // the read is now blocked in open(2) on the FIFO
  clock.advance(5000);
  assert.equal((await pending).kind, 'miss');
  assert.equal(cache.diskState, 'down');
  const w = await open(path, 'w'); // unblock the thread-pool thread
  await w.close();
  await cache.close();
});

/** A seeded PRNG (mulberry32) whose low bits are as good as its high ones. */
function mulberry32(seed: number): (n: number) => number {
  let a = seed;
  return (n) => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

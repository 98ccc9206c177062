// The cache library against real files, real flocks and real child processes (no mount yet).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, readdir, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { ChunkCache } from '../../src/cache/chunk-cache.js';
import { registerCacheMetrics } from '../../src/cache/cache-stats.js';
import { newPoolId } from '../../src/cache/pool-id.js';
import { KisekiError } from '../../src/errors.js';
import { cacheDirsRemovedAfter, chunk, config, sha256hex, waitFor } from './cache-fixtures.js';

const cacheDir = cacheDirsRemovedAfter();

/** Opens a cache whose L1 is too small for any chunk, so every hit comes from L2. */
async function l2Only(dir: string, over: Parameters<typeof config>[1] = {}, tenant = 't1') {
  return ChunkCache.open(config(dir, { l1: '1', ...over }), { tenant, pool: { scavenge: false, capacityRefreshMs: 0 }, statsIntervalMs: 0 });
}

test('L2 layout: chunks/<2 hex>/<64 hex> = plaintext ‖ CRC32 LE, files 0600, directories 0700, pool.lock flocked', async () => {
  const dir = await cacheDir();
  const cache = await ChunkCache.open(config(dir), { tenant: 't1', pool: { scavenge: false } });
  const c = chunk(10_000);
  const put = await cache.put(c.id, c.data);
  assert.deepEqual(put, { kind: 'stored', l1: true, l2: 'stored' });
  const pdir = join(dir, 't1', cache.pool!.id);
  assert.match(cache.pool!.id, /^[0-9a-f]{32}$/);
  const file = join(pdir, 'chunks', c.id.slice(0, 2), c.id);
  const bytes = await readFile(file);
  assert.equal(bytes.length, c.data.length + 4);
  assert.ok(bytes.subarray(0, c.data.length).equals(c.data));
  assert.equal(bytes.readUInt32LE(c.data.length), crc32(c.data));
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  for (const d of [join(dir, 't1'), pdir, join(pdir, 'chunks'), join(pdir, 'chunks', c.id.slice(0, 2)), join(pdir, 'staging')]) {
    assert.equal((await stat(d)).mode & 0o777, 0o700, d);
  }
  assert.equal((await stat(join(pdir, 'control.sock'))).mode & 0o777, 0o600);
  // Another process cannot take the pool lock while we live.
  const held = spawnSync('flock', ['-n', join(pdir, 'pool.lock'), 'true']);
  assert.equal(held.status, 1, 'flock -n on a live pool.lock must fail');
  const s = cache.stats();
  assert.equal(s.l2_bytes, c.data.length + 4, 'usage counts the trailer');
  await cache.close();
  assert.equal(existsSync(pdir), false, 'clean close removes the pool');
  assert.deepEqual(await readdir(join(dir, 't1')), []);
});

test('I-CC13: a CRC mismatch in an L2 file → miss, the file is deleted, the errors counter counts it', async () => {
  const dir = await cacheDir();
  const cache = await l2Only(dir);
  const c = chunk(4096);
  await cache.put(c.id, c.data);
  const hit = await cache.get(c.id);
  assert.equal(hit.kind === 'hit' && hit.tier, 'l2');
  if (hit.kind === 'hit') { assert.ok(hit.data.equals(c.data)); hit.release(); }
  const file = cache.pool!.l2.path(c.id);
  const fh = await open(file, 'r+');
  await fh.write(Buffer.from([0xff ^ c.data[100]!]), 0, 1, 100); // one flipped byte
  await fh.close();
  const r = await cache.get(c.id);
  assert.equal(r.kind, 'miss');
  assert.equal(existsSync(file), false, 'corrupt entry deleted');
  const s = cache.stats();
  assert.equal(s.errors, 1);
  assert.equal(s.misses, 1);
  assert.equal(s.l2_bytes, 0, 'usage no longer counts the deleted entry');
  assert.equal((await cache.get(c.id)).kind, 'miss', 'never retried from L2');
  assert.equal(cache.stats().errors, 1);
  await cache.put(c.id, c.data);
  const again = await cache.get(c.id);
  assert.equal(again.kind, 'hit', 're-cached after the canonical read');
  if (again.kind === 'hit') again.release();
  await cache.close();
});

test('I-CC7: a short file, an unreadable entry or a vanished file are misses served from canonical, never exceptions', async () => {
  const dir = await cacheDir();
  const cache = await l2Only(dir);
  const [a, b, c] = [chunk(), chunk(), chunk()];
  for (const x of [a, b, c]) await cache.put(x.id, x.data);
  await truncate(cache.pool!.l2.path(a.id), 2);
  const pb = cache.pool!.l2.path(b.id);
  await unlink(pb);
  await mkdir(pb); // a directory where the file was: EISDIR on read
  await unlink(cache.pool!.l2.path(c.id));
  for (const x of [a, b, c]) assert.equal((await cache.get(x.id)).kind, 'miss');
  assert.equal(existsSync(cache.pool!.l2.path(a.id)), false);
  assert.equal(cache.stats().errors, 3);
  assert.equal((await cache.get('not-a-chunk-id')).kind, 'miss');
  await cache.close();
});

test('I-CC2: an evicted or wiped L2 file is overwritten with zeros before it is unlinked (seen through an fd held open)', async () => {
  const dir = await cacheDir();
  const cache = await l2Only(dir, { l2: String(3 * (4096 + 4)) });
  const cs = [chunk(), chunk(), chunk()];
  for (const x of cs) await cache.put(x.id, x.data);
  const held = await open(cache.pool!.l2.path(cs[0]!.id), 'r');
  const wipedFd = await open(cache.pool!.l2.path(cs[1]!.id), 'r');
  const d = chunk();
  assert.equal((await cache.put(d.id, d.data)).kind, 'stored'); // evicts cs[0], the least recently used
  assert.equal(existsSync(cache.pool!.l2.path(cs[0]!.id)), false);
  const after = Buffer.alloc(4100, 0xaa);
  const { bytesRead } = await held.read(after, 0, after.length, 0);
  assert.equal(bytesRead, 4100);
  assert.ok(after.every((x) => x === 0), 'evicted file content is zeros');
  await cache.wipe('manual');
  const w = Buffer.alloc(4100, 0xaa);
  await wipedFd.read(w, 0, w.length, 0);
  assert.ok(w.every((x) => x === 0), 'wiped file content is zeros');
  assert.equal(cache.stats().l2_entries, 0);
  assert.equal(cache.stats().wipes, 1);
  await held.close();
  await wipedFd.close();
  await cache.close();
});

test('I-CC2: close() zero-overwrites every file of the pool before unlinking it', async () => {
  const dir = await cacheDir();
  const cache = await l2Only(dir);
  const c = chunk(70_000);
  await cache.put(c.id, c.data);
  const fd = await open(cache.pool!.l2.path(c.id), 'r');
  await cache.close();
  const b = Buffer.alloc(70_004, 1);
  await fd.read(b, 0, b.length, 0);
  await fd.close();
  assert.ok(b.every((x) => x === 0));
});

test('I-CC1: only verified plaintext is cached: a content-address mismatch is refused, and a fetch older than a wipe is not cached', async () => {
  const dir = await cacheDir();
  const cache = await ChunkCache.open(config(dir), { tenant: 't1', pool: { scavenge: false }, statsIntervalMs: 0, contentAddress: sha256hex });
  const c = chunk();
  const wrong = chunk();
  assert.equal((await cache.put(wrong.id, c.data)).kind, 'skipped');
  assert.equal((await cache.get(wrong.id)).kind, 'miss');
  await assert.rejects(cache.put(wrong.id, c.data, { pinned: true }), (e) => KisekiError.is(e, 'Integrity'));
  const epoch = cache.epoch(); // the client starts a canonical fetch…
  await cache.wipe('manual'); // …and a wipe happens meanwhile
  assert.equal((await cache.put(c.id, c.data, { epoch })).kind, 'skipped');
  assert.equal((await cache.get(c.id)).kind, 'miss');
  assert.equal((await cache.put(c.id, c.data, { epoch: cache.epoch() })).kind, 'stored');
  const hit = await cache.get(c.id);
  assert.ok(hit.kind === 'hit' && hit.data.equals(c.data));
  if (hit.kind === 'hit') hit.release();
  const caller = Buffer.from(c.data);
  await cache.put(chunk().id, caller); // rejected by the guard, but the caller's buffer must be untouched either way
  await cache.wipe('manual');
  assert.ok(caller.equals(c.data), 'the cache copies; it never zeroes the caller\'s buffer');
  await cache.close();
});

test('I-CC12: after a crypto-shred wipe nothing is served or cached again, and L1 pages held by readers are zeroed on release', async () => {
  const dir = await cacheDir();
  const cache = await ChunkCache.open(config(dir), { tenant: 't1', pool: { scavenge: false }, statsIntervalMs: 0 });
  const c = chunk();
  await cache.put(c.id, c.data);
  const reader = await cache.get(c.id);
  assert.ok(reader.kind === 'hit' && reader.tier === 'l1');
  const l2file = cache.pool!.l2.path(c.id);
  const fd = await open(l2file, 'r');
  await cache.wipe('crypto-shred');
  assert.equal(cache.state, 'shredded');
  assert.equal(existsSync(l2file), false);
  const z = Buffer.alloc(4100, 1);
  await fd.read(z, 0, z.length, 0);
  await fd.close();
  assert.ok(z.every((x) => x === 0), 'L2 plaintext zeroed');
  if (reader.kind === 'hit') {
    const view = reader.data;
    reader.release();
    assert.ok(view.every((x) => x === 0), 'L1 plaintext zeroed on the reader\'s release');
  }
  assert.equal((await cache.get(c.id)).kind, 'bypass');
  assert.equal((await cache.put(c.id, c.data)).kind, 'skipped');
  assert.equal(cache.stats().l1_bytes + cache.stats().l2_bytes, 0);
  await cache.close();
});

test('I-CC12: the key-health watcher started by the cache wipes L1 and L2 when the KEK is reported destroyed', async () => {
  const { ManualClock } = await import('../../src/cache/clock.js');
  const clock = new ManualClock();
  const dir = await cacheDir();
  const cache = await ChunkCache.open(config(dir), { tenant: 't1', pool: { scavenge: false }, statsIntervalMs: 0, clock });
  let health: 'healthy' | 'destroyed' = 'healthy';
  const triggers = cache.startWipeTriggers(async () => health);
  const c = chunk();
  await cache.put(c.id, c.data);
  health = 'destroyed';
  clock.advance(cache.config.keyHealthIntervalMs);
  await waitFor(() => cache.stats().l2_entries === 0 && !existsSync(cache.pool!.l2.path(c.id)));
  assert.equal(cache.state, 'shredded');
  assert.equal(cache.stats().l2_entries, 0);
  assert.equal(existsSync(cache.pool!.l2.path(c.id)), false);
  triggers.recordSuccess();
  await cache.close();
});

test('I-CC6: the disconnect watcher started by the cache wipes everything after max_disconnect_seconds without success', async () => {
  const { ManualClock } = await import('../../src/cache/clock.js');
  const clock = new ManualClock();
  const dir = await cacheDir();
  const cache = await ChunkCache.open(config(dir, { maxDisconnectSeconds: 300 }), { tenant: 't1', pool: { scavenge: false }, statsIntervalMs: 0, clock });
  const triggers = cache.startWipeTriggers(null);
  const c = chunk();
  await cache.put(c.id, c.data);
  clock.advance(200_000);
  triggers.recordSuccess();
  clock.advance(299_000);
  const hit = await cache.get(c.id);
  assert.equal(hit.kind, 'hit', 'a 299 s outage keeps the cache');
  if (hit.kind === 'hit') hit.release();
  clock.advance(2_000);
  await waitFor(() => cache.stats().wipes === 1 && !existsSync(cache.pool!.l2.path(c.id)));
  assert.equal(cache.stats().wipes, 1);
  assert.equal(cache.state, 'active', 'after a disconnect wipe the cache refills from canonical');
  assert.equal((await cache.get(c.id)).kind, 'miss');
  assert.equal(existsSync(cache.pool!.l2.path(c.id)), false);
  await cache.close();
});

test('I-CC11 (cache side): pinned chunks stay until released: over capacity an explicit pin fails with CacheCapacityExceeded and nothing pinned is evicted', async () => {
  const dir = await cacheDir();
  const cache = await l2Only(dir, { mode: 'pinned', l2: String(3 * (4096 + 4)) });
  const cs = [chunk(), chunk(), chunk()];
  for (const x of cs) assert.equal((await cache.put(x.id, x.data, { pinned: true })).kind, 'stored');
  const extra = chunk();
  await assert.rejects(cache.put(extra.id, extra.data, { pinned: true }), (e) => KisekiError.is(e, 'CacheCapacityExceeded') && /cache_l2_max/.test(e.message));
  const readPopulated = await cache.put(extra.id, extra.data); // a read in pinned mode: best effort, no throw
  assert.equal(readPopulated.kind === 'stored' && readPopulated.l2, 'skipped');
  for (const x of cs) {
    const r = await cache.get(x.id);
    assert.ok(r.kind === 'hit' && r.data.equals(x.data), 'every pinned chunk survives');
    if (r.kind === 'hit') r.release();
  }
  assert.equal(cache.stats().l2_evictions, 0);
  cache.unpin(cs[0]!.id);
  assert.equal((await cache.put(extra.id, extra.data, { pinned: true })).kind, 'stored', 'a released chunk may be evicted for a new pin');
  assert.equal(cache.pool!.l2.has(cs[0]!.id), false);
  await cache.close();
});

test('organic eviction in L2 follows access counts: the chunk read twice outlives two colder ones', async () => {
  const dir = await cacheDir();
  const cache = await l2Only(dir, { l2: String(3 * (4096 + 4)) });
  const [a, b, c, d, e] = [chunk(), chunk(), chunk(), chunk(), chunk()];
  for (const x of [a, b, c]) await cache.put(x.id, x.data);
  for (let i = 0; i < 2; i++) { const r = await cache.get(a.id); if (r.kind === 'hit') r.release(); }
  await cache.put(d.id, d.data); // round 1: a spends a credit, b evicted
  await cache.put(e.id, e.data); // c evicted (a is MRU with one credit)
  const held = (x: { id: string }) => cache.pool!.l2.has(x.id);
  assert.deepEqual([a, b, c, d, e].map(held), [true, false, false, true, true]);
  assert.equal(cache.stats().l2_evictions, 2);
  await cache.close();
});

test('bypass mode: no L1, no L2, no pool on disk; gets count as bypasses', async () => {
  const dir = await cacheDir();
  const root = join(dir, 'never-created');
  const cache = await ChunkCache.open(config(root, { mode: 'bypass' }), { tenant: 't1' });
  const c = chunk();
  assert.equal((await cache.put(c.id, c.data)).kind, 'bypass');
  assert.equal((await cache.get(c.id)).kind, 'bypass');
  assert.equal(cache.pool, null);
  assert.equal(existsSync(root), false, 'nothing on disk at all');
  assert.equal(cache.stats().bypasses, 1);
  assert.equal(cache.createMetaCache<string, number>().ttlMs, 0);
  await cache.close();
});

test('node capacity: max_node_cache_bytes is summed over every pool of every tenant before each insert', async () => {
  const dir = await cacheDir();
  const file = 4096 + 4;
  const nodeMax = 6 * file;
  const a = await l2Only(dir, { maxNodeCacheBytes: nodeMax }, 'tenantA');
  for (let i = 0; i < 3; i++) { const c = chunk(); await a.put(c.id, c.data, { pinned: true }); }
  await a.pool!.publishStats(); // what other processes read (stats.json)
  // A crashed pool of a third tenant without stats.json: counted by walking its chunks.
  const orphan = join(dir, 'tenantC', newPoolId(), 'chunks', 'ab');
  await mkdir(orphan, { recursive: true });
  await writeFile(join(orphan, `ab${'0'.repeat(62)}`), Buffer.alloc(file));
  const b = await l2Only(dir, { maxNodeCacheBytes: nodeMax }, 'tenantB');
  const b1 = chunk();
  assert.equal((await b.put(b1.id, b1.data, { pinned: true })).kind, 'stored'); // 3 + 1 + 1 = 5
  const b2 = chunk();
  assert.equal((await b.put(b2.id, b2.data, { pinned: true })).kind, 'stored'); // 6 = limit
  const b3 = chunk();
  await assert.rejects(b.put(b3.id, b3.data, { pinned: true }), (e) => KisekiError.is(e, 'CacheCapacityExceeded') && /max_node_cache_bytes/.test(e.message));
  const organic = await b.put(b3.id, b3.data);
  assert.equal(organic.kind === 'stored' && organic.l2, 'skipped', 'organic insert stops caching, it never fails');
  b.unpin(b1.id);
  assert.equal((await b.put(b3.id, b3.data)).kind, 'stored');
  assert.equal(b.pool!.l2.has(b1.id), false, 'B made room by evicting its own organic entry');
  assert.equal(a.stats().l2_entries, 3, 'another pool is never touched');
  await a.close();
  await b.close();
});

test('stats are exported as cache_<field> Prometheus metrics', async () => {
  const dir = await cacheDir();
  const cache = await ChunkCache.open(config(dir), { tenant: 't1', pool: { scavenge: false }, statsIntervalMs: 0 });
  const { registry, latency } = registerCacheMetrics(() => cache.stats());
  const c = chunk();
  await cache.put(c.id, c.data);
  const r = await cache.get(c.id);
  if (r.kind === 'hit') r.release();
  await cache.get(chunk().id);
  const meta = cache.createMetaCache<string, string[]>();
  meta.get('/x');
  cache.setStaged(2, 12345);
  latency.l2Read(120);
  const text = await registry.metrics();
  for (const line of ['cache_l1_hits 1', 'cache_misses 1', 'cache_meta_misses 1', 'cache_l1_bytes 4096', 'cache_l2_bytes 4100', 'cache_staged_datasets 2', 'cache_staged_bytes 12345', 'cache_wipes 0', 'cache_l2_read_latency_us_count 1']) {
    assert.ok(text.split('\n').includes(line), `missing "${line}"`);
  }
  await cache.close();
});

test('concurrent puts of one chunk write it once, and a pin that arrives during an organic write still pins it', async () => {
  const dir = await cacheDir();
  const cache = await l2Only(dir, { l2: String(2 * (4096 + 4)) });
  const c = chunk();
  const [organic, pinned] = await Promise.all([cache.put(c.id, c.data), cache.put(c.id, c.data, { pinned: true })]);
  assert.deepEqual([organic, pinned], [{ kind: 'stored', l1: false, l2: 'stored' }, { kind: 'stored', l1: false, l2: 'exists' }]);
  for (let i = 0; i < 3; i++) { const x = chunk(); await cache.put(x.id, x.data); }
  assert.equal(cache.pool!.l2.has(c.id), true, 'the pinned chunk was never evicted');
  assert.equal(cache.pool!.l2.pinnedBytes(), 4100);
  assert.equal(cache.stats().l2_entries, 2);
  await cache.close();
});

test('I-CC6: an answering key manager keeps the session connected; an unreachable one falls to the disconnect timer', async () => {
  const { ManualClock } = await import('../../src/cache/clock.js');
  const clock = new ManualClock();
  const dir = await cacheDir();
  const cache = await ChunkCache.open(config(dir, { maxDisconnectSeconds: 300, keyHealthIntervalMs: 30_000 }), { tenant: 't1', pool: { scavenge: false }, statsIntervalMs: 0, clock });
  let health: 'healthy' | 'unreachable' = 'healthy';
  cache.startWipeTriggers(async () => health);
  const c = chunk();
  await cache.put(c.id, c.data);
  const tick = async () => { clock.advance(30_000); await new Promise((r) => setImmediate(r)); };
  for (let i = 0; i < 20; i++) await tick(); // 600 s with only key-health answers
  assert.equal(cache.stats().wipes, 0);
  health = 'unreachable';
  for (let i = 0; i < 9; i++) await tick(); // 270 s unreachable
  assert.equal(cache.stats().wipes, 0);
  for (let i = 0; i < 2; i++) await tick(); // 330 s
  await waitFor(() => cache.stats().wipes === 1 && !existsSync(cache.pool!.l2.path(c.id)));
  assert.equal(cache.stats().wipes, 1);
  assert.equal(cache.state, 'active', 'unreachable is not a crypto-shred');
  await cache.close();
});

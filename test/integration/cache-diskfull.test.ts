// The 90 % disk-use backstop and the 80 % automatic node limit on a real, small tmpfs (needs root).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ChunkCache } from '../../src/cache/chunk-cache.js';
import { fsUsage } from '../../src/cache/capacity.js';
import { KisekiError } from '../../src/errors.js';
import { chunk, config, tempDir } from './cache-fixtures.js';

let mnt: { path: string; cleanup(): Promise<void> } | null = null;
let mounted = false;

before(async () => {
  mnt = await tempDir('kcache-tmpfs-');
  mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0700', 'kiseki-cache-test', mnt.path]).status === 0;
});
after(async () => {
  if (mounted) spawnSync('umount', [mnt!.path]);
  await mnt?.cleanup();
});

test('a full cache disk never fails a read: past 90 % use organic inserts stop, pins fail with CacheCapacityExceeded', async (t) => {
  if (!mounted) { t.skip('mounting a tmpfs needs root (CAP_SYS_ADMIN)'); return; }
  const dir = join(mnt!.path, 'cache');
  const cache = await ChunkCache.open(config(dir, { l1: '1' }), { tenant: 't1', pool: { scavenge: false, capacityRefreshMs: 0 }, statsIntervalMs: 0 });
  const kept = chunk(256 * 1024);
  assert.equal((await cache.put(kept.id, kept.data)).kind, 'stored');
  const fs = await fsUsage(mnt!.path);
  // Fill the filesystem (outside the cache) to just under 90 %.
  await writeFile(join(mnt!.path, 'filler'), Buffer.alloc(Math.floor(0.9 * fs.totalBytes - fs.usedBytes - 64 * 1024)));
  const c = chunk(256 * 1024);
  const r = await cache.put(c.id, c.data);
  assert.equal(r.kind === 'stored' && r.l2, 'skipped', 'organic: caching stops');
  await assert.rejects(cache.put(c.id, c.data, { pinned: true }), (e) => KisekiError.is(e, 'CacheCapacityExceeded') && /90 %/.test(e.message));
  const hit = await cache.get(kept.id);
  assert.ok(hit.kind === 'hit' && hit.data.equals(kept.data), 'what is cached is still served');
  if (hit.kind === 'hit') hit.release();
  assert.equal((await cache.get(c.id)).kind, 'miss', 'the rest is a plain miss (read from canonical)');
  assert.equal(cache.stats().errors, 0);
  await cache.close();
});

test('max_node_cache_bytes 0 means 80 % of the cache filesystem: organic entries are evicted to stay under it', async (t) => {
  if (!mounted) { t.skip('mounting a tmpfs needs root (CAP_SYS_ADMIN)'); return; }
  spawnSync('rm', ['-f', join(mnt!.path, 'filler')]);
  const dir = join(mnt!.path, 'cache2');
  const cache = await ChunkCache.open(config(dir, { l1: '1', maxNodeCacheBytes: 0 }), { tenant: 't1', pool: { scavenge: false, capacityRefreshMs: 0 }, statsIntervalMs: 0 });
  const total = (await fsUsage(mnt!.path)).totalBytes;
  for (let i = 0; i < 40; i++) { const c = chunk(256 * 1024); await cache.put(c.id, c.data); } // 10 MiB offered to an 8 MiB disk
  const s = cache.stats();
  assert.ok(s.l2_bytes <= 0.8 * total, `${s.l2_bytes} > 80 % of ${total}`);
  assert.ok(s.l2_evictions > 0);
  assert.ok(s.l2_bytes >= 0.8 * total - 2 * (256 * 1024 + 4), 'it fills up to the limit');
  await cache.close();
});

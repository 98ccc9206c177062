// Pool lifecycle across real processes: scavenging of kill -9'ed owners, never touching live pools,
// clean-exit wipes, adoption (KISEKI_CACHE_POOL_ID) and the staging handoff window.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open, readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ChunkCache } from '../../src/cache/chunk-cache.js';
import { CachePool } from '../../src/cache/pool-lifecycle.js';
import { newPoolId } from '../../src/cache/pool-id.js';
import { scrubCacheDir } from '../../src/cache/scrub.js';
import { KisekiError } from '../../src/errors.js';
import { cacheDirsRemovedAfter, config, exited, spawnPoolOwner } from './cache-fixtures.js';

const cacheDir = cacheDirsRemovedAfter();

const chunkFile = (dir: string, id: string) => join(dir, 'chunks', id.slice(0, 2), id);

test('I-CC8: a new pool scavenges the pool of a kill -9ed owner (zeroed, deleted) and never touches a live one', async () => {
  const dir = await cacheDir();
  const live = await spawnPoolOwner({ cacheDir: dir, tenant: 't1', chunks: 3 });
  const dead = await spawnPoolOwner({ cacheDir: dir, tenant: 't1', chunks: 3 });
  const otherTenant = await spawnPoolOwner({ cacheDir: dir, tenant: 't2', chunks: 1 });
  const fd = await open(chunkFile(dead.info.dir, dead.info.chunkIds[0]!), 'r');
  dead.proc.kill('SIGKILL');
  await exited(dead.proc);
  otherTenant.proc.kill('SIGKILL');
  await exited(otherTenant.proc);
  assert.equal(existsSync(dead.info.dir), true, 'a crash leaves the pool behind');

  const cache = await ChunkCache.open(config(dir), { tenant: 't1', statsIntervalMs: 0 });
  const report = await cache.scavenged;
  assert.ok(report !== null);
  assert.deepEqual(report.removed.map((p) => p.path), [dead.info.dir]);
  assert.equal(report.removed[0]!.reason, 'lock-free');
  assert.ok(report.removed[0]!.files >= 3);
  assert.equal(existsSync(dead.info.dir), false);
  const b = Buffer.alloc(4100, 7);
  await fd.read(b, 0, b.length, 0);
  await fd.close();
  assert.ok(b.every((x) => x === 0), 'the orphan\'s plaintext was zero-overwritten');
  for (const id of live.info.chunkIds) assert.equal(existsSync(chunkFile(live.info.dir, id)), true, 'live pool intact');
  assert.ok(report.live.some((l) => l.path === live.info.dir && l.why === 'locked'));
  assert.equal(existsSync(otherTenant.info.dir), true, 'scavenging is per tenant; another tenant\'s orphan waits for the scrubber');
  // The surviving owner still works and exits cleanly, wiping its own pool.
  live.proc.kill('SIGTERM');
  assert.deepEqual(await exited(live.proc), { code: 0, signal: null });
  assert.equal(existsSync(live.info.dir), false, 'clean exit wipes the own pool');
  await cache.close();
  assert.deepEqual((await readdir(join(dir, 't1'))).sort(), []);
});

test('I-CC8: scrubbing while pools are created and closed never removes a live pool', async () => {
  const dir = await cacheDir();
  let stop = false;
  let passes = 0;
  const scrubber = (async () => {
    while (!stop) {
      const r = await scrubCacheDir(dir, { graceMs: 60_000 });
      assert.deepEqual(r.removed, [], `scrubber removed ${JSON.stringify(r.removed)}`);
      assert.deepEqual(r.errors, []);
      passes++;
    }
  })();
  for (let i = 0; i < 25; i++) {
    const pool = await CachePool.open({ cacheDir: dir, tenant: 't1', l2MaxBytes: 1 << 20, maxNodeCacheBytes: 0, scavenge: false });
    await writeFile(join(pool.dir, 'staging', 'x.manifest'), '{}');
    await new Promise((r) => setImmediate(r));
    assert.equal(existsSync(join(pool.dir, 'staging', 'x.manifest')), true);
    await pool.close();
  }
  stop = true;
  await scrubber;
  assert.ok(passes > 0);
});

test('I-CC8: the scrubber removes only pool-shaped directories; half-made ones only after the grace period', async () => {
  const dir = await cacheDir();
  const t = join(dir, 't1');
  await mkdir(join(t, 'not-a-pool'), { recursive: true });
  await writeFile(join(t, 'not-a-pool', 'precious'), 'keep me');
  await writeFile(join(t, 'staging_pool_id'), 'x');
  const young = join(t, `.new-${newPoolId()}`);
  const old = join(t, `.new-${newPoolId()}`);
  const lockless = join(t, newPoolId());
  for (const d of [young, old, lockless]) await mkdir(join(d, 'chunks'), { recursive: true });
  await utimes(old, new Date(Date.now() - 120_000), new Date(Date.now() - 120_000));
  const dry = await scrubCacheDir(dir, { dryRun: true });
  assert.deepEqual(dry.removed.map((p) => p.path).sort(), [lockless, old].sort());
  assert.equal(existsSync(old) && existsSync(lockless), true, 'dry run removes nothing');
  const real = await scrubCacheDir(dir);
  assert.deepEqual(real.removed.map((p) => p.path).sort(), [lockless, old].sort());
  assert.equal(existsSync(old) || existsSync(lockless), false);
  assert.equal(existsSync(young), true);
  assert.ok(real.live.some((l) => l.path === young && l.why === 'young'));
  assert.equal(existsSync(join(t, 'not-a-pool', 'precious')), true);
  assert.equal(existsSync(join(t, 'staging_pool_id')), true);
});

test('I-CC8: KISEKI_CACHE_POOL_ID adopts a handed-over pool: the scrubber spares it during the handoff, the adopter serves its chunks', async () => {
  const dir = await cacheDir();
  const owner = await spawnPoolOwner({ cacheDir: dir, tenant: 't1', mode: 'pinned', chunks: 4, chunkBytes: 10_000 });
  owner.proc.stdin!.write('handoff\n');
  assert.equal(await owner.nextLine(), 'handed-off');
  await exited(owner.proc);
  assert.equal(spawnSync('flock', ['-n', join(owner.info.dir, 'pool.lock'), 'true']).status, 0, 'the lock is free during the handoff');
  const r = await scrubCacheDir(dir);
  assert.deepEqual(r.removed, []);
  assert.ok(r.live.some((l) => l.why === 'handoff-pending'));
  const scavenger = await ChunkCache.open(config(dir), { tenant: 't1', statsIntervalMs: 0 });
  assert.deepEqual((await scavenger.scavenged)!.removed, [], 'start-up scavenging spares it too');
  await scavenger.close();

  const cfg = config(dir, { mode: 'pinned', poolId: owner.info.poolId });
  const adopter = await ChunkCache.open(cfg, { tenant: 't1', statsIntervalMs: 0 });
  assert.equal(adopter.pool!.id, owner.info.poolId);
  assert.equal(adopter.pool!.adopted, true);
  assert.equal(existsSync(join(owner.info.dir, 'handoff')), false, 'the handoff marker is consumed');
  assert.equal(spawnSync('flock', ['-n', join(owner.info.dir, 'pool.lock'), 'true']).status, 1, 'the adopter holds the lock');
  for (const id of owner.info.chunkIds) {
    const hit = await adopter.get(id);
    assert.ok(hit.kind === 'hit' && hit.tier === 'l2' && hit.data.length === 10_000);
    if (hit.kind === 'hit') hit.release();
  }
  assert.equal(adopter.stats().l2_entries, 4);
  await adopter.close();
  assert.equal(existsSync(owner.info.dir), false);
});

test('adopting a pool that is still locked times out with Unavailable; an unknown id is NotFound', async () => {
  const dir = await cacheDir();
  const owner = await spawnPoolOwner({ cacheDir: dir, tenant: 't1', chunks: 1 });
  await assert.rejects(
    ChunkCache.open(config(dir, { poolId: owner.info.poolId }), { tenant: 't1', statsIntervalMs: 0, pool: { adoptTimeoutMs: 300, scavenge: false } }),
    (e) => KisekiError.is(e, 'Unavailable') && /still held/.test(e.message),
  );
  await assert.rejects(
    ChunkCache.open(config(dir, { poolId: newPoolId() }), { tenant: 't1', statsIntervalMs: 0, pool: { scavenge: false } }),
    (e) => KisekiError.is(e, 'NotFound'),
  );
  owner.proc.kill('SIGTERM');
  await exited(owner.proc);
});

test('a cache directory owned by another user is refused with a clear error', async () => {
  const dir = await cacheDir();
  const foreign = join(dir, 'foreign');
  await mkdir(foreign);
  const { chown } = await import('node:fs/promises');
  await chown(foreign, 4242, 4242);
  await assert.rejects(
    ChunkCache.open(config(foreign), { tenant: 't1', statsIntervalMs: 0 }),
    (e) => KisekiError.is(e, 'PermissionDenied') && /uid 4242/.test(e.message),
  );
});

// `stage --daemon` and the pool handoff (ADR 0090) against a real node, with a scrubber racing the
// whole time; and pinned capacity (CacheCapacityExceeded, nothing evicted).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { scrubCacheDir } from '../../src/cache/scrub.js';
import { readManifest } from '../../src/cache/staging-manifest.js';
import { fsDepsFor } from '../../src/client/mount-session.js';
import { canonicalReader, Stager } from '../../src/client/stager.js';
import { alive, cli, startStageHarness, sumOf, type StageHarness } from './stage-fixtures.js';

const MiB = 1 << 20;
let h: StageHarness;
let sums: Map<string, string>;

before(async () => {
  h = await startStageHarness();
  sums = await h.write({ '/train/p0.bin': 3 * MiB, '/train/p1.bin': 2 * MiB + 5, '/small/s.bin': 2 * MiB, '/large/l.bin': 6 * MiB });
});
after(async () => { await h?.close(); });

function tenantOf(poolId: string): string {
  return readdirSync(h.cacheDir).find((t) => existsSync(join(h.cacheDir, t, poolId)))!;
}

/** The pid of whoever holds the pool's control socket: the daemon's stats say so. */
async function holderPid(poolId: string): Promise<number> {
  const r = await cli(['cache', '--stats', '--json', '--pool', poolId], h.env());
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { pid: number }[])[0]!.pid;
}

test('I-CC8 stage --daemon prints only the pool id, holds the pool, and hands it to an adopter with no orphan window', async () => {
  // A scrubber every 50 ms for the whole test; it must never remove the staged pool. (Default grace:
  // transitional .new- directories of pools being created are spared, as in production.)
  let scrubbing = true;
  const removed: string[] = [];
  let rounds = 0;
  const scrubber = (async () => {
    while (scrubbing) {
      const r = await scrubCacheDir(h.cacheDir);
      for (const p of r.removed) removed.push(p.name);
      rounds++;
      await sleep(50);
    }
  })();
  try {
    const r = await cli(['stage', '--dataset', '/train', '--daemon', '--timeout', '60'], h.env());
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^[0-9a-f]{32}\n$/, 'stdout is exactly the pool id');
    const poolId = r.stdout.trim();
    const dir = join(h.cacheDir, tenantOf(poolId), poolId);
    assert.ok(existsSync(join(dir, 'staging', '_train.manifest')), 'staged before the foreground exits');
    const daemon = await holderPid(poolId);
    assert.ok(alive(daemon));
    await sleep(300); // several scrub rounds against the held pool
    assert.ok(existsSync(dir));

    // The workload: a client with KISEKI_CACHE_POOL_ID adopts the pool; its reads are L2 hits.
    const ms = await h.open({ KISEKI_CACHE_POOL_ID: poolId });
    try {
      assert.equal(ms.cache.pool?.id, poolId);
      assert.equal(ms.cache.pool?.adopted, true);
      for (const [path, sum] of sums) if (path.startsWith('/train/')) assert.equal(await sumOf(ms.fs, path), sum, path);
      const stats = ms.cache.stats();
      assert.equal(stats.misses, 0, JSON.stringify(stats));
      assert.deepEqual([stats.staged_datasets, stats.staged_bytes], [1, 5 * MiB + 5], 'the adopter reports the staged dataset');
      assert.ok(stats.l2_hits >= 5, JSON.stringify(stats));
      assert.equal(existsSync(join(dir, 'handoff')), false, 'the adopter deletes the marker once it holds the lock');
      for (let i = 0; i < 100 && alive(daemon); i++) await sleep(50);
      assert.equal(alive(daemon), false, 'the daemon exits once the pool is adopted');
      await sleep(200);
      assert.ok(existsSync(dir), 'the adopted pool is live');
    } finally {
      await ms.close();
    }
    assert.equal(existsSync(dir), false, 'the adopter removes the pool when it ends');
    assert.ok(!removed.includes(poolId), `the scrubber removed the staged pool (rounds ${rounds})`);
    assert.ok(rounds >= 5, `scrubber rounds: ${rounds}`);
  } finally {
    scrubbing = false;
    await scrubber;
  }
});

test('an unadopted daemon: SIGTERM or --timeout removes its pool; a killed one leaves an orphan the scrubber zeroes and removes', async () => {
  const r = await cli(['stage', '--dataset', '/small', '--daemon'], h.env());
  assert.equal(r.code, 0, r.stderr);
  const poolId = r.stdout.trim();
  const dir = join(h.cacheDir, tenantOf(poolId), poolId);
  const pid = await holderPid(poolId);
  const live = await scrubCacheDir(h.cacheDir);
  assert.ok(live.live.some((l) => l.path === dir && l.why === 'locked'), 'a held pool is live');
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && alive(pid); i++) await sleep(50);
  assert.equal(alive(pid), false);
  assert.equal(existsSync(dir), false, 'a stopped daemon removes its pool');

  const r2 = await cli(['stage', '--dataset', '/small', '--daemon'], h.env());
  const pool2 = r2.stdout.trim();
  const dir2 = join(h.cacheDir, tenantOf(pool2), pool2);
  const pid2 = await holderPid(pool2);
  process.kill(pid2, 'SIGKILL');
  for (let i = 0; i < 100 && alive(pid2); i++) await sleep(50);
  assert.ok(existsSync(dir2), 'a killed daemon leaves its pool behind');
  const scrub = await scrubCacheDir(h.cacheDir);
  const gone = scrub.removed.find((p) => p.name === pool2);
  assert.ok(gone, JSON.stringify(scrub));
  assert.equal(gone.reason, 'lock-free');
  assert.ok(gone.bytes >= 2 * MiB, `zero-overwritten bytes: ${gone.bytes}`);
  assert.equal(existsSync(dir2), false);

  // Nobody adopts within --timeout: the daemon removes its pool and exits.
  const r3 = await cli(['stage', '--dataset', '/small', '--daemon', '--timeout', '1'], h.env());
  const pool3 = r3.stdout.trim();
  assert.match(pool3, /^[0-9a-f]{32}$/);
  const dir3 = join(h.cacheDir, readdirSync(h.cacheDir)[0]!, pool3);
  assert.equal(r3.code, 0, r3.stderr);
  for (let i = 0; i < 100 && existsSync(dir3); i++) await sleep(50);
  assert.equal(existsSync(dir3), false, 'an expired daemon removes its pool');
  // The pool directory is renamed away before it is removed; the lock goes with the process.
  let held = (await scrubCacheDir(h.cacheDir)).live.filter((l) => l.why === 'locked');
  for (let i = 0; i < 100 && held.length > 0; i++, await sleep(50)) held = (await scrubCacheDir(h.cacheDir)).live.filter((l) => l.why === 'locked');
  assert.deepEqual(held, [], 'and holds nothing any more');
});

test('a workload cannot adopt a pool held by a process that does not hand over: clear error, fast', async () => {
  const owner = await h.open({}, { control: true });
  try {
    const t0 = Date.now();
    await assert.rejects(h.open({ KISEKI_CACHE_POOL_ID: owner.cache.pool!.id }), /does not hand pools over/);
    assert.ok(Date.now() - t0 < 10_000);
  } finally {
    await owner.close();
  }
});

test('pinned staging beyond cache_l2_max fails with CacheCapacityExceeded and evicts nothing', async () => {
  const ms = await h.open({ KISEKI_CACHE_L2_MAX: String(5 * MiB) });
  try {
    const deps = fsDepsFor(ms.session, ms.cache, ms.namespaceId, true);
    const stager = new Stager({
      fs: ms.fs, cache: ms.cache, namespace: 'default', reader: canonicalReader(deps.chunkCrypto, deps.placement),
      layout: (ino) => ms.session.namespace.getLayout({ namespaceId: { value: ms.namespaceId }, ino }),
    });
    const small = await stager.stage('/small');
    assert.equal(small.chunks_fetched, 2);
    const l2 = ms.cache.pool!.l2;
    const before = l2.count;
    await assert.rejects(stager.stage('/large'), (err: Error & { code?: string }) => err.code === 'KSK_ERR_CACHE_CAPACITY_EXCEEDED' && /cache_l2_max/.test(err.message));
    assert.equal(l2.count, before, 'nothing fetched, nothing evicted');
    const m = await readManifest(ms.cache.pool!.dir, '/small');
    assert.ok(m !== null && m.chunk_ids.every((id) => l2.has(id)), 'the staged dataset is intact');
    assert.equal(await readManifest(ms.cache.pool!.dir, '/large'), null);
    assert.equal(ms.cache.stats().staged_datasets, 1);
  } finally {
    await ms.close();
  }
});

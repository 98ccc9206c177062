// I-CC9 and I-CC10 at the level of a cache session: the persisted policy.json of a pool is the
// fallback of a later session, and a running session never changes its settings.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readPolicyFile, resolvePolicy, DEFAULT_POLICY, writePolicyFile } from '../../src/cache/cache-policy.js';
import { resolveCacheConfig } from '../../src/cache/cache-config.js';
import { ChunkCache } from '../../src/cache/chunk-cache.js';
import { chunk, tempDir } from './cache-fixtures.js';

const dirs: { cleanup(): Promise<void> }[] = [];
after(async () => { for (const d of dirs) await d.cleanup(); });

test('I-CC10: a policy change reaches new sessions only; the running session keeps its mode and limits', async () => {
  const d = await tempDir();
  dirs.push(d);
  const file = 4096 + 4;
  const tight = { ...DEFAULT_POLICY, allowed_modes: [...DEFAULT_POLICY.allowed_modes], max_cache_bytes: 2 * file, metadata_ttl_ms: 1000 };
  const env = {};
  const resolveFrom = (poolDir: string) => resolvePolicy([
    { source: 'rpc', load: async () => { throw new Error('UNAVAILABLE: node down'); } },
    { source: 'policy.json', load: () => readPolicyFile(poolDir) },
  ]);
  await writePolicyFile(d.path, tight);
  const first = resolveCacheConfig((await resolveFrom(d.path)).policy, { env, mountOptions: { cache_dir: d.path, cache_l1_max: '1' } });
  const session = await ChunkCache.open(first, { tenant: 't1', statsIntervalMs: 0, pool: { scavenge: false, capacityRefreshMs: 0 } });
  await session.persistPolicy(tight);
  // The administrator changes the policy: bigger cache, caching disabled altogether.
  const changed = { ...tight, max_cache_bytes: 100 * file, cache_enabled: false };
  await writePolicyFile(session.pool!.dir, changed);
  for (let i = 0; i < 4; i++) { const c = chunk(); await session.put(c.id, c.data); }
  assert.equal(session.mode, 'organic');
  assert.equal(session.config.l2MaxBytes, 2 * file);
  assert.equal(session.stats().l2_entries, 2, 'the old ceiling still holds');
  assert.throws(() => { (session.config as { l2MaxBytes: number }).l2MaxBytes = 1; }, TypeError);
  const next = resolveCacheConfig((await resolveFrom(session.pool!.dir)).policy, { env, mountOptions: { cache_dir: d.path } });
  assert.equal(next.mode, 'bypass', 'the next session sees the change');
  await session.close();
});

test('I-CC9: a session persists its policy in its pool; with the RPC down the next resolution uses it, and without it conservative defaults', async () => {
  const d = await tempDir();
  dirs.push(d);
  const cfg = resolveCacheConfig(DEFAULT_POLICY, { env: {}, mountOptions: { cache_dir: d.path } });
  const session = await ChunkCache.open(cfg, { tenant: 't1', statsIntervalMs: 0, pool: { scavenge: false } });
  const custom = { ...DEFAULT_POLICY, allowed_modes: [...DEFAULT_POLICY.allowed_modes], max_cache_bytes: 12345 };
  await session.persistPolicy(custom);
  const down = async () => { throw new Error('UNAVAILABLE'); };
  const r = await resolvePolicy([{ source: 'rpc', load: down }, { source: 'policy.json', load: () => readPolicyFile(session.pool!.dir) }]);
  assert.equal(r.source, 'policy.json');
  assert.equal(r.policy.max_cache_bytes, 12345);
  const poolDir = session.pool!.dir;
  await session.close(); // the pool (and its policy.json) is gone
  const none = await resolvePolicy([{ source: 'rpc', load: down }, { source: 'policy.json', load: () => readPolicyFile(poolDir) }]);
  assert.equal(none.source, 'conservative-defaults');
  assert.deepEqual([none.policy.cache_enabled, none.policy.default_mode, none.policy.max_cache_bytes, none.policy.metadata_ttl_ms], [true, 'organic', 10 * 1024 ** 3, 5000]);
});

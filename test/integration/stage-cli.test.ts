// `kiseki-client stage` against a real kiseki-node: JSON output, idempotence, status and release,
// resume after kill -9, limits, bypass / staging disabled, malformed manifests.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BOOTSTRAP_TENANT } from '../../src/node/identity.js';
import { spawnSync } from 'node:child_process';
import { cli, events, startStageHarness, type StageHarness } from './stage-fixtures.js';

const MiB = 1 << 20;
let h: StageHarness;
/** Chunks of /data/big: enough that a kill at the first progress report lands mid-stage even on a busy machine. */
const BIG_CHUNKS = 96;

before(async () => {
  h = await startStageHarness();
  await h.write({
    '/data/set/a.bin': 3 * MiB + 17,
    '/data/set/sub/b.bin': 2 * MiB,
    '/data/set/sub/tiny.txt': 100,
    '/data/big/x.bin': BIG_CHUNKS * MiB,
    '/data/deep/1/2/3/f.bin': 1000,
  });
});
after(async () => { await h?.close(); });

function poolDir(poolId: string): string {
  for (const tenant of readdirSync(h.cacheDir)) if (existsSync(join(h.cacheDir, tenant, poolId))) return join(h.cacheDir, tenant, poolId);
  return '';
}

test('stage --json: event shape, chunks pinned, manifest written; re-staging is a no-op; status and release', async () => {
  const r = await cli(['stage', '--dataset', '/data/set', '--json', '--timeout', '60'], h.env());
  assert.equal(r.code, 0, r.stderr);
  const ev = events(r.stdout);
  assert.equal(ev[0]!.event, 'pool');
  const poolId = ev[0]!.pool_id as string;
  assert.match(poolId, /^[0-9a-f]{32}$/);
  const staged = ev.find((e) => e.event === 'staged')!;
  // a.bin: 4 chunks, b.bin: 2 chunks, tiny.txt is inline (no chunk)
  assert.deepEqual(
    { compositions: staged.compositions, chunks_total: staged.chunks_total, chunks_fetched: staged.chunks_fetched, bytes_total: staged.bytes_total, already: staged.already_staged },
    { compositions: 3, chunks_total: 6, chunks_fetched: 6, bytes_total: 5 * MiB + 17, already: false },
  );
  assert.ok(ev.some((e) => e.event === 'progress' && e.phase === 'fetching'));
  assert.equal(ev[ev.length - 1]!.event, 'done');
  const dir = poolDir(poolId);
  assert.ok(existsSync(join(dir, 'staging', '_data_set.manifest')), 'manifest written');
  assert.ok(existsSync(join(dir, 'handoff')), 'plain stage hands the pool over on exit');

  // Same dataset into the same pool: nothing fetched.
  const again = await cli(['stage', '--dataset', '/data/set', '--json'], h.env({ KISEKI_CACHE_POOL_ID: poolId }));
  assert.equal(again.code, 0, again.stderr);
  const s2 = events(again.stdout).find((e) => e.event === 'staged')!;
  assert.equal(s2.already_staged, true);
  assert.equal(s2.chunks_fetched, 0);

  const status = await cli(['stage', '--status', '--json'], h.env());
  assert.equal(status.code, 0, status.stderr);
  const rows = JSON.parse(status.stdout) as { pool_id: string; namespace_path: string; chunks: number; bytes: number; files: number; holding: string }[];
  const row = rows.find((x) => x.pool_id === poolId)!;
  assert.deepEqual([row.namespace_path, row.chunks, row.bytes, row.files, row.holding], ['/data/set', 6, 5 * MiB + 17, 3, 'handoff-pending']);
  const table = await cli(['stage', '--status', '--pool', poolId], h.env());
  assert.match(table.stdout, /^\/data\/set\s+6\s+5\.0 MiB/m);
  assert.match(table.stdout, /Total: 1 dataset\(s\)/);

  const rel = await cli(['stage', '--release', '/data/set', '--pool', poolId], h.env());
  assert.equal(rel.code, 0, rel.stderr);
  assert.match(rel.stdout, /^Released 6 chunk\(s\) from: \/data\/set \(pool [0-9a-f]{32} removed\)$/m);
  assert.equal(existsSync(dir), false, 'an unheld pool with nothing staged is removed');
  const none = await cli(['stage', '--release-all', '--pool', poolId], h.env());
  assert.equal(none.code, 0, none.stderr);
  assert.match(none.stdout, /does not exist/);
});

test('stage resumes after kill -9 mid-stage: the second run fetches only what the first did not pin', async () => {
  let poolId = '';
  let killedAt = 0;
  // One fetch at a time, killed at the first progress report that shows any chunk done.
  const first = await cli(['stage', '--dataset', '/data/big', '--json', '--parallel', '1'], h.env(), (line, child) => {
    const e = JSON.parse(line) as Record<string, unknown>;
    if (e.event === 'pool') poolId = e.pool_id as string;
    if (e.event === 'progress' && (e.chunks_done as number) >= 1 && killedAt === 0) {
      killedAt = e.chunks_done as number;
      child.kill('SIGKILL');
    }
  });
  assert.equal(first.code, null, 'killed');
  assert.ok(killedAt >= 1 && poolId !== '');
  const dir = poolDir(poolId);
  assert.equal(existsSync(join(dir, 'staging', '_data_big.manifest')), false, 'no manifest for an unfinished stage');
  const stored = readdirSync(join(dir, 'chunks')).flatMap((p) => readdirSync(join(dir, 'chunks', p))).filter((n) => /^[0-9a-f]{64}$/.test(n)).length;
  assert.ok(stored >= killedAt && stored < BIG_CHUNKS, `chunks on disk after the kill: ${stored}`);

  const second = await cli(['stage', '--dataset', '/data/big', '--json'], h.env({ KISEKI_CACHE_POOL_ID: poolId }));
  assert.equal(second.code, 0, second.stderr);
  const s = events(second.stdout).find((e) => e.event === 'staged')!;
  assert.equal(s.chunks_total, BIG_CHUNKS);
  assert.equal(s.chunks_cached, stored);
  assert.equal(s.chunks_fetched, BIG_CHUNKS - stored);
  assert.ok(existsSync(join(dir, 'staging', '_data_big.manifest')));
  await cli(['stage', '--release-all', '--pool', poolId], h.env());
});

test('stage limits: max_staging_depth and max_staging_files fail with the count found; several datasets go into one pool', async () => {
  const deep = await cli(['stage', '--dataset', '/data/deep', '--max-depth', '2'], h.env());
  assert.equal(deep.code, 2, deep.stderr);
  assert.match(deep.stderr, /\/data\/deep\/1\/2 is nested 3 levels deep, beyond max_staging_depth = 2/);
  const many = await cli(['stage', '--dataset', '/data', '--max-files', '3'], h.env());
  assert.equal(many.code, 2, many.stderr);
  assert.match(many.stderr, /more than max_staging_files = 3 files \(found 4 so far\)/);
  const ok = await cli(['stage', '--dataset', '/data/deep', '--dataset', '/data/set/sub', '--max-depth', '4', '--json'], h.env());
  assert.equal(ok.code, 0, ok.stderr);
  const ev = events(ok.stdout);
  assert.deepEqual(ev.filter((e) => e.event === 'staged').map((e) => e.namespace_path), ['/data/deep', '/data/set/sub'], 'both datasets, one pool');
  assert.equal(ev.filter((e) => e.event === 'pool').length, 1);
  const rows = JSON.parse((await cli(['stage', '--status', '--json', '--pool', ev[0]!.pool_id as string], h.env())).stdout) as { namespace_path: string }[];
  assert.deepEqual(rows.map((r) => r.namespace_path).sort(), ['/data/deep', '/data/set/sub']);
  await cli(['stage', '--release-all', '--pool', ev[0]!.pool_id as string], h.env());
  const missing = await cli(['stage', '--dataset', '/data/none'], h.env());
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot stage \/data\/none: it does not exist/);
  const relative = await cli(['stage', '--dataset', 'data/set'], h.env());
  assert.equal(relative.code, 2);
  assert.match(relative.stderr, /must be an absolute namespace path/);
});

test('stage into a bypass cache or with staging_enabled=false is a clear error', async () => {
  const bypass = await cli(['stage', '--dataset', '/data/set'], h.env({ KISEKI_CACHE_MODE: 'bypass' }));
  assert.equal(bypass.code, 2, bypass.stderr);
  assert.match(bypass.stderr, /cannot stage into a cache in bypass mode/);

  const policy = join(h.dir, 'policy.json');
  writeFileSync(policy, JSON.stringify({
    cache_enabled: true, allowed_modes: ['pinned', 'organic', 'bypass'], max_cache_bytes: 1 << 30, max_node_cache_bytes: 0, metadata_ttl_ms: 5000,
    max_disconnect_seconds: 300, key_health_interval_ms: 30000, staging_enabled: false, default_mode: 'organic',
  }));
  const set = spawnSync(process.execPath, [join(__dirname, '../../src/cli/kiseki-node.js'), 'admin', '--data-dir', join(h.dir, 'node'), 'set-policy', '--tenant', BOOTSTRAP_TENANT, '--file', policy], { encoding: 'utf8' });
  assert.equal(set.status, 0, set.stderr);
  try {
    const off = await cli(['stage', '--dataset', '/data/set'], h.env());
    assert.equal(off.code, 1, off.stderr);
    assert.match(off.stderr, /staging is disabled by the cache policy/);
  } finally {
    writeFileSync(policy, JSON.stringify({
      cache_enabled: true, allowed_modes: ['pinned', 'organic', 'bypass'], max_cache_bytes: 50 * 1024 ** 3, max_node_cache_bytes: 0, metadata_ttl_ms: 5000,
      max_disconnect_seconds: 300, key_health_interval_ms: 30000, staging_enabled: true, default_mode: 'organic',
    }));
    spawnSync(process.execPath, [join(__dirname, '../../src/cli/kiseki-node.js'), 'admin', '--data-dir', join(h.dir, 'node'), 'set-policy', '--tenant', BOOTSTRAP_TENANT, '--file', policy]);
  }
});

test('stage --status on a malformed manifest names the file and the field', async () => {
  const r = await cli(['stage', '--dataset', '/data/set/a.bin', '--json'], h.env());
  assert.equal(r.code, 0, r.stderr);
  const poolId = events(r.stdout)[0]!.pool_id as string;
  const file = join(poolDir(poolId), 'staging', '_data_set_a.bin.manifest');
  writeFileSync(file, JSON.stringify({ version: 1, namespace: 'default', namespace_path: '/data/set/a.bin', snapshot_time: new Date().toISOString(), compositions: [], chunk_ids: ['XYZ'], bytes: 1 }));
  const bad = await cli(['stage', '--status', '--pool', poolId], h.env());
  assert.equal(bad.code, 2, bad.stderr);
  assert.ok(bad.stderr.includes(`staging manifest ${file}: field chunk_ids[0] must be 64 lowercase hex digits`), bad.stderr);
  writeFileSync(file, '{"version": 1, ');
  const broken = await cli(['stage', '--status', '--pool', poolId], h.env());
  assert.equal(broken.code, 2);
  assert.match(broken.stderr, /is not valid JSON/);
  await cli(['stage', '--release-all', '--pool', poolId], h.env());
});

// `kiseki-node admin …` against the data directory of a running node (WAL: no restart needed):
// KEK rotation, crypto-shred, cache policy, dedup mode.
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { DEFAULT_POLICY } from '../../src/cache/cache-policy.js';
import { DedupPolicy } from '../../src/gen/kiseki/v1/common.js';
import { KeyHealthState } from '../../src/gen/kiseki/v1/tenant_keys.js';
import { startNode } from '../helpers/node-process.js';
import { type NodeRpc, nodeRpc, rejectsWith } from '../helpers/node-rpc.js';

const BIN = resolve(__dirname, '../../src/cli/kiseki-node.js');
let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'kiseki-node-admin-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A node client as tenant `t` (the socket's local tenant is chosen per node, so one node per tenant). */
async function tenantNode(t: string): Promise<{ rpc: NodeRpc; dataDir: string; stop: () => Promise<void> }> {
  const dataDir = join(dir, `data-${t}`);
  const n = await startNode({ dataDir, socket: true, localTenant: t });
  const rpc = nodeRpc(`unix:${n.socketPath}`, grpc.credentials.createInsecure());
  return { rpc, dataDir, stop: async () => { rpc.close(); await n.stop(); } };
}

const admin = (dataDir: string, ...args: string[]) => execFileSync(process.execPath, [BIN, 'admin', '--data-dir', dataDir, ...args], { encoding: 'utf8' });

test('rotate-kek adds epoch 2 as current and keeps epoch 1 readable', async () => {
  const T = '10000000-0000-4000-8000-000000000001';
  const n = await tenantNode(T);
  try {
    const before1 = await n.rpc.keys('fetchTenantKeys', {});
    assert.match(admin(n.dataDir, 'rotate-kek', '--tenant', T), /epoch 2 is now current/);
    const k = await n.rpc.keys('fetchTenantKeys', {});
    assert.equal(k.currentEpoch!.value, 2);
    assert.deepEqual(k.keks.map((e) => e.epoch!.value), [2, 1]);
    assert.deepEqual(k.keks[1]!.kek, before1.keks[0]!.kek);
    assert.notDeepEqual(k.keks[0]!.kek, k.keks[1]!.kek);
    assert.deepEqual(k.indexKey, before1.indexKey, 'the index key never rotates');
    assert.equal((await n.rpc.keys('keyHealth', {})).currentEpoch!.value, 2);
  } finally {
    await n.stop();
  }
});

test('destroy-kek: KeyHealth turns DESTROYED and FetchTenantKeys is FAILED_PRECONDITION "KEK_DESTROYED"', async () => {
  const T = '20000000-0000-4000-8000-000000000002';
  const n = await tenantNode(T);
  try {
    await n.rpc.keys('fetchTenantKeys', {});
    assert.equal((await n.rpc.keys('keyHealth', {})).state, KeyHealthState.KEY_HEALTH_STATE_HEALTHY);
    admin(n.dataDir, 'destroy-kek', '--tenant', T);
    assert.equal((await n.rpc.keys('keyHealth', {})).state, KeyHealthState.KEY_HEALTH_STATE_DESTROYED);
    const e = await rejectsWith(n.rpc.keys('fetchTenantKeys', {}), grpc.status.FAILED_PRECONDITION);
    assert.equal(e.details, 'KEK_DESTROYED');
    const rot = spawnSync(process.execPath, [BIN, 'admin', '--data-dir', n.dataDir, 'rotate-kek', '--tenant', T], { encoding: 'utf8' });
    assert.notEqual(rot.status, 0, 'a shredded tenant cannot get new keys');
    assert.match(rot.stderr, /KEK_DESTROYED/);
  } finally {
    await n.stop();
  }
});

test('set-policy is validated with parsePolicy and served by GetCachePolicy; a bad file is refused', async () => {
  const T = '30000000-0000-4000-8000-000000000003';
  const n = await tenantNode(T);
  try {
    const file = join(dir, 'policy.json');
    writeFileSync(file, JSON.stringify({ ...DEFAULT_POLICY, allowed_modes: ['organic', 'bypass'], max_cache_bytes: 1234567, staging_enabled: false }));
    admin(n.dataDir, 'set-policy', '--tenant', T, '--file', file);
    const p = await n.rpc.policy('getCachePolicy', { workloadId: '' });
    assert.deepEqual(p.allowedModes, ['organic', 'bypass']);
    assert.equal(p.maxCacheBytes, 1234567);
    assert.equal(p.stagingEnabled, false);
    writeFileSync(file, JSON.stringify({ cache_enabled: true }));
    const bad = spawnSync(process.execPath, [BIN, 'admin', '--data-dir', n.dataDir, 'set-policy', '--tenant', T, '--file', file], { encoding: 'utf8' });
    assert.notEqual(bad.status, 0);
    assert.equal((await n.rpc.policy('getCachePolicy', { workloadId: '' })).maxCacheBytes, 1234567, 'the old policy stays');
  } finally {
    await n.stop();
  }
});

test('set-dedup isolated switches the tenant to DEDUP_POLICY_TENANT_ISOLATED', async () => {
  const T = '40000000-0000-4000-8000-000000000004';
  const n = await tenantNode(T);
  try {
    assert.equal((await n.rpc.keys('fetchTenantKeys', {})).dedupPolicy, DedupPolicy.DEDUP_POLICY_CROSS_TENANT);
    admin(n.dataDir, 'set-dedup', '--tenant', T, 'isolated');
    assert.equal((await n.rpc.keys('fetchTenantKeys', {})).dedupPolicy, DedupPolicy.DEDUP_POLICY_TENANT_ISOLATED);
  } finally {
    await n.stop();
  }
});

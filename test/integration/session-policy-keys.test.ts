// Cache policy resolution (I-CC9), clamping (I-CC10), key fetch and key health (I-CC12), and the
// heartbeat's liveness record (I-CC6), against a real kiseki-node over mTLS.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { CONSERVATIVE_POLICY, DEFAULT_POLICY, type CachePolicy } from '../../src/cache/cache-policy.js';
import { ManualClock } from '../../src/cache/clock.js';
import { NodeChannels } from '../../src/client/node-channels.js';
import { fetchCachePolicy, resolveSessionPolicy } from '../../src/client/policy-client.js';
import { RpcLiveness } from '../../src/client/rpc.js';
import { parseSeed } from '../../src/client/seeds.js';
import { Session } from '../../src/client/session.js';
import { loadTlsMaterial } from '../../src/client/tls-credentials.js';
import { KisekiError } from '../../src/errors.js';
import { makeCerts, type CertSet } from '../helpers/certs.js';
import { startNode, type NodeProcess } from '../helpers/node-process.js';

const TENANT = '9d1c2b3a-4e5f-4a6b-8c7d-0e1f2a3b4c5d';
const SHRED = 'e2d3c4b5-a697-4881-9a0b-1c2d3e4f5a6b';
const NODE_BIN = resolve(__dirname, '../../src/cli/kiseki-node.js');
const run = promisify(execFile);
let dir: string;
let certs: CertSet;
let node: NodeProcess;
const envFor = (tenant: string) => ({ KISEKI_CA_PATH: certs.ca, KISEKI_CERT_PATH: certs.tenant(tenant).cert, KISEKI_KEY_PATH: certs.tenant(tenant).key });

const SITE_POLICY: CachePolicy = {
  ...DEFAULT_POLICY,
  allowed_modes: ['organic', 'bypass'],
  max_cache_bytes: 2 * 1024 ** 3,
  metadata_ttl_ms: 2000,
  max_disconnect_seconds: 120,
  key_health_interval_ms: 15000,
  default_mode: 'organic',
};

async function admin(...args: string[]): Promise<void> {
  await run(process.execPath, [NODE_BIN, 'admin', '--data-dir', join(dir, 'node'), ...args]);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kpolicy-'));
  certs = await makeCerts(join(dir, 'pki'), { tenants: [TENANT, SHRED], nodes: [1] });
  node = await startNode({ dataDir: join(dir, 'node'), tls: { certs, nodeId: 1 } });
  const file = join(dir, 'site-policy.json');
  await writeFile(file, JSON.stringify(SITE_POLICY));
  await admin('set-policy', '--tenant', TENANT, '--file', file);
});

after(async () => {
  await node?.stop();
  await rm(dir, { recursive: true, force: true });
});

test('I-CC9 policy: from the RPC (persisted to policy.json), then policy.json when the node is down, then conservative defaults', async () => {
  const pool = join(dir, 'pool');
  await mkdir(pool);
  const env = envFor(TENANT);
  const channels = new NodeChannels({ kind: 'mtls', material: await loadTlsMaterial({ caPath: env.KISEKI_CA_PATH, certPath: env.KISEKI_CERT_PATH, keyPath: env.KISEKI_KEY_PATH }) });
  const rpc = { channels, clock: new ManualClock(), liveness: new RpcLiveness(), deadlineMs: 3000 };
  const target = parseSeed(node.address!, 't');
  const sources = { fetch: () => fetchCachePolicy(rpc, target), poolDir: pool };
  try {
    const viaRpc = await resolveSessionPolicy(sources);
    assert.equal(viaRpc.source, 'rpc');
    assert.deepEqual(viaRpc.policy, SITE_POLICY, 'the tenant policy set by the admin');
    assert.deepEqual(JSON.parse(await readFile(join(pool, 'policy.json'), 'utf8')), SITE_POLICY);
    assert.equal((await stat(join(pool, 'policy.json'))).mode & 0o777, 0o600);

    await node.stop();
    const viaFile = await resolveSessionPolicy(sources);
    assert.equal(viaFile.source, 'policy.json');
    assert.deepEqual(viaFile.policy, SITE_POLICY);
    assert.equal(viaFile.skipped[0]?.source, 'rpc');
    assert.match(viaFile.skipped[0]!.reason, /GetCachePolicy at 127\.0\.0\.1:\d+: UNAVAILABLE/);

    await rm(join(pool, 'policy.json'));
    const viaDefaults = await resolveSessionPolicy(sources);
    assert.equal(viaDefaults.source, 'conservative-defaults');
    assert.deepEqual(viaDefaults.policy, CONSERVATIVE_POLICY);
    assert.deepEqual(viaDefaults.skipped.map((s) => s.source), ['rpc', 'policy.json']);
  } finally {
    channels.close();
    node = await node.restart();
  }
});

test('I-CC10 session: requested settings are clamped to the fetched policy, once per session', async () => {
  const s = await Session.open({
    dataAddr: node.address!, env: envFor(TENANT),
    requested: { mode: 'pinned', l2MaxBytes: 100 * 1024 ** 3, metaTtlMs: 60_000 },
  });
  try {
    assert.equal(s.policy.source, 'rpc');
    assert.equal(s.settings.mode, 'organic', 'pinned is not allowed by the site policy');
    assert.equal(s.settings.l2MaxBytes, 2 * 1024 ** 3);
    assert.equal(s.settings.metaTtlMs, 2000);
    assert.equal(s.settings.maxDisconnectSeconds, 120);
    assert.equal(s.settings.keyHealthIntervalMs, 15000);
    assert.equal(s.settings.clamped.length, 3, s.settings.clamped.join('; '));
  } finally {
    await s.close();
  }
});

test('I-CC12 keys: fetched into a keyring; key health healthy, then destroyed after destroy-kek; a new session is destroyed', async () => {
  const s = await Session.open({ dataAddr: node.address!, env: envFor(SHRED) });
  try {
    assert.equal(s.keys.tenantId, SHRED);
    assert.equal(s.keys.currentEpoch, 1);
    assert.equal(s.keys.kek(1).length, 32);
    assert.equal(s.keys.indexKey.length, 32);
    assert.equal(await s.probeKeyHealth(), 'healthy');
    await admin('destroy-kek', '--tenant', SHRED);
    assert.equal(await s.probeKeyHealth(), 'destroyed');
  } finally {
    await s.close();
  }
  const shredded = await Session.open({ dataAddr: node.address!, env: envFor(SHRED) });
  assert.equal(shredded.state, 'destroyed');
  assert.throws(() => shredded.keys, (e: unknown) => KisekiError.is(e, 'KeyDestroyed') && e.errno === 5);
  await assert.rejects(shredded.whenReady(), (e: unknown) => KisekiError.is(e, 'KeyDestroyed'));
});

test('I-CC6 heartbeat: a beat every interval updates lastSuccessfulRpcAt; failed beats are counted, not fatal', async () => {
  const clock = new ManualClock();
  const s = await Session.open({ dataAddr: node.address!, env: envFor(TENANT), clock, heartbeatIntervalMs: 60_000 });
  try {
    assert.equal(s.clientId.length, 16);
    let pushed = 0;
    s.onSuccessfulRpc(() => pushed++);
    const t0 = s.lastSuccessfulRpcAt;
    assert.equal(t0, clock.now());
    clock.advance(59_999);
    assert.equal(s.heartbeatStats.sent, 0, 'not before the interval');
    clock.advance(1);
    assert.equal(s.heartbeatStats.sent, 1);
    await s.beat();
    assert.equal(s.heartbeatStats.failures, 0);
    assert.equal(s.lastSuccessfulRpcAt, t0! + 60_000);
    // The beat and the discovery refresh at the 30 s TTL both succeeded.
    assert.equal(pushed, 2, 'subscribers (the cache\'s disconnect watcher) hear of every success');

    await node.stop();
    clock.advance(60_000);
    await s.beat();
    assert.equal(s.heartbeatStats.failures, 1);
    assert.match(s.heartbeatStats.lastError!, /Heartbeat at 127\.0\.0\.1:\d+: UNAVAILABLE/);
    assert.equal(s.lastSuccessfulRpcAt, t0! + 60_000, 'a failure does not count as contact');
    assert.equal(pushed, 2);
    assert.equal(s.state, 'ready', 'the session survives a failed beat');
    assert.equal(await s.probeKeyHealth(), 'unreachable', 'a node that does not answer is not a destroyed key');
  } finally {
    await s.close();
    node = await node.restart();
  }
});

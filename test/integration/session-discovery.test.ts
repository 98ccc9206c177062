// Discovery and session start against real kiseki-node processes over mTLS: one node, a 3-node
// loopback cluster, the TTL cache, and recovery when a node comes up after the session started.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NamespaceServiceService } from '../../src/gen/kiseki/v1/namespace.js';
import { ManualClock } from '../../src/cache/clock.js';
import { NodeChannels } from '../../src/client/node-channels.js';
import { RpcLiveness, callUnary } from '../../src/client/rpc.js';
import { parseSeed, type SeedAddress } from '../../src/client/seeds.js';
import { Session } from '../../src/client/session.js';
import { loadTlsMaterial } from '../../src/client/tls-credentials.js';
import { placeChunk } from '../../src/client/placement.js';
import { openChunk, sealChunk } from '../../src/crypto/envelope.js';
import { KisekiError } from '../../src/errors.js';
import { makeCerts, type CertSet } from '../helpers/certs.js';
import { freePort, startCluster, startNode, type ClusterProcess, type NodeProcess } from '../helpers/node-process.js';

const TENANT = '4b0e7c9a-1f2d-4e3a-9b8c-7d6e5f4a3b2c';
let dir: string;
let certs: CertSet;
let env: Record<string, string>;
let single: NodeProcess;
let cluster: ClusterProcess;

async function until(pred: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ksession-'));
  certs = await makeCerts(join(dir, 'pki'), { tenants: [TENANT], nodes: [1, 2, 3] });
  const t = certs.tenant(TENANT);
  env = { KISEKI_CA_PATH: certs.ca, KISEKI_CERT_PATH: t.cert, KISEKI_KEY_PATH: t.key };
  [single, cluster] = await Promise.all([
    startNode({ dataDir: join(dir, 'single'), tls: { certs, nodeId: 1 } }),
    startCluster(3, { certs, dataRoot: join(dir, 'cluster'), replicas: 2 }),
  ]);
});

after(async () => {
  await Promise.all([single?.stop(), cluster?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

test('discovery: a single TLS node → ready session with its node, leader, keys, policy and liveness', async () => {
  const clock = new ManualClock();
  const s = await Session.open({ dataAddr: single.address!, env, clock });
  try {
    assert.equal(s.state, 'ready');
    const d = s.discovered();
    assert.equal(d.nodes.length, 1);
    assert.equal(d.leader.id, 1);
    assert.equal(d.leader.address.kind === 'tcp' && `${d.leader.address.host}:${d.leader.address.port}`, single.address);
    assert.equal(d.response.authRequirements?.mtlsRequired, true);
    assert.ok(d.response.shards.length >= 1 && d.response.gateways.length >= 1, 'shards and gateways listed');
    assert.equal(s.keys.tenantId, TENANT, 'the node took the tenant from our certificate');
    assert.equal(s.policy.source, 'rpc');
    assert.equal(s.lastSuccessfulRpcAt, clock.now());
    const ns = await s.namespace.openNamespace({ namespaceId: { value: 'discovery-single' }, create: true, defaultChunkSize: 0 });
    assert.equal(ns.root?.ino, 1);
  } finally {
    await s.close();
  }
  assert.equal(s.state, 'closed');
  assert.throws(() => s.keys, (e: unknown) => KisekiError.is(e, 'Closed'));
});

test('discovery: a 3-node cluster lists all nodes and the metadata leader, whichever node is the seed', async () => {
  const follower = cluster.nodes[2]!;
  const s = await Session.open({ dataAddr: follower.address!, env });
  try {
    const d = s.discovered();
    assert.deepEqual(d.nodes.map((n) => n.id).sort(), [1, 2, 3]);
    assert.equal(d.leader.id, 1, 'the lowest node id leads the metadata');
    assert.equal(d.replicas, 2);
    assert.deepEqual(d.nodes.map((n) => n.address.kind === 'tcp' ? `${n.address.host}:${n.address.port}` : '').sort(),
      cluster.nodes.map((n) => n.address!).sort());
    // Namespace calls go to the leader even though a follower was the seed.
    const ns = await s.namespace.openNamespace({ namespaceId: { value: 'discovery-cluster' }, create: true, defaultChunkSize: 0 });
    assert.equal(ns.root?.ino, 1);
  } finally {
    await s.close();
  }
});

test('discovery: a client certificate from another CA is refused before dialing, naming the certificate and the CA', async () => {
  // The node would refuse it in the handshake, which a client only sees as "failed to connect";
  // so the session checks its own certificate first instead of retrying a misconfiguration forever.
  const rogue = { KISEKI_CA_PATH: certs.ca, KISEKI_CERT_PATH: certs.rogue.cert, KISEKI_KEY_PATH: certs.rogue.key };
  await assert.rejects(Session.open({ dataAddr: single.address!, env: rogue, clock: new ManualClock() }),
    (e: unknown) => KisekiError.is(e, 'PermissionDenied') && e.message.includes(certs.rogue.cert) && e.message.includes(certs.ca));
});

test('rpc: a follower\'s UNAVAILABLE + kiseki-leader is followed to the leader, and reported', async () => {
  const channels = new NodeChannels({ kind: 'mtls', material: await loadTlsMaterial({ caPath: env.KISEKI_CA_PATH!, certPath: env.KISEKI_CERT_PATH!, keyPath: env.KISEKI_KEY_PATH! }) });
  const redirects: SeedAddress[] = [];
  const rpc = { channels, clock: new ManualClock(), liveness: new RpcLiveness(), deadlineMs: 5000, onLeaderRedirect: (a: SeedAddress) => redirects.push(a) };
  try {
    const res = await callUnary(rpc, parseSeed(cluster.nodes[1]!.address!, 't'), NamespaceServiceService.openNamespace,
      { namespaceId: { value: 'redirect' }, create: true, defaultChunkSize: 0 });
    assert.equal(res.root?.ino, 1);
    assert.deepEqual(redirects, [parseSeed(cluster.nodes[0]!.address!, 't')]);
    assert.equal(rpc.liveness.successes, 1);
  } finally {
    channels.close();
  }
});

test('discovery: the answer is cached for ttl_ms, then refreshed in the background', async () => {
  const clock = new ManualClock();
  const s = await Session.open({ dataAddr: single.address!, env, clock });
  try {
    const dc = s.discoveryClient;
    const first = s.discovered();
    assert.equal(dc.stats.rpcs, 1);
    clock.advance(first.ttlMs - 1);
    for (let i = 0; i < 20; i++) assert.equal(s.discovered(), first, 'served from the cache');
    assert.equal(dc.stats.rpcs, 1, 'no Discover call within the TTL');
    assert.equal(dc.state, 'ready');
    clock.advance(1);
    assert.equal(dc.state, 'stale', 'TTL elapsed: stale, refreshing');
    assert.equal(s.discovered(), first, 'the stale answer keeps serving during the refresh');
    await until(() => dc.state === 'ready', 'the refresh');
    assert.equal(dc.stats.rpcs, 2);
    assert.notEqual(s.discovered(), first);
    assert.equal(s.discovered().fetchedAt, clock.now());
  } finally {
    await s.close();
  }
});

test('discovery: seeds down → EIO with backoff; the node comes up → the same session becomes ready', async () => {
  const port = await freePort();
  const clock = new ManualClock();
  const s = await Session.open({ dataAddr: `127.0.0.1:${port}`, env, clock, backoff: { random: () => 0.5 } });
  let late: NodeProcess | null = null;
  try {
    assert.equal(s.state, 'connecting');
    await assert.rejects(s.namespace.statFs({ namespaceId: { value: 'x' } }), (e: unknown) => KisekiError.is(e, 'NoSeedsReachable') && e.errno === 5);
    clock.advance(50);
    await until(() => s.discoveryClient.stats.failedRounds === 2, 'the second failed round');
    assert.deepEqual(s.discoveryClient.stats.retryDelays, [50, 100]);
    late = await startNode({ dataDir: join(dir, 'late'), tls: { certs, nodeId: 1 }, listen: `127.0.0.1:${port}` });
    const ready = s.whenReady();
    clock.advance(100);
    await ready;
    assert.equal(s.state, 'ready');
    assert.equal(s.keys.tenantId, TENANT);
    const ns = await s.namespace.openNamespace({ namespaceId: { value: 'late' }, create: true, defaultChunkSize: 0 });
    assert.equal(ns.root?.ino, 1);
  } finally {
    await s.close();
    await late?.stop();
  }
});

test('placement: a sealed chunk goes to exactly its R rendezvous nodes and is read back from any live replica', async () => {
  const clock = new ManualClock();
  const s = await Session.open({ dataAddr: cluster.nodes[0]!.address!, env, clock });
  try {
    const plaintext = randomBytes(300_000);
    const { chunkId, envelope } = await sealChunk(s.keys, plaintext);
    const route = s.chunkTransportsFor(chunkId);
    assert.equal(route.write.length, 2);
    assert.equal(route.read.length, 3);
    assert.deepEqual(route.write, route.read.slice(0, 2), 'holders are read first');
    clock.advance(1000);
    await Promise.all(route.write.map((t) => t.putChunks([envelope])));
    assert.equal(s.lastSuccessfulRpcAt, clock.now(), 'I-CC6: chunk transfers count as contact');

    // Where the chunk landed, read from the nodes' chunk directories (a GetChunks on a non-holder
    // would repair the chunk from its peers and so hide a misplacement).
    const holders = placeChunk(chunkId, [1, 2, 3], 2).write;
    const hex = chunkId.toString('hex');
    for (const n of cluster.nodes) {
      const file = join(dir, 'cluster', `node-${n.nodeId}`, 'chunks', TENANT, hex.slice(0, 2), hex);
      const present = await stat(file).then(() => true, () => false);
      assert.equal(present, holders.includes(n.nodeId), `node ${n.nodeId} ${holders.includes(n.nodeId) ? 'holds' : 'must not hold'} the chunk`);
    }
    const [first] = await route.read[0]!.getChunks([chunkId]);
    assert.deepEqual(await openChunk(s.keys, first!, chunkId), plaintext);
    // The best holder goes away: the second one in read order still serves the chunk.
    await cluster.nodes.find((n) => n.nodeId === holders[0])!.stop();
    await assert.rejects(route.read[0]!.getChunks([chunkId]));
    const [again] = await route.read[1]!.getChunks([chunkId]);
    assert.deepEqual(await openChunk(s.keys, again!, chunkId), plaintext);
  } finally {
    await s.close();
  }
});

// A single real kiseki-node over mTLS and its unix socket: discovery, heartbeat, keys, policy,
// namespace basics and chunk data through GrpcChunkTransport.
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { KisekiError } from '../../src/errors.js';
import { DedupPolicy } from '../../src/gen/kiseki/v1/common.js';
import { TransportKind } from '../../src/gen/kiseki/v1/discovery.js';
import { FileKind } from '../../src/gen/kiseki/v1/namespace.js';
import { KeyHealthState } from '../../src/gen/kiseki/v1/tenant_keys.js';
import { GrpcChunkTransport } from '../../src/transport/transport-grpc.js';
import { type CertSet, clientCredentials, makeCerts } from '../helpers/certs.js';
import { type NodeProcess, startNode } from '../helpers/node-process.js';
import { type NodeRpc, nameKey, nodeRpc, openSealed, sealed, sealedName } from '../helpers/node-rpc.js';

const A = '0a0a0a0a-0000-4000-8000-00000000000a';
const LOCAL = '00000000-0000-0000-0000-000000000001';
let dir: string;
let certs: CertSet;
let node: NodeProcess;
let rpcA: NodeRpc;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kiseki-node-basics-'));
  certs = await makeCerts(join(dir, 'certs'), { tenants: [A], nodes: [1] });
  node = await startNode({ dataDir: join(dir, 'data'), tls: { certs }, socket: true, listen: '127.0.0.1:0' });
  rpcA = nodeRpc(node.address!, clientCredentials(certs, certs.tenant(A)));
});

after(async () => {
  rpcA?.close();
  await node?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('ready line reports the bound port and the socket is mode 0600', () => {
  assert.match(node.address!, /^127\.0\.0\.1:\d+$/);
  assert.notEqual(node.address, '127.0.0.1:0');
  const st = statSync(node.socketPath!);
  assert.ok(st.isSocket());
  assert.equal(st.mode & 0o777, 0o600);
});

test('Discover lists this node as metadata leader with its TCP_TLS endpoint', async () => {
  const d = await rpcA.discovery('discover', {});
  assert.equal(d.nodes.length, 1);
  assert.equal(d.nodes[0]!.nodeId!.value, 1);
  assert.equal(d.nodes[0]!.metadataLeader, true);
  // The bulk chunk stream (ADR 0033) beside each listener comes first, gRPC last.
  assert.deepEqual(d.nodes[0]!.endpoints.map((e) => [e.kind, e.address]), [
    ...node.bulk.map((a) => [TransportKind.TRANSPORT_KIND_STREAM, a]), [TransportKind.TRANSPORT_KIND_TCP_TLS, node.address]]);
  assert.equal(node.bulk.length, 2, 'mTLS and unix streams');
  assert.equal(d.replicas, 1);
  assert.ok(d.ttlMs > 0);
  assert.equal(d.authRequirements?.mtlsRequired, true);
  assert.equal(d.authRequirements?.description, 'mTLS required, IdP optional');
  assert.equal(d.shards[0]!.leaderNode!.value, 1);
  assert.equal(d.views[0]!.protocol, 'posix');
});

test('Heartbeat answers with the node id; a client_id that is not 16 bytes is INVALID_ARGUMENT', async () => {
  const t0 = Date.now();
  const h = await rpcA.discovery('heartbeat', { clientId: randomBytes(16) });
  assert.equal(h.nodeId!.value, 1);
  assert.ok(h.serverTimeMs >= t0 - 5000);
  await assert.rejects(rpcA.discovery('heartbeat', { clientId: randomBytes(3) }), (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT && /client_id/.test(e.details));
});

test('FetchTenantKeys provisions the tenant once: epoch 1, 32-byte KEK and index key, CROSS_TENANT', async () => {
  const k1 = await rpcA.keys('fetchTenantKeys', {});
  const k2 = await rpcA.keys('fetchTenantKeys', {});
  assert.equal(k1.tenantId!.value, A);
  assert.equal(k1.currentEpoch!.value, 1);
  assert.equal(k1.keks.length, 1);
  assert.equal(k1.keks[0]!.kek.length, 32);
  assert.equal(k1.indexKey.length, 32);
  assert.equal(k1.dedupPolicy, DedupPolicy.DEDUP_POLICY_CROSS_TENANT);
  assert.deepEqual(k2.keks[0]!.kek, k1.keks[0]!.kek);
  assert.deepEqual(k2.indexKey, k1.indexKey);
  const h = await rpcA.keys('keyHealth', {});
  assert.equal(h.state, KeyHealthState.KEY_HEALTH_STATE_HEALTHY);
  assert.equal(h.currentEpoch!.value, 1);
});

test('the socket runs as the local tenant, a different tenant from the TLS one', async () => {
  const local = nodeRpc(`unix:${node.socketPath}`, grpc.credentials.createInsecure());
  try {
    const k = await local.keys('fetchTenantKeys', {});
    assert.equal(k.tenantId!.value, LOCAL);
    const a = await rpcA.keys('fetchTenantKeys', {});
    assert.notDeepEqual(k.indexKey, a.indexKey);
  } finally {
    local.close();
  }
});

test('GetCachePolicy returns the default policy for a tenant without one', async () => {
  const p = await rpcA.policy('getCachePolicy', { workloadId: '' });
  assert.equal(p.cacheEnabled, true);
  assert.deepEqual(p.allowedModes, ['pinned', 'organic', 'bypass']);
  assert.equal(p.defaultMode, 'organic');
  assert.equal(p.metadataTtlMs, 5000);
});

test('KeyManagerService Health and CurrentEpoch answer for the tenant', async () => {
  const h = await rpcA.keyManager('health', {});
  assert.equal(h.healthy, true);
  assert.deepEqual(h.raftMembers, [1]);
  const e = await rpcA.keyManager('currentEpoch', {});
  assert.equal(e.current!.value, 1);
});

test('namespace basics: open(create) gives root ino 1, create + lookup + readdir', async () => {
  const nsId = { value: 'basics' };
  await assert.rejects(rpcA.ns('openNamespace', { namespaceId: nsId, create: false, defaultChunkSize: 0 }), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
  const o = await rpcA.ns('openNamespace', { namespaceId: nsId, create: true, defaultChunkSize: 0 });
  assert.equal(o.root!.ino, 1);
  assert.equal(o.root!.kind, FileKind.FILE_KIND_DIRECTORY);
  assert.equal(o.root!.mode, 0o755);
  assert.equal(o.readOnly, false);
  const { attr } = await rpcA.ns('create', { namespaceId: nsId, parent: 1, nameKey: nameKey(1, 'hello'), sealedName: sealedName(1, 'hello'), mode: 0o644, uid: 1000, gid: 1000, exclusive: true, chunkSize: 0 });
  assert.equal(attr!.kind, FileKind.FILE_KIND_REGULAR);
  assert.equal(attr!.chunkSize, 4 * 1024 * 1024);
  assert.equal(attr!.nlink, 1);
  const found = await rpcA.ns('lookup', { namespaceId: nsId, parent: 1, nameKey: nameKey(1, 'hello') });
  assert.equal(found.attr!.ino, attr!.ino);
  const rd = await rpcA.ns('readDirPlus', { namespaceId: nsId, ino: 1, cursor: Buffer.alloc(0), limit: 0 });
  assert.equal(rd.eof, true);
  assert.equal(rd.entries.length, 1);
  assert.equal(openSealed(rd.entries[0]!.sealedName!).toString(), 'hello');
});

test('chunks round-trip through GrpcChunkTransport over TLS: multi-frame, in order, deduplicated', async () => {
  const t = new GrpcChunkTransport({ target: node.address!, credentials: clientCredentials(certs, certs.tenant(A)) });
  try {
    const plain = [randomBytes(3 * 1024 * 1024 + 17), randomBytes(10), Buffer.alloc(0)];
    const envs = plain.map((p) => sealed(p));
    await t.putChunks(envs);
    await t.putChunks(envs);
    const back = await t.getChunks([envs[2]!.chunkId!.value, envs[0]!.chunkId!.value, envs[1]!.chunkId!.value]);
    assert.deepEqual(back.map((e) => openSealed(e)), [plain[2], plain[0], plain[1]]);
    await assert.rejects(t.getChunks([randomBytes(32)]), (e) => KisekiError.is(e, 'NotFound'));
  } finally {
    await t.close();
  }
});

test('GrpcChunkTransport: an aborted call rejects with Closed, close() drains and later calls are Closed', async () => {
  const t = new GrpcChunkTransport({ target: `unix:${node.socketPath}`, credentials: grpc.credentials.createInsecure() });
  const big = sealed(randomBytes(8 * 1024 * 1024));
  const ac = new AbortController();
  const p = t.putChunks([big], ac.signal);
  ac.abort();
  await assert.rejects(p, (e) => KisekiError.is(e, 'Closed'));
  const pre = new AbortController();
  pre.abort();
  await assert.rejects(t.getChunks([big.chunkId!.value], pre.signal), (e) => KisekiError.is(e, 'Closed'));
  const inflight = t.putChunks([sealed(randomBytes(1000))]);
  await t.close();
  await inflight;
  await t.close();
  await assert.rejects(t.getChunks([randomBytes(32)]), (e) => KisekiError.is(e, 'Closed'));
});

test('GrpcChunkTransport: chunks going up and coming down at the same time never stall the transport', async () => {
  // Regression: on one HTTP/2 connection, concurrent PUTs and GETs of MiB-sized chunks filled both
  // socket buffers while Node's HTTP/2 on each side waited for its own write before reading again:
  // every call on the connection hung for good. Each direction now has a connection of its own.
  const t = new GrpcChunkTransport({ target: `unix:${node.socketPath}`, credentials: grpc.credentials.createInsecure() });
  try {
    const stored = Array.from({ length: 8 }, () => sealed(randomBytes(4 * 1024 * 1024)));
    await t.putChunks(stored);
    let moved = 0;
    const work = Promise.all(Array.from({ length: 8 }, async (_, w) => {
      for (let round = 0; round < 4; round++) {
        const [back] = await t.getChunks([stored[(w + round) % stored.length]!.chunkId!.value]);
        assert.ok(back!.ciphertext.equals(stored[(w + round) % stored.length]!.ciphertext));
        await t.putChunks([sealed(randomBytes(4 * 1024 * 1024))]);
        moved += 2;
      }
    }));
    let timer: NodeJS.Timeout | undefined;
    const stall = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`stalled after ${moved} of 64 transfers`)), 60_000); });
    try {
      await Promise.race([work, stall]);
    } finally {
      clearTimeout(timer);
    }
    assert.equal(moved, 64);
  } finally {
    await t.close();
  }
});

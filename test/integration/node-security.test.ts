// Identity and isolation on a real TLS kiseki-node: tenants only ever see their own namespaces and
// chunks, certificates from another CA or expired ones never get in, tenants and peer nodes are kept
// to their own services, and malformed requests are INVALID_ARGUMENT without harming the node.
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { KisekiError } from '../../src/errors.js';
import { ChunkDataServiceClient } from '../../src/gen/kiseki/v1/chunk_data.js';
import { GrpcChunkTransport } from '../../src/transport/transport-grpc.js';
import { type CertSet, clientCredentials, makeCerts } from '../helpers/certs.js';
import { type NodeProcess, startNode } from '../helpers/node-process.js';
import { nameKey, nodeRpc, rejectsWith, sealed, sealedName } from '../helpers/node-rpc.js';

const E = constants.errno;
const S = grpc.status;
const A = 'aaaaaaaa-0000-4000-8000-00000000000a';
const B = 'bbbbbbbb-0000-4000-8000-00000000000b';
let dir: string;
let certs: CertSet;
let node: NodeProcess;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kiseki-node-sec-'));
  certs = await makeCerts(join(dir, 'certs'), { tenants: [A, B], nodes: [1, 2] });
  node = await startNode({ dataDir: join(dir, 'data'), tls: { certs, nodeId: 1 } });
});
after(async () => {
  await node?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const rpcAs = (pair: { cert: string; key: string }, ca?: string) => nodeRpc(node.address!, clientCredentials(certs, pair, ca));
const deadline = () => ({ deadline: Date.now() + 5000 });

test('I-N2 tenant B cannot reach tenant A\'s namespace, inodes or chunks', async () => {
  const a = rpcAs(certs.tenant(A));
  const b = rpcAs(certs.tenant(B));
  const ta = new GrpcChunkTransport({ target: node.address!, credentials: clientCredentials(certs, certs.tenant(A)) });
  const tb = new GrpcChunkTransport({ target: node.address!, credentials: clientCredentials(certs, certs.tenant(B)) });
  try {
    const namespaceId = { value: 'shared-name' };
    await a.ns('openNamespace', { namespaceId, create: true, defaultChunkSize: 0 });
    const f = (await a.ns('create', { namespaceId, parent: 1, nameKey: nameKey(1, 'secret'), sealedName: sealedName(1, 'secret'), mode: 0o600, uid: 0, gid: 0, exclusive: true, chunkSize: 0 })).attr!;
    await rejectsWith(b.ns('openNamespace', { namespaceId, create: false, defaultChunkSize: 0 }), S.NOT_FOUND, E.ENOENT);
    await rejectsWith(b.ns('getAttr', { namespaceId, ino: f.ino }), S.NOT_FOUND, E.ENOENT);
    await b.ns('openNamespace', { namespaceId, create: true, defaultChunkSize: 0 });
    await rejectsWith(b.ns('lookup', { namespaceId, parent: 1, nameKey: nameKey(1, 'secret') }), S.NOT_FOUND, E.ENOENT);
    await rejectsWith(b.ns('getAttr', { namespaceId, ino: f.ino }), S.NOT_FOUND, E.ENOENT);
    assert.equal((await b.ns('readDirPlus', { namespaceId, ino: 1, cursor: Buffer.alloc(0), limit: 0 })).entries.length, 0);
    assert.equal((await a.ns('readDirPlus', { namespaceId, ino: 1, cursor: Buffer.alloc(0), limit: 0 })).entries.length, 1);
    const env = sealed(randomBytes(1000));
    await ta.putChunks([env]);
    await assert.rejects(tb.getChunks([env.chunkId!.value]), (e) => KisekiError.is(e, 'NotFound'));
    assert.equal((await ta.getChunks([env.chunkId!.value]))[0]!.ciphertext.length, 1000);
  } finally {
    a.close(); b.close();
    await ta.close(); await tb.close();
  }
});

test('a certificate from another CA is refused at the TLS handshake', async () => {
  const r = rpcAs(certs.rogue);
  try {
    await assert.rejects(new Promise((res, rej) => r.raw.discovery.discover({}, new grpc.Metadata(), deadline(), (e, v) => (e ? rej(e) : res(v)))),
      (e: grpc.ServiceError) => e.code === S.UNAVAILABLE || e.code === S.DEADLINE_EXCEEDED);
  } finally {
    r.close();
  }
});

test('an expired tenant certificate is refused at the TLS handshake', async () => {
  const r = rpcAs(certs.expired);
  try {
    await assert.rejects(new Promise((res, rej) => r.raw.keys.fetchTenantKeys({}, new grpc.Metadata(), deadline(), (e, v) => (e ? rej(e) : res(v)))),
      (e: grpc.ServiceError) => e.code === S.UNAVAILABLE || e.code === S.DEADLINE_EXCEEDED);
  } finally {
    r.close();
  }
});

test('a client without a certificate is refused', async () => {
  const client = new ChunkDataServiceClient(node.address!, grpc.credentials.createSsl(readFileSync(certs.ca)));
  try {
    await assert.rejects(new Promise((res, rej) => client.openFabricSession({ provider: 'tcp', clientFabricAddress: Buffer.alloc(0) }, new grpc.Metadata(), deadline(), (e, v) => (e ? rej(e) : res(v)))),
      (e: grpc.ServiceError) => e.code === S.UNAVAILABLE || e.code === S.DEADLINE_EXCEEDED);
  } finally {
    client.close();
  }
});

test('tenant certificates are refused on ClusterChunkService; peer certificates are refused on tenant services', async () => {
  const t = rpcAs(certs.tenant(A));
  const peer = rpcAs(certs.node(2));
  try {
    const req = { chunkId: { value: randomBytes(32) }, fragmentIndex: 0, tenantId: { value: A } };
    await rejectsWith(t.cluster('hasFragment', req), S.PERMISSION_DENIED, E.EACCES, /peer nodes/);
    await rejectsWith(peer.ns('openNamespace', { namespaceId: { value: 'x' }, create: true, defaultChunkSize: 0 }), S.PERMISSION_DENIED);
    await rejectsWith(peer.keys('fetchTenantKeys', {}), S.PERMISSION_DENIED);
  } finally {
    t.close(); peer.close();
  }
});

test('a peer node stores, finds, reads and deletes a tenant\'s whole-envelope fragment; the tenant then reads it on the data path', async () => {
  const peer = rpcAs(certs.node(2));
  const ta = new GrpcChunkTransport({ target: node.address!, credentials: clientCredentials(certs, certs.tenant(A)) });
  try {
    const env = sealed(randomBytes(5000));
    const chunkId = env.chunkId!;
    const tenantId = { value: A };
    assert.equal((await peer.cluster('hasFragment', { chunkId, fragmentIndex: 0, tenantId })).present, false);
    assert.equal((await peer.cluster('putFragment', { chunkId, fragmentIndex: 0, tenantId, poolId: undefined, envelope: env, leaderTs: undefined })).stored, true);
    const has = await peer.cluster('hasFragment', { chunkId, fragmentIndex: 0, tenantId });
    assert.equal(has.present, true);
    assert.deepEqual((await peer.cluster('getFragment', { chunkId, fragmentIndex: 0, tenantId })).envelope!.ciphertext, env.ciphertext);
    assert.deepEqual((await ta.getChunks([chunkId.value]))[0]!.ciphertext, env.ciphertext);
    await rejectsWith(peer.cluster('getFragment', { chunkId, fragmentIndex: 0, tenantId: { value: B } }), S.NOT_FOUND);
    await rejectsWith(peer.cluster('getFragment', { chunkId, fragmentIndex: 1, tenantId }), S.INVALID_ARGUMENT, E.EINVAL, /fragment_index/);
    assert.equal((await peer.cluster('deleteFragment', { chunkId, fragmentIndex: 0, tenantId })).deleted, true);
    assert.equal((await peer.cluster('hasFragment', { chunkId, fragmentIndex: 0, tenantId })).present, false);
  } finally {
    peer.close();
    await ta.close();
  }
});

test('malformed requests are INVALID_ARGUMENT and the node keeps answering', async () => {
  const creds = clientCredentials(certs, certs.tenant(A));
  const Raw = grpc.makeGenericClientConstructor({
    lookup: { path: '/kiseki.v1.NamespaceService/Lookup', requestStream: false, responseStream: false,
      requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b },
    heartbeat: { path: '/kiseki.v1.DiscoveryService/Heartbeat', requestStream: false, responseStream: false,
      requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b },
  }, 'Raw');
  const raw = new Raw(node.address!, creds) as unknown as Record<string, (req: Buffer, cb: (e: grpc.ServiceError | null) => void) => void>;
  const rawCall = (m: string, b: Buffer) => new Promise((res, rej) => raw[m]!.call(raw, b, (e) => (e ? rej(e) : res(null))));
  const r = rpcAs(certs.tenant(A));
  const t = new GrpcChunkTransport({ target: node.address!, credentials: creds });
  try {
    // 0xff… is an unterminated varint; 0x0a 0x7f claims 127 bytes that are not there.
    await rejectsWith(rawCall('lookup', Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])), S.INVALID_ARGUMENT, E.EINVAL, /decoded/);
    await rejectsWith(rawCall('heartbeat', Buffer.from([0x0a, 0x7f, 0x01])), S.INVALID_ARGUMENT, E.EINVAL);
    await assert.rejects(t.getChunks([randomBytes(31)]), (e) => KisekiError.is(e, 'InvalidArgument') && /chunk_ids\[0\]/.test(e.message));
    const bad = sealed(randomBytes(10));
    bad.nonce = randomBytes(8);
    await assert.rejects(t.putChunks([bad]), (e) => KisekiError.is(e, 'InvalidArgument') && /nonce/.test(e.message));
    await r.ns('openNamespace', { namespaceId: { value: 'malformed' }, create: true, defaultChunkSize: 0 });
    await rejectsWith(r.ns('lookup', { namespaceId: { value: 'malformed' }, parent: 1, nameKey: randomBytes(7) }), S.INVALID_ARGUMENT, E.EINVAL, /name_key/);
    await rejectsWith(r.ns('lookup', { namespaceId: { value: 'bad/ns id' }, parent: 1, nameKey: randomBytes(32) }), S.INVALID_ARGUMENT, E.EINVAL, /namespace_id/);
    await rejectsWith(r.ns('getAttr', { namespaceId: { value: 'malformed' }, ino: 0 }), S.INVALID_ARGUMENT, E.EINVAL, /ino/);
    const huge = sealedName(1, 'x');
    huge.ciphertext = randomBytes(1 << 20);
    await rejectsWith(r.ns('mkDir', { namespaceId: { value: 'malformed' }, parent: 1, nameKey: nameKey(1, 'x'), sealedName: huge, mode: 0o755, uid: 0, gid: 0 }), S.INVALID_ARGUMENT, E.ENAMETOOLONG);
    const noAlg = sealedName(1, 'y');
    noAlg.algorithm = 7 as never;
    await rejectsWith(r.ns('mkDir', { namespaceId: { value: 'malformed' }, parent: 1, nameKey: nameKey(1, 'y'), sealedName: noAlg, mode: 0o755, uid: 0, gid: 0 }), S.INVALID_ARGUMENT, E.EINVAL, /algorithm/);
    // Still alive and serving.
    assert.equal((await r.discovery('discover', {})).nodes.length, 1);
    assert.equal(process.kill(node.pid, 0), true);
  } finally {
    (raw as unknown as grpc.Client).close();
    r.close();
    await t.close();
  }
});

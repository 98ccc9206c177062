// A real 3-node loopback cluster with TLS and --read-repair: every node gives the same discovery
// answer, only the leader serves the namespace (others redirect), chunks placed by rendezvous on
// R = 2 replicas are readable from each replica, including after one of them dies, and a replica
// that missed a write repairs itself from a peer.
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { KisekiError } from '../../src/errors.js';
import { placeChunk } from '../../src/client/placement.js';
import { GrpcChunkTransport } from '../../src/transport/transport-grpc.js';
import { type DiscoverResponse, TransportKind } from '../../src/gen/kiseki/v1/discovery.js';
import { type CertSet, clientCredentials, makeCerts } from '../helpers/certs.js';
import { type ClusterProcess, startCluster } from '../helpers/node-process.js';
import { nodeRpc, openSealed, rejectsWith, sealed } from '../helpers/node-rpc.js';

const A = 'c1c1c1c1-0000-4000-8000-0000000000c1';
let dir: string;
let certs: CertSet;
let cluster: ClusterProcess;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kiseki-node-cluster-'));
  certs = await makeCerts(join(dir, 'certs'), { tenants: [A], nodes: [1, 2, 3] });
  cluster = await startCluster(3, { certs, dataRoot: dir, replicas: 2, args: ['--read-repair'] });
});
after(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const creds = () => clientCredentials(certs, certs.tenant(A));

test('every node answers Discover with all three nodes, node 1 as metadata leader, replicas 2', async () => {
  const answers: DiscoverResponse[] = [];
  for (const n of cluster.nodes) {
    const r = nodeRpc(n.address!, creds());
    try {
      answers.push(await r.discovery('discover', {}));
    } finally {
      r.close();
    }
  }
  // Each node advertises its own bulk stream (ADR 0033; like a fabric endpoint, only the node itself
  // knows it); everything else is the same answer on every node.
  const withoutStreams = (d: DiscoverResponse): DiscoverResponse => ({
    ...d, nodes: d.nodes.map((x) => ({ ...x, endpoints: x.endpoints.filter((e) => e.kind !== TransportKind.TRANSPORT_KIND_STREAM) })),
  });
  answers.forEach((d, k) => {
    assert.deepEqual(d.nodes.map((x) => [x.nodeId!.value, x.metadataLeader, x.endpoints.at(-1)!.address]),
      cluster.nodes.map((n, i) => [i + 1, i === 0, n.address]));
    assert.deepEqual(d.nodes.map((x) => x.endpoints.filter((e) => e.kind === TransportKind.TRANSPORT_KIND_STREAM).map((e) => e.address)),
      cluster.nodes.map((n, i) => (i === k ? n.bulk : [])));
    assert.equal(d.replicas, 2);
    assert.equal(d.shards[0]!.leaderNode!.value, 1);
  });
  assert.deepEqual(withoutStreams(answers[1]!), withoutStreams(answers[0]!));
  assert.deepEqual(withoutStreams(answers[2]!), withoutStreams(answers[0]!));
});

test('a non-leader answers NamespaceService with UNAVAILABLE and kiseki-leader naming the leader', async () => {
  const r = nodeRpc(cluster.nodes[2]!.address!, creds());
  const leader = nodeRpc(cluster.nodes[0]!.address!, creds());
  try {
    const e = await rejectsWith(r.ns('openNamespace', { namespaceId: { value: 'c' }, create: true, defaultChunkSize: 0 }), grpc.status.UNAVAILABLE);
    assert.deepEqual(e.metadata.get('kiseki-leader'), [cluster.nodes[0]!.address]);
    const o = await leader.ns('openNamespace', { namespaceId: { value: 'c' }, create: true, defaultChunkSize: 0 });
    assert.equal(o.root!.ino, 1);
  } finally {
    r.close();
    leader.close();
  }
});

test('read repair: a replica that missed a write fetches the chunk from a peer over ClusterChunkService, then holds it itself', async () => {
  const transports = cluster.nodes.map((n) => new GrpcChunkTransport({ target: n.address!, credentials: creds() }));
  try {
    const env = sealed(randomBytes(200_000));
    const id = env.chunkId!.value;
    const [first, second] = placeChunk(id, [1, 2, 3], 2).write;
    await transports[first! - 1]!.putChunks([env]);
    const secondPeer = nodeRpc(cluster.nodes[second! - 1]!.address!, clientCredentials(certs, certs.node(first!)));
    try {
      const has = () => secondPeer.cluster('hasFragment', { chunkId: { value: id }, fragmentIndex: 0, tenantId: { value: A } });
      assert.equal((await has()).present, false, 'the second replica missed the write');
      assert.deepEqual(openSealed((await transports[second! - 1]!.getChunks([id]))[0]!), openSealed(env));
      assert.equal((await has()).present, true, 'and now holds it');
    } finally {
      secondPeer.close();
    }
    await assert.rejects(transports[second! - 1]!.getChunks([randomBytes(32)]), (e) => KisekiError.is(e, 'NotFound') && /nor on its peers/.test(e.message));
  } finally {
    await Promise.all(transports.map((t) => t.close()));
  }
});

test('chunks written to their R rendezvous replicas are readable from each, and survive a replica\'s death', async () => {
  const transports = cluster.nodes.map((n) => new GrpcChunkTransport({ target: n.address!, credentials: creds() }));
  try {
    const envs = Array.from({ length: 12 }, () => sealed(randomBytes(4096)));
    const placement = envs.map((e) => placeChunk(e.chunkId!.value, [1, 2, 3], 2).write);
    for (let i = 0; i < envs.length; i++) {
      await Promise.all(placement[i]!.map((id) => transports[id - 1]!.putChunks([envs[i]!])));
    }
    for (let i = 0; i < envs.length; i++) {
      const id = envs[i]!.chunkId!.value;
      for (const nodeId of placement[i]!) {
        assert.deepEqual(openSealed((await transports[nodeId - 1]!.getChunks([id]))[0]!), openSealed(envs[i]!));
      }
    }
    await cluster.nodes[1]!.kill9();
    for (let i = 0; i < envs.length; i++) {
      const live = placement[i]!.find((id) => id !== 2)!;
      assert.deepEqual(openSealed((await transports[live - 1]!.getChunks([envs[i]!.chunkId!.value]))[0]!), openSealed(envs[i]!));
    }
  } finally {
    await Promise.all(transports.map((t) => t.close()));
  }
});

// kiseki-node with --fabric-provider tcp: discovery advertises the FABRIC endpoint, OpenFabricSession
// over mTLS issues tokens bound to the certificate's tenant, and chunks move between the gRPC and the
// libfabric paths of the same node (real libfabric tcp provider on loopback).
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { KisekiError } from '../../src/errors.js';
import { ChunkDataServiceClient, type OpenFabricSessionResponse } from '../../src/gen/kiseki/v1/chunk_data.js';
import { TransportKind } from '../../src/gen/kiseki/v1/discovery.js';
import { FabricChunkTransport, closeClientEndpoints } from '../../src/transport/transport-fabric.js';
import { GrpcChunkTransport } from '../../src/transport/transport-grpc.js';
import { type CertSet, clientCredentials, makeCerts } from '../helpers/certs.js';
import { type NodeProcess, startNode } from '../helpers/node-process.js';
import { nodeRpc, openSealed, rejectsWith, sealed } from '../helpers/node-rpc.js';

const A = 'fa000000-0000-4000-8000-0000000000fa';
const B = 'fb000000-0000-4000-8000-0000000000fb';
let dir: string;
let certs: CertSet;
let node: NodeProcess;
let plain: NodeProcess;
/** Why the fabric tests cannot run here (no libfabric, no native addon), or null. */
let noFabric: string | null = null;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kiseki-node-fabric-'));
  certs = await makeCerts(join(dir, 'certs'), { tenants: [A, B], nodes: [1] });
  plain = await startNode({ dataDir: join(dir, 'plain'), tls: { certs } });
  node = await startNode({ dataDir: join(dir, 'data'), tls: { certs }, args: ['--fabric-provider', 'tcp'] });
  // A provider that cannot open leaves a node serving gRPC only (and says why on stderr).
  const r = nodeRpc(node.address!, clientCredentials(certs, certs.tenant(A)));
  try {
    const eps = (await r.discovery('discover', {})).nodes[0]!.endpoints;
    if (!eps.some((e) => e.kind === TransportKind.TRANSPORT_KIND_FABRIC)) {
      noFabric = /"msg":"fabric listener unavailable[^"]*"/.exec(node.stderr())?.[0] ?? 'no FABRIC endpoint in discovery';
    }
  } finally {
    r.close();
  }
});
after(async () => {
  await closeClientEndpoints();
  await node?.stop();
  await plain?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function fabricFor(tenant: string, provider: string, address: Buffer): FabricChunkTransport {
  const client = new ChunkDataServiceClient(node.address!, clientCredentials(certs, certs.tenant(tenant)));
  return new FabricChunkTransport({
    name: 'fabric-tcp', provider, nodeFabricAddress: address, timeoutMs: 20_000,
    openSession: (req) => new Promise((resolve, reject) => client.openFabricSession(req, (e, r: OpenFabricSessionResponse) => (e ? reject(e) : resolve({
      token: r.token, nodeFabricAddress: r.nodeFabricAddress, provider: r.provider,
    })))),
  });
}

test('Discover lists the FABRIC endpoint first, then the bulk STREAM, then TCP_TLS', async (t) => {
  if (noFabric) return t.skip(noFabric);
  const r = nodeRpc(node.address!, clientCredentials(certs, certs.tenant(A)));
  try {
    const eps = (await r.discovery('discover', {})).nodes[0]!.endpoints;
    assert.deepEqual(eps.map((e) => e.kind), [TransportKind.TRANSPORT_KIND_FABRIC, TransportKind.TRANSPORT_KIND_STREAM, TransportKind.TRANSPORT_KIND_TCP_TLS]);
    assert.match(eps[0]!.provider, /^tcp/);
    assert.ok(eps[0]!.fabricAddress.length > 0);
  } finally {
    r.close();
  }
});

test('chunks put over gRPC are read over the fabric and vice versa; tenant B\'s session cannot read A\'s chunk', async (t) => {
  if (noFabric) return t.skip(noFabric);
  const r = nodeRpc(node.address!, clientCredentials(certs, certs.tenant(A)));
  const ep = (await r.discovery('discover', {})).nodes[0]!.endpoints[0]!;
  r.close();
  const g = new GrpcChunkTransport({ target: node.address!, credentials: clientCredentials(certs, certs.tenant(A)) });
  const fa = fabricFor(A, ep.provider, ep.fabricAddress);
  const fb = fabricFor(B, ep.provider, ep.fabricAddress);
  try {
    const viaGrpc = sealed(randomBytes(3 * 1024 * 1024));
    await g.putChunks([viaGrpc]);
    assert.deepEqual(openSealed((await fa.getChunks([viaGrpc.chunkId!.value]))[0]!), openSealed(viaGrpc));
    const viaFabric = sealed(randomBytes(100_000));
    await fa.putChunks([viaFabric]);
    assert.deepEqual(openSealed((await g.getChunks([viaFabric.chunkId!.value]))[0]!), openSealed(viaFabric));
    await assert.rejects(fb.getChunks([viaGrpc.chunkId!.value]), (e) => KisekiError.is(e, 'NotFound'));
  } finally {
    await Promise.all([g.close(), fa.close(), fb.close()]);
  }
});

test('a node without a fabric answers OpenFabricSession with FAILED_PRECONDITION/ENOTSUP', async () => {
  const client = new ChunkDataServiceClient(plain.address!, clientCredentials(certs, certs.tenant(A)));
  try {
    await rejectsWith(new Promise((res, rej) => client.openFabricSession({ provider: 'tcp', clientFabricAddress: Buffer.alloc(0) }, (e, v) => (e ? rej(e) : res(v)))),
      grpc.status.FAILED_PRECONDITION, constants.errno.ENOTSUP);
  } finally {
    client.close();
  }
});

// The whole transport stack against a real kiseki-node with mTLS and a libfabric listener (tcp
// provider on loopback): discovery advertises the fabric endpoint, OpenFabricSession issues the
// token over mTLS, chunks move over the fabric; closing the node's fabric listener mid-stream
// (SIGUSR1) fails over to gRPC over TCP+TLS with zero failed reads, and reads return to the fabric
// after it reopens (SIGUSR2). A node without a fabric listener is served over TCP+TLS only.
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DiscoveryServiceClient, TransportKind, type DiscoverResponse } from '../../src/gen/kiseki/v1/discovery.js';
import { probeFacts } from '../../src/transport/fabric-binding.js';
import { grpcFabricSessions } from '../../src/transport/fabric-session.js';
import { closeClientEndpoints } from '../../src/transport/transport-fabric.js';
import { CHUNK_CHANNEL_OPTIONS, GrpcChunkTransport } from '../../src/transport/transport-grpc.js';
import { TransportMetrics } from '../../src/transport/transport-metrics.js';
import { decide } from '../../src/transport/transport-probe.js';
import { transportForNode } from '../../src/transport/transport-selector.js';
import { clientCredentials, makeCerts, type CertSet } from '../helpers/certs.js';
import { checkEnvelopes, idOf, makeEnvelope, TENANT_A } from '../helpers/fabric-chunks.js';
import { startNode, type NodeProcess } from '../helpers/node-process.js';

let dir: string;
let certs: CertSet;
let creds: grpc.ChannelCredentials;
const nodes: NodeProcess[] = [];

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'ksk-node-fabric-'));
  certs = await makeCerts(path.join(dir, 'certs'), { tenants: [TENANT_A], nodes: [1] });
  creds = clientCredentials(certs, certs.tenant(TENANT_A));
});

after(async () => {
  await closeClientEndpoints();
  for (const n of nodes) await n.stop();
  rmSync(dir, { recursive: true, force: true });
});

function discover(address: string): Promise<DiscoverResponse> {
  const c = new DiscoveryServiceClient(address, creds);
  return new Promise((resolve, reject) =>
    c.discover({}, (err, res) => {
      c.close();
      return err ? reject(err) : resolve(res!);
    }),
  );
}

async function until(what: string, cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const fabricDecision = async () =>
  decide(await probeFacts('tcp'), { KISEKI_TRANSPORT: 'fabric-tcp', KISEKI_FABRIC_PROVIDER: 'tcp' });

test('closing the node fabric listener mid-stream fails over to TCP+TLS with zero failed reads and returns after it reopens', async () => {
  const node = await startNode({ dataDir: path.join(dir, 'n1'), tls: { certs, nodeId: 1 }, args: ['--fabric-provider', 'tcp'] });
  nodes.push(node);
  const info = (await discover(node.address!)).nodes[0]!;
  const fabricEp = info.endpoints.find((e) => e.kind === TransportKind.TRANSPORT_KIND_FABRIC);
  assert.ok(fabricEp, 'discovery advertises the fabric endpoint');
  assert.equal(fabricEp.provider, 'tcp;ofi_rxm');
  assert.equal(info.endpoints.at(-1)!.kind, TransportKind.TRANSPORT_KIND_TCP_TLS);

  const sessions = grpcFabricSessions(node.address!, creds);
  const metrics = new TransportMetrics();
  const sel = transportForNode({
    node: 'node-1',
    endpoints: info.endpoints,
    decision: await fabricDecision(),
    tls: new GrpcChunkTransport({ target: node.address!, credentials: creds, channelOptions: CHUNK_CHANNEL_OPTIONS }),
    openSession: sessions.open,
    metrics,
    policy: { failureThreshold: 5, failureWindowMs: 30_000, reprobeIntervalMs: 1000 },
    fabricTimeoutMs: 800,
  });
  assert.deepEqual(sel.status().transports.map((t) => t.name), ['fabric-tcp', 'tcp-tls']);

  const envs = Array.from({ length: 24 }, (_, i) => makeEnvelope(1000 + i * 40_000));
  await sel.putChunks(envs);
  assert.equal(sel.status().active, 'fabric-tcp', 'puts went over the fabric');
  // what the fabric stored, the TLS path reads back: one store behind both
  const viaTls = new GrpcChunkTransport({ target: node.address!, credentials: creds });
  assert.equal(checkEnvelopes(envs.slice(0, 3), await viaTls.getChunks(envs.slice(0, 3).map(idOf))), null);
  await viaTls.close();

  let failed = 0;
  const errors: string[] = [];
  const served = { 'fabric-tcp': 0, 'tcp-tls': 0 } as Record<string, number>;
  let stop = false;
  let i = 0;
  const reader = (async () => {
    while (!stop) {
      const e = envs[i++ % envs.length]!;
      try {
        const bad = checkEnvelopes([e], await sel.getChunks([idOf(e)]));
        if (bad) throw new Error(bad);
        served[sel.status().active]!++;
      } catch (err) {
        failed++;
        errors.push((err as Error).message);
      }
    }
  })();

  await until('reads over the fabric', () => served['fabric-tcp']! >= 30);
  process.kill(node.pid, 'SIGUSR1');
  await until('fabric marked down', () => sel.status().transports[0]!.state === 'down');
  const tlsBefore = served['tcp-tls']!;
  await until('reads over TCP+TLS', () => served['tcp-tls']! >= tlsBefore + 20);
  process.kill(node.pid, 'SIGUSR2');
  const fabricBefore = served['fabric-tcp']!;
  await until('reads back on the fabric', () => served['fabric-tcp']! >= fabricBefore + 20);
  stop = true;
  await reader;

  assert.equal(failed, 0, `failed reads: ${errors.slice(0, 3).join('; ')}`);
  const st = sel.status();
  assert.equal(st.active, 'fabric-tcp');
  assert.ok(st.failovers >= 1);
  const text = await metrics.registry.metrics();
  assert.match(text, /kiseki_transport_failovers_total\{node="node-1",from="fabric-tcp",to="tcp-tls"\} [1-9]/);
  assert.match(text, /kiseki_transport_bytes_total\{transport="tcp-tls",direction="in"\} [1-9]/);
  assert.match(text, /kiseki_transport_active\{node="node-1",transport="fabric-tcp"\} 1/);
  await sel.close();
  sessions.close();
});

test('a node without a fabric listener advertises none and is served over TCP+TLS only', async () => {
  const node = await startNode({ dataDir: path.join(dir, 'n2'), tls: { certs, nodeId: 1 } });
  nodes.push(node);
  const info = (await discover(node.address!)).nodes[0]!;
  assert.equal(info.endpoints.filter((e) => e.kind === TransportKind.TRANSPORT_KIND_FABRIC).length, 0);
  const sessions = grpcFabricSessions(node.address!, creds);
  await assert.rejects(sessions.open({ provider: 'tcp', clientFabricAddress: Buffer.alloc(16) }), /no fabric endpoint/);
  const sel = transportForNode({
    node: 'node-2',
    endpoints: info.endpoints,
    decision: await fabricDecision(),
    tls: new GrpcChunkTransport({ target: node.address!, credentials: creds }),
    openSession: sessions.open,
  });
  const envs = [makeEnvelope(100_000), makeEnvelope(7)];
  await sel.putChunks(envs);
  assert.equal(checkEnvelopes(envs, await sel.getChunks(envs.map(idOf))), null);
  assert.deepEqual(sel.status().transports.map((t) => t.name), ['tcp-tls']);
  await sel.close();
  sessions.close();
});

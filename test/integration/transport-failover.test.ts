// Failover for real: a client reads chunks in a stream through a TransportSelector whose preferred
// transport is the libfabric path to node A's listener process. A is killed (SIGKILL) mid-stream:
// every read still succeeds via the next transport, the failure is counted as a failover, and A's
// health goes down. A is restarted on the same address; the re-probe finds it and reads return to
// it. Until kiseki-node (gRPC over TCP+TLS) is in main, the fallback is a second, independent
// listener process B serving the same chunk directory over the fabric (see docs/transport.md).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { closeClientEndpoints, FabricChunkTransport } from '../../src/transport/transport-fabric.js';
import { TransportMetrics } from '../../src/transport/transport-metrics.js';
import { TransportSelector } from '../../src/transport/transport-selector.js';
import { checkEnvelopes, idOf, makeEnvelope } from '../helpers/fabric-chunks.js';
import { startFabricNode, type FabricNode } from '../helpers/fabric-node.js';

let dir: string;
let nodeA: FabricNode;
let nodeB: FabricNode;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'ksk-failover-'));
  nodeA = await startFabricNode({ provider: 'tcp', dir });
  nodeB = await startFabricNode({ provider: 'tcp', dir });
});

after(async () => {
  await closeClientEndpoints();
  await nodeA.stop();
  await nodeB.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function until(what: string, cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

test('killing the fabric listener mid-stream fails over with zero failed reads and returns after it is back', async () => {
  const portA = nodeA.address.readUInt16BE(2);
  // Node A is looked up by its address; a restarted A gets a fresh session from whichever process owns the port.
  let sessionA = nodeA.openSession;
  const tA = new FabricChunkTransport({ name: 'fabric-tcp', provider: 'tcp', nodeFabricAddress: nodeA.address, openSession: (r) => sessionA(r), timeoutMs: 800 });
  const tB = new FabricChunkTransport({ name: 'fabric-tcp', provider: 'tcp', nodeFabricAddress: nodeB.address, openSession: nodeB.openSession, timeoutMs: 5000 });
  const metrics = new TransportMetrics();
  const sel = new TransportSelector({
    node: 'node-a',
    chain: [tA, tB],
    metrics,
    policy: { failureThreshold: 5, failureWindowMs: 30_000, reprobeIntervalMs: 1000 },
  });
  const envs = Array.from({ length: 24 }, (_, i) => makeEnvelope(1000 + i * 40_000));
  await tB.putChunks(envs);

  let reads = 0;
  let failed = 0;
  const served = [0, 0];
  let stop = false;
  const errors: string[] = [];
  const reader = (async () => {
    while (!stop) {
      const e = envs[reads % envs.length]!;
      try {
        const got = await sel.getChunks([idOf(e)]);
        const bad = checkEnvelopes([e], got);
        if (bad) throw new Error(bad);
        served[sel.status().activeIndex]!++;
      } catch (err) {
        failed++;
        errors.push((err as Error).message);
      }
      reads++;
    }
  })();

  await until('reads over the fabric to A', () => served[0]! >= 30);
  assert.equal(sel.status().active, 'fabric-tcp');
  await nodeA.stop('SIGKILL');
  await until('A marked down', () => sel.status().transports[0]!.state === 'down');
  const servedByBBefore = served[1]!;
  await until('reads via the fallback', () => served[1]! >= servedByBBefore + 20);
  assert.equal(sel.status().activeIndex, 1);

  nodeA = await startFabricNode({ provider: 'tcp', dir, port: String(portA) });
  sessionA = nodeA.openSession;
  const servedByABefore = served[0]!;
  await until('reads back on A after the re-probe', () => served[0]! >= servedByABefore + 20);
  stop = true;
  await reader;

  assert.equal(failed, 0, `failed reads: ${errors.slice(0, 3).join('; ')}`);
  const st = sel.status();
  assert.equal(st.activeIndex, 0);
  assert.equal(st.transports[0]!.state, 'healthy');
  assert.ok(st.failovers >= 1, `failovers ${st.failovers}`);
  const text = await metrics.registry.metrics();
  assert.match(text, /kiseki_transport_failovers_total\{node="node-a",from="fabric-tcp",to="fabric-tcp"\} [1-9]/);
  assert.match(text, /kiseki_transport_reprobes_total\{node="node-a",transport="fabric-tcp",result="ok"\} [1-9]/);
  await sel.close();
});

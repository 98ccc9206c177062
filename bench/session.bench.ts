// The client session's control path against a real kiseki-node over mTLS on loopback, each figure
// beside its peer measured in the same round:
//   Discover via callUnary (deadline, errno mapping, liveness)  vs  the generated grpc-js client
//   GetAttr via session.namespace (readiness guard + callUnary)   vs  the generated grpc-js client
//   placeChunk over 16 nodes                                      vs  one SHA-256 of 40 bytes (×16 is the floor)
// plus the median time of Session.open (discovery + keys + policy) over 10 opens.
// Run: npx tsc -p tsconfig.json && node dist/bench/session.bench.js   (KISEKI_BENCH_MS per task, default 1500)
import { Metadata } from '@grpc/grpc-js';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../src/cache/clock.js';
import { NodeChannels } from '../src/client/node-channels.js';
import { placeChunk } from '../src/client/placement.js';
import { RpcLiveness, callUnary } from '../src/client/rpc.js';
import { parseSeed } from '../src/client/seeds.js';
import { Session } from '../src/client/session.js';
import { loadTlsMaterial } from '../src/client/tls-credentials.js';
import { DiscoveryServiceClient, DiscoveryServiceService } from '../src/gen/kiseki/v1/discovery.js';
import { NamespaceServiceClient } from '../src/gen/kiseki/v1/namespace.js';
import { clientCredentials, makeCerts } from '../test/helpers/certs.js';
import { startNode } from '../test/helpers/node-process.js';

const TIME_MS = Number(process.env.KISEKI_BENCH_MS ?? 1500);
const ROUNDS = 3;
const T = '5e551000-0000-4000-8000-00000000be00';
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function unary<Res>(f: (cb: (err: Error | null, res: Res) => void) => void): Promise<Res> {
  return new Promise((resolve, reject) => f((err, res) => (err ? reject(err) : resolve(res))));
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(os.tmpdir(), 'ksession-bench-'));
  const certs = await makeCerts(join(dir, 'pki'), { tenants: [T], nodes: [1] });
  const node = await startNode({ dataDir: join(dir, 'node'), tls: { certs } });
  const env = { KISEKI_CA_PATH: certs.ca, KISEKI_CERT_PATH: certs.tenant(T).cert, KISEKI_KEY_PATH: certs.tenant(T).key };
  const creds = clientCredentials(certs, certs.tenant(T));
  const rawDiscovery = new DiscoveryServiceClient(node.address!, creds);
  const rawNs = new NamespaceServiceClient(node.address!, creds);
  const channels = new NodeChannels({ kind: 'mtls', material: await loadTlsMaterial({ caPath: env.KISEKI_CA_PATH, certPath: env.KISEKI_CERT_PATH, keyPath: env.KISEKI_KEY_PATH }) });
  const rpc = { channels, clock: systemClock, liveness: new RpcLiveness(), deadlineMs: 10_000 };
  const seed = parseSeed(node.address!, 'bench');
  const session = await Session.open({ dataAddr: node.address!, env });
  const nsId = { value: 'bench' };
  await session.namespace.openNamespace({ namespaceId: nsId, create: true, defaultChunkSize: 0 });
  const nodes = Array.from({ length: 16 }, (_, i) => i + 1);
  const ids = Array.from({ length: 1024 }, () => randomBytes(32));
  let k = 0;
  const { Bench } = await import('tinybench');
  const results: Record<string, number[]> = {};
  try {
    for (let r = 0; r < ROUNDS; r++) {
      const bench = new Bench({ time: TIME_MS, warmupTime: 200, throws: true });
      bench.add('Discover: grpc-js generated client (peer)', () => unary((cb) => rawDiscovery.discover({}, new Metadata(), { deadline: Date.now() + 10_000 }, cb)));
      bench.add('Discover: callUnary', () => callUnary(rpc, seed, DiscoveryServiceService.discover, {}));
      bench.add('GetAttr: grpc-js generated client (peer)', () => unary((cb) => rawNs.getAttr({ namespaceId: nsId, ino: 1 }, new Metadata(), { deadline: Date.now() + 10_000 }, cb)));
      bench.add('GetAttr: session.namespace', () => session.namespace.getAttr({ namespaceId: nsId, ino: 1 }));
      bench.add('SHA-256 of 40 bytes (peer)', () => { createHash('sha256').update(ids[k++ & 1023]!).update(Buffer.alloc(8)).digest(); });
      bench.add('placeChunk, 16 nodes, R=3', () => { placeChunk(ids[k++ & 1023]!, nodes, 3); });
      await bench.run();
      for (const t of bench.tasks) {
        const ops = t.result?.throughput.mean;
        if (ops === undefined || !Number.isFinite(ops)) throw new Error(`task ${t.name} produced no result`);
        (results[t.name] ??= []).push(ops);
      }
    }
    const opens: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      const s = await Session.open({ dataAddr: node.address!, env });
      opens.push(performance.now() - t0);
      if (s.state !== 'ready') throw new Error(`session not ready: ${s.lastError?.message}`);
      await s.close();
    }
    const peerOf: Record<string, string> = {
      'Discover: callUnary': 'Discover: grpc-js generated client (peer)',
      'GetAttr: session.namespace': 'GetAttr: grpc-js generated client (peer)',
      'placeChunk, 16 nodes, R=3': 'SHA-256 of 40 bytes (peer)',
    };
    console.log(`\nSession control path, mTLS loopback, ${ROUNDS} rounds × ${TIME_MS} ms, ${os.cpus()[0]?.model ?? '?'} (${os.cpus().length} cores), node ${process.version}\n`);
    console.log('| task | ops/s (median) | ratio to peer (median of per-round ratios) |');
    console.log('|---|---:|---:|');
    for (const [name, xs] of Object.entries(results)) {
      const peer = peerOf[name];
      const ratio = peer === undefined ? '' : `${median(xs.map((x, i) => x / results[peer]![i]!)).toFixed(2)}×`;
      console.log(`| ${name} | ${median(xs).toFixed(0)} | ${ratio} |`);
    }
    console.log(`\nSession.open (Discover + FetchTenantKeys + GetCachePolicy, new TLS connection): median ${median(opens).toFixed(1)} ms of 10`);
  } finally {
    rawDiscovery.close();
    rawNs.close();
    channels.close();
    await session.close();
    await node.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});

// The gRPC chunk path end to end against a real kiseki-node over mTLS, beside Node's raw TLS socket
// measured in the same run (the ceiling for any TLS transport in Node):
//   raw TLS   one TLS 1.3 connection streaming 1 MiB writes, server → client
//   GET       GrpcChunkTransport.getChunks of 4 MiB sealed chunks (8 per call) from kiseki-node
//   PUT       GrpcChunkTransport.putChunks of fresh 4 MiB sealed chunks (fsync per chunk included)
// Prints GB/s and the ratio GET / raw TLS (target ≥ 0.8). On a shared, loaded machine wall-clock
// figures swing; the CPU time both ends spend per GiB (process CPU of this process + the node's from
// /proc) does not, so the bench also prints that and the CPU-efficiency ratio raw / gRPC.
// KISEKI_BENCH_MIB: bytes per figure (default 512).
// Run: npx tsc -p tsconfig.json && node dist/bench/node-chunks.bench.js
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GrpcChunkTransport } from '../src/transport/transport-grpc.js';
import { clientCredentials, makeCerts } from '../test/helpers/certs.js';
import { startNode } from '../test/helpers/node-process.js';
import { sealed } from '../test/helpers/node-rpc.js';
import { rawTlsStream } from './raw-tls.js';

const MIB = Number(process.env.KISEKI_BENCH_MIB ?? 512);
const CHUNK = 4 * 1024 * 1024;
const RUNS = 3;
const T = 'be000000-0000-4000-8000-0000000000be';

/** CPU ms used so far by this process plus process `pid` (utime + stime from /proc, clock ticks of 10 ms). */
function cpuMs(pid?: number): number {
  const own = process.cpuUsage();
  let other = 0;
  if (pid !== undefined) {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    other = (Number(f[11]) + Number(f[12])) * 10;
  }
  return (own.user + own.system) / 1000 + other;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const gbps = (bytes: number, ms: number): number => bytes / ms / 1e6;

async function rawTls(certDir: string): Promise<{ gbps: number; cpuMsPerGiB: number }> {
  const r = await rawTlsStream(certDir, MIB);
  return { gbps: gbps(r.bytes, r.ms), cpuMsPerGiB: r.cpuMs / (r.bytes / 2 ** 30) };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'kiseki-node-bench-'));
  const certs = await makeCerts(join(dir, 'certs'), { tenants: [T], nodes: [1] });
  const node = await startNode({ dataDir: join(dir, 'data'), tls: { certs } });
  const t = new GrpcChunkTransport({ target: node.address!, credentials: clientCredentials(certs, certs.tenant(T)) });
  try {
    const n = Math.max(8, Math.floor(MIB / 4));
    const envs = Array.from({ length: n }, () => sealed(randomBytes(CHUNK)));
    const ids = envs.map((e) => e.chunkId!.value);
    const t0 = performance.now();
    await t.putChunks(envs);
    const put = gbps(n * CHUNK, performance.now() - t0);
    const get: number[] = [];
    const getCpu: number[] = [];
    const raw: number[] = [];
    const rawCpu: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const rt = await rawTls(certs.dir);
      raw.push(rt.gbps);
      rawCpu.push(rt.cpuMsPerGiB);
      const s = performance.now();
      const c0 = cpuMs(node.pid);
      for (let i = 0; i < ids.length; i += 8) await t.getChunks(ids.slice(i, i + 8));
      get.push(gbps(n * CHUNK, performance.now() - s));
      getCpu.push((cpuMs(node.pid) - c0) / ((n * CHUNK) / 2 ** 30));
    }
    const rawM = median(raw);
    const getM = median(get);
    console.log(`node-chunks: ${n} x 4 MiB chunks, median of ${RUNS}`);
    console.log(`  Node raw TLS 1.3 socket (1 MiB writes)   ${rawM.toFixed(2)} GB/s`);
    console.log(`  GrpcChunkTransport GET from kiseki-node  ${getM.toFixed(2)} GB/s`);
    console.log(`  GrpcChunkTransport PUT to kiseki-node    ${put.toFixed(2)} GB/s (one run, fsync per chunk)`);
    console.log(`  CPU per GiB, both ends: raw TLS ${median(rawCpu).toFixed(0)} ms, gRPC GET ${median(getCpu).toFixed(0)} ms`);
    console.log(`RATIO grpc-GET/raw-TLS = ${(getM / rawM).toFixed(2)} (target >= 0.8)`);
    console.log(`RATIO cpu-efficiency raw-TLS/grpc-GET = ${(median(rawCpu) / median(getCpu)).toFixed(2)}`);
  } finally {
    await t.close();
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exit(1); });

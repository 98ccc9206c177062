// The bulk chunk path as the mount drives it: one chunk per RPC with several RPCs in flight (the file
// writer's upload concurrency, the reader's prefetch), against a real kiseki-node over its unix socket
// (the embedded default) and over mTLS, with Node's raw TLS socket measured in the same run.
//   PUT   GrpcChunkTransport.putChunks([one fresh 4 MiB sealed chunk]) × n, KISEKI_BENCH_INFLIGHT at once
//         (fsync'd on the node before each call returns)
//   GET   GrpcChunkTransport.getChunks([one id]) × n, KISEKI_BENCH_INFLIGHT at once
// The same PUT/GET through BulkChunkTransport on the node's bulk stream (ADR 0033), over its unix
// socket and over mTLS; RATIO lines compare the TLS paths' GET with the raw TLS socket.
// Prints MB/s and CPU ms per GiB of both processes (this one + the node, from /proc): on a shared,
// loaded machine wall-clock swings, CPU per GiB much less.
// KISEKI_BENCH_MIB bytes per figure (default 256), KISEKI_BENCH_INFLIGHT (default 4), RUNS 3, median;
// KISEKI_BENCH_NODE_OPTIONS is passed to the node as NODE_OPTIONS; KISEKI_BENCH_PATHS (comma list of
// unix, tls, stream-unix, stream-tls; default all) picks the paths.
// Run: npx tsc -p tsconfig.json && node dist/bench/chunk-path.bench.js
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { recycleEnvelopes } from '../src/transport/receive-buffers.js';
import { BulkChunkTransport } from '../src/transport/transport-bulk.js';
import { GrpcChunkTransport } from '../src/transport/transport-grpc.js';
import type { ChunkTransport } from '../src/transport/transport.js';
import { clientCredentials, makeCerts } from '../test/helpers/certs.js';
import { startNode } from '../test/helpers/node-process.js';
import { sealed } from '../test/helpers/node-rpc.js';
import { rawTlsStream } from './raw-tls.js';

const MIB = Number(process.env.KISEKI_BENCH_MIB ?? 256);
const INFLIGHT = Number(process.env.KISEKI_BENCH_INFLIGHT ?? 4);
const CHUNK = 4 * 1024 * 1024;
const RUNS = 3;
const T = 'be000000-0000-4000-8000-0000000000be';

/** CPU ms used so far by the node process `pid` (utime + stime from /proc, 10 ms ticks). */
function nodeCpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}
function ownCpuMs(): number {
  const own = process.cpuUsage();
  return (own.user + own.system) / 1000;
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Figure { mbps: number; cpuMsPerGiB: number; nodeCpuMsPerGiB?: number }

/** Runs `op(i)` for i < n with `INFLIGHT` at once; MB/s and CPU/GiB of both processes. */
async function measure(pid: number, n: number, op: (i: number) => Promise<unknown>): Promise<Figure> {
  const t0 = performance.now();
  const own0 = ownCpuMs();
  const node0 = nodeCpuMs(pid);
  let next = 0;
  await Promise.all(Array.from({ length: INFLIGHT }, async () => {
    while (next < n) await op(next++);
  }));
  const ms = performance.now() - t0;
  const gib = (n * CHUNK) / 2 ** 30;
  const nodeCpu = nodeCpuMs(pid) - node0;
  return { mbps: (n * CHUNK) / ms / 1e3, cpuMsPerGiB: (ownCpuMs() - own0 + nodeCpu) / gib, nodeCpuMsPerGiB: nodeCpu / gib };
}

async function rawTls(certDir: string): Promise<Figure> {
  const r = await rawTlsStream(certDir, MIB);
  return { mbps: r.bytes / r.ms / 1e3, cpuMsPerGiB: r.cpuMs / (r.bytes / 2 ** 30) };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'kiseki-chunk-path-'));
  const certs = await makeCerts(join(dir, 'certs'), { tenants: [T], nodes: [1] });
  const node = await startNode({ dataDir: join(dir, 'data'), tls: { certs }, socket: true, localTenant: T,
    // KISEKI_BENCH_NODE_OPTIONS: NODE_OPTIONS for the node only (e.g. --require of a profiler preload).
    env: process.env.KISEKI_BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.KISEKI_BENCH_NODE_OPTIONS } : {} });
  const tenant = certs.tenant(T);
  const all: Record<string, () => ChunkTransport> = {
    unix: () => new GrpcChunkTransport({ target: `unix:${node.socketPath!}`, credentials: grpc.credentials.createInsecure() }),
    tls: () => new GrpcChunkTransport({ target: node.address!, credentials: clientCredentials(certs, tenant) }),
    'stream-unix': () => new BulkChunkTransport({ address: node.bulk.find((a) => a.startsWith('unix:'))!, tls: null }),
    'stream-tls': () => new BulkChunkTransport({
      address: node.bulk.find((a) => !a.startsWith('unix:'))!,
      tls: { ca: readFileSync(certs.ca), cert: readFileSync(tenant.cert), key: readFileSync(tenant.key) },
    }),
  };
  const chosen = (process.env.KISEKI_BENCH_PATHS ?? Object.keys(all).join(',')).split(',');
  const paths = Object.fromEntries(chosen.map((k) => {
    if (!all[k]) throw new Error(`KISEKI_BENCH_PATHS: unknown path ${k} (${Object.keys(all).join(', ')})`);
    return [k, all[k]()];
  }));
  const getMbps: Record<string, number> = {};
  const n = Math.max(8, Math.floor(MIB / 4));
  const rows: string[] = [];
  try {
    const raw: Figure[] = [];
    for (let r = 0; r < RUNS; r++) raw.push(await rawTls(certs.dir));
    rows.push(row('Node raw TLS 1.3 socket (1 MiB writes)', raw));
    getMbps.raw = median(raw.map((f) => f.mbps));
    for (const [name, t] of Object.entries(paths)) {
      const puts: Figure[] = [];
      const gets: Figure[] = [];
      let envs = Array.from({ length: n }, () => sealed(randomBytes(CHUNK)));
      await t.putChunks([sealed(randomBytes(CHUNK))]); // warm: connection set-up
      for (let r = 0; r < RUNS; r++) {
        if (r > 0) envs = envs.map((e) => sealed(e.ciphertext)); // fresh ids: a real write each time
        puts.push(await measure(node.pid, n, (i) => t.putChunks([envs[i]!])));
        const ids = envs.map((e) => e.chunkId!.value);
        gets.push(await measure(node.pid, n, async (i) => {
          const [got] = await t.getChunks([ids[i]!]);
          if (!got!.ciphertext.equals(envs[i]!.ciphertext)) throw new Error('GET returned other bytes');
          recycleEnvelopes([got!]); // as the mount's reader does once it has opened a chunk
        }));
      }
      rows.push(row(`${name}: PUT one 4 MiB chunk per call, ${INFLIGHT} in flight`, puts));
      rows.push(row(`${name}: GET one 4 MiB chunk per call, ${INFLIGHT} in flight`, gets));
      getMbps[name] = median(gets.map((f) => f.mbps));
    }
    for (const k of ['tls', 'stream-tls']) {
      if (getMbps[k] !== undefined) rows.push(`  RATIO ${k} GET / raw TLS = ${(getMbps[k]! / getMbps.raw!).toFixed(2)} (target >= 0.8)`);
    }
  } finally {
    await Promise.all(Object.values(paths).map((t) => t.close()));
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`chunk-path: ${n} x 4 MiB chunks per figure, median of ${RUNS}, load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
  for (const r of rows) console.log(r);
}

function row(what: string, figs: Figure[]): string {
  const node = figs[0]!.nodeCpuMsPerGiB === undefined ? '' : ` (node ${median(figs.map((f) => f.nodeCpuMsPerGiB!)).toFixed(0)})`;
  return `  ${what.padEnd(58)} ${median(figs.map((f) => f.mbps)).toFixed(0).padStart(6)} MB/s  ${median(figs.map((f) => f.cpuMsPerGiB)).toFixed(0).padStart(6)} CPU ms/GiB${node}`;
}

main().catch((e) => { console.error(e); process.exit(1); });

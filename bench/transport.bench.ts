// Chunk transfer throughput, all measured in the same run on the same machine (npm run bench:transport):
//   C      bench/c/fi_xfer.c (research/fabric.md Appendix B), tcp;ofi_rxm RDM, FI_WAIT_FD, 4 MiB, window 4
//   fabric this addon's libfabric path (FabricChunkTransport ↔ FabricListener over an in-memory ChunkStore)
//          over tcp: GET of 16 chunk ids, then fi_read of each registered 4 MiB ciphertext, separate processes
//   TLS    Node's raw TLS 1.3 socket streaming 1 MiB writes (the ceiling for any TLS transport in Node)
//   gRPC   grpc-js server stream of 1 MiB messages over TLS (the frame size ChunkDataService uses)
//   node   a real kiseki-node (mTLS, FileChunkStore, --fabric-provider tcp): the same 4 MiB chunks read
//          through GrpcChunkTransport (tcp-tls), FabricChunkTransport (fabric-tcp) and
//          BulkChunkTransport (stream: the node's bulk chunk stream over mTLS and over its unix socket)
// Ratios printed: fabric / C fi_read (target ≥ 0.8), tcp-tls and stream / raw TLS (target ≥ 0.8).
// KISEKI_BENCH_MIB sets the bytes per measurement (default 1024 MiB); each figure is the median of 3.
import * as grpc from '@grpc/grpc-js';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { DiscoveryServiceClient, TransportKind, type DiscoverResponse } from '../src/gen/kiseki/v1/discovery.js';
import { grpcFabricSessions } from '../src/transport/fabric-session.js';
import { BulkChunkTransport } from '../src/transport/transport-bulk.js';
import { closeClientEndpoints, FabricChunkTransport } from '../src/transport/transport-fabric.js';
import { CHUNK_CHANNEL_OPTIONS, GrpcChunkTransport } from '../src/transport/transport-grpc.js';
import type { ChunkTransport } from '../src/transport/transport.js';
import { clientCredentials, makeCerts } from '../test/helpers/certs.js';
import { idOf, makeEnvelope, TENANT_A } from '../test/helpers/fabric-chunks.js';
import { startFabricNode } from '../test/helpers/fabric-node.js';
import { startNode } from '../test/helpers/node-process.js';

const MIB = Number(process.env.KISEKI_BENCH_MIB ?? 1024);
const BYTES = MIB * 1024 * 1024;
const RUNS = 3;
const root = path.resolve(__dirname, '../..');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    c.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${out}`))));
  });
}

async function cFigure(): Promise<{ sendRecv: number; rmaRead: number }> {
  const bin = path.join(root, 'build', 'fi_xfer');
  if (!existsSync(bin)) {
    mkdirSync(path.dirname(bin), { recursive: true });
    execFileSync('gcc', ['-O2', '-Wall', path.join(root, 'bench/c/fi_xfer.c'), '-o', bin, '-lfabric']);
  }
  const n = String(Math.max(16, MIB / 4));
  const port = String(await freePort());
  const server = spawn(bin, ['-p', 'tcp', '-e', 'rdm', '-P', port, '-b', '-n', n, '-L', '1000'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 700));
  const out = await run('timeout', ['120', bin, '-p', 'tcp', '-e', 'rdm', '-P', port, '-b', '-n', n, '-L', '1000', '-c', '127.0.0.1']);
  await new Promise((r) => (server.exitCode === null ? server.once('exit', r) : r(null)));
  const m = /sendrecv_4MiB_GBps=([\d.]+) rma_read_4MiB_GBps=([\d.]+) \(data OK\)/.exec(out);
  if (!m) throw new Error(`fi_xfer printed no RESULT: ${out}`);
  return { sendRecv: Number(m[1]), rmaRead: Number(m[2]) };
}

/** GB/s of GETs of 16 × 4 MiB chunks through `t`, RUNS times (after one warm-up pass). */
async function getThroughput(t: ChunkTransport): Promise<number[]> {
  const envs = Array.from({ length: 16 }, () => makeEnvelope(4 << 20));
  await t.putChunks(envs);
  const ids = envs.map(idOf);
  await t.getChunks(ids); // warm: connection set-up, page cache
  const out: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    let moved = 0;
    const t0 = process.hrtime.bigint();
    while (moved < BYTES) {
      const got = await t.getChunks(ids);
      for (const e of got) moved += e.ciphertext.length;
    }
    out.push(moved / (Number(process.hrtime.bigint() - t0) / 1e9) / 1e9);
  }
  return out;
}

async function fabricFigure(): Promise<number[]> {
  const node = await startFabricNode({ provider: 'tcp', dir: ':memory:' });
  const t = new FabricChunkTransport({ name: 'fabric-tcp', provider: 'tcp', nodeFabricAddress: node.address, openSession: node.openSession, window: 4, timeoutMs: 60_000 });
  try {
    return await getThroughput(t);
  } finally {
    await t.close();
    await closeClientEndpoints();
    await node.stop();
  }
}

/** The same GETs against a real kiseki-node, over gRPC TCP+TLS and over its fabric listener. */
async function nodeFigures(dir: string): Promise<{ tls: number; fabric: number; streamTls: number; streamUnix: number }> {
  const certs = await makeCerts(path.join(dir, 'node-certs'), { tenants: [TENANT_A], nodes: [1] });
  const creds = clientCredentials(certs, certs.tenant(TENANT_A));
  const node = await startNode({ dataDir: path.join(dir, 'node'), tls: { certs, nodeId: 1 }, socket: true, localTenant: TENANT_A, args: ['--fabric-provider', 'tcp'] });
  const sessions = grpcFabricSessions(node.address!, creds);
  try {
    const tls = new GrpcChunkTransport({ target: node.address!, credentials: creds, channelOptions: CHUNK_CHANNEL_OPTIONS });
    const tlsFig = median(await getThroughput(tls));
    await tls.close();
    const disc = new DiscoveryServiceClient(node.address!, creds);
    const info = await new Promise<DiscoverResponse>((res, rej) => disc.discover({}, (e, r) => (e ? rej(e) : res(r!))));
    disc.close();
    const ep = info.nodes[0]!.endpoints.find((e) => e.kind === TransportKind.TRANSPORT_KIND_FABRIC)!;
    const fab = new FabricChunkTransport({ name: 'fabric-tcp', provider: 'tcp', nodeFabricAddress: Buffer.from(ep.fabricAddress), openSession: sessions.open, window: 4, timeoutMs: 60_000 });
    const fabFig = median(await getThroughput(fab));
    await fab.close();
    const pair = certs.tenant(TENANT_A);
    const streamTls = new BulkChunkTransport({
      address: info.nodes[0]!.endpoints.find((e) => e.kind === TransportKind.TRANSPORT_KIND_STREAM && !e.address.startsWith('unix:'))!.address,
      tls: { ca: readFileSync(certs.ca), cert: readFileSync(pair.cert), key: readFileSync(pair.key) },
    });
    const streamTlsFig = median(await getThroughput(streamTls));
    await streamTls.close();
    const streamUnix = new BulkChunkTransport({ address: `unix:${node.socketPath!}.bulk`, tls: null });
    const streamUnixFig = median(await getThroughput(streamUnix));
    await streamUnix.close();
    return { tls: tlsFig, fabric: fabFig, streamTls: streamTlsFig, streamUnix: streamUnixFig };
  } finally {
    sessions.close();
    await closeClientEndpoints();
    await node.stop();
  }
}

async function startServer(mode: 'tls' | 'grpc', certDir: string): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, [path.join(__dirname, 'transport-servers.js'), mode, certDir, String(BYTES)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => child.stdout!.once('data', (d) => resolve(Number(String(d).trim()))));
  return { port, child };
}

async function tlsFigure(certDir: string): Promise<number[]> {
  const { port, child } = await startServer('tls', certDir);
  const ca = readFileSync(path.join(certDir, 'cert.pem'));
  const out: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    out.push(
      await new Promise<number>((resolve, reject) => {
        const t0 = process.hrtime.bigint();
        let got = 0;
        const s = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost', minVersion: 'TLSv1.3' });
        s.on('data', (d: Buffer) => (got += d.length));
        s.once('end', () => resolve(got / (Number(process.hrtime.bigint() - t0) / 1e9) / 1e9));
        s.once('error', reject);
      }),
    );
  }
  child.kill();
  return out;
}

async function grpcFigure(certDir: string): Promise<number[]> {
  const { port, child } = await startServer('grpc', certDir);
  const ca = readFileSync(path.join(certDir, 'cert.pem'));
  const Client = grpc.makeGenericClientConstructor(
    { Stream: { path: '/bench.Bench/Stream', requestStream: false, responseStream: true, requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b } },
    'Bench',
  );
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createSsl(ca), { 'grpc.ssl_target_name_override': 'localhost', 'grpc.max_receive_message_length': 8 << 20 });
  const out: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    out.push(
      await new Promise<number>((resolve, reject) => {
        const t0 = process.hrtime.bigint();
        let got = 0;
        const call = (client as unknown as { Stream(req: Buffer): grpc.ClientReadableStream<Buffer> }).Stream(Buffer.alloc(0));
        call.on('data', (d: Buffer) => (got += d.length));
        call.once('end', () => resolve(got / (Number(process.hrtime.bigint() - t0) / 1e9) / 1e9));
        call.once('error', reject);
      }),
    );
  }
  client.close();
  child.kill();
  return out;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ksk-bench-transport-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
    console.log(`transport bench: ${MIB} MiB per measurement, median of ${RUNS} (C: one run of ${Math.max(16, MIB / 4)} x 4 MiB per phase)`);
    const c: { sendRecv: number; rmaRead: number }[] = [];
    for (let r = 0; r < RUNS; r++) c.push(await cFigure());
    const cRead = median(c.map((x) => x.rmaRead));
    const cSend = median(c.map((x) => x.sendRecv));
    const fabric = median(await fabricFigure());
    const rawTls = median(await tlsFigure(dir));
    const grpcTls = median(await grpcFigure(dir));
    const viaNode = await nodeFigures(dir);
    const rows: [string, number][] = [
      ['C fi_xfer tcp;ofi_rxm fi_read 4 MiB (window 4)', cRead],
      ['C fi_xfer tcp;ofi_rxm send/recv 4 MiB (window 4)', cSend],
      ['kiseki fabric-tcp GET (fi_read, 4 MiB chunks, 16 per GET)', fabric],
      ['Node raw TLS 1.3 socket (1 MiB writes)', rawTls],
      ['grpc-js server stream over TLS (1 MiB messages)', grpcTls],
      ['kiseki-node tcp-tls: GrpcChunkTransport GET 4 MiB (FileChunkStore)', viaNode.tls],
      ['kiseki-node fabric-tcp: FabricChunkTransport GET 4 MiB (FileChunkStore)', viaNode.fabric],
      ['kiseki-node stream (mTLS): BulkChunkTransport GET 4 MiB (FileChunkStore)', viaNode.streamTls],
      ['kiseki-node stream (unix): BulkChunkTransport GET 4 MiB (FileChunkStore)', viaNode.streamUnix],
    ];
    for (const [name, v] of rows) console.log(`${name.padEnd(72)} ${v.toFixed(2)} GB/s`);
    console.log(`RATIO fabric/C-fi_read = ${(fabric / cRead).toFixed(2)} (target >= 0.8)`);
    console.log(`RATIO tcp-tls(kiseki-node)/raw-TLS = ${(viaNode.tls / rawTls).toFixed(2)} (target >= 0.8)`);
    console.log(`RATIO stream(kiseki-node, mTLS)/raw-TLS = ${(viaNode.streamTls / rawTls).toFixed(2)} (target >= 0.8)`);
    console.log(`RATIO grpc-js-stream/raw-TLS = ${(grpcTls / rawTls).toFixed(2)}`);
    console.log(`RATIO fabric-tcp/tcp-tls via kiseki-node = ${(viaNode.fabric / viaNode.tls).toFixed(2)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((e) => {
  console.error(e);
  process.exit(1);
});

// The bulk chunk stream (ADR 0033) against real kiseki-node processes with real mTLS certificates
// and a real unix socket: discovery advertises it, chunks round-trip with checksums over TLS and the
// unix socket, a node without it is served over gRPC, closing it mid-read fails over to gRPC with zero
// failed reads and the stream comes back, tenants are isolated, malformed frames cost only their own
// connection, and an envelope that is not the chunk asked for is an Integrity error.
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { KisekiError } from '../../src/errors.js';
import { DiscoveryServiceClient, TransportKind, type DiscoverResponse } from '../../src/gen/kiseki/v1/discovery.js';
import { encodeEnvelopeParts } from '../../src/node/chunk-frames.js';
import { FrameReader, MAX_BULK_BODY, Op, encodeHeader, type Frame } from '../../src/transport/bulk-protocol.js';
import { BulkChunkTransport, type BulkTls } from '../../src/transport/transport-bulk.js';
import { GrpcChunkTransport } from '../../src/transport/transport-grpc.js';
import { TransportMetrics } from '../../src/transport/transport-metrics.js';
import { decide } from '../../src/transport/transport-probe.js';
import { streamEndpointFor, transportForNode } from '../../src/transport/transport-selector.js';
import { clientCredentials, makeCerts, type CertPair, type CertSet } from '../helpers/certs.js';
import { checkEnvelopes, idOf, makeEnvelope, SIZES, TENANT_A, TENANT_B } from '../helpers/fabric-chunks.js';
import { startNode, type NodeProcess } from '../helpers/node-process.js';

let dir: string;
let certs: CertSet;
let node: NodeProcess;
let tlsA: BulkTls;
let streamTcp: string;
let streamUnix: string;
let info: DiscoverResponse['nodes'][number];
const nodes: NodeProcess[] = [];

const material = (pair: CertPair, ca = certs.ca): BulkTls => ({ ca: readFileSync(ca), cert: readFileSync(pair.cert), key: readFileSync(pair.key) });
const noFabric = decide(null, { KISEKI_TRANSPORT: 'tcp-tls' });
const unforced = { ...noFabric, forced: false };

function discover(address: string, creds: grpc.ChannelCredentials): Promise<DiscoverResponse> {
  const c = new DiscoveryServiceClient(address, creds);
  return new Promise((resolve, reject) => c.discover({}, (err, res) => { c.close(); return err ? reject(err) : resolve(res!); }));
}

async function until(what: string, cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'ksk-bulk-'));
  certs = await makeCerts(path.join(dir, 'certs'), { tenants: [TENANT_A, TENANT_B], nodes: [1] });
  tlsA = material(certs.tenant(TENANT_A));
  node = await startNode({ dataDir: path.join(dir, 'n1'), tls: { certs, nodeId: 1 }, socket: true, localTenant: TENANT_A });
  nodes.push(node);
  info = (await discover(node.address!, clientCredentials(certs, certs.tenant(TENANT_A)))).nodes[0]!;
  streamTcp = streamEndpointFor(info.endpoints, false)!;
  streamUnix = streamEndpointFor(info.endpoints, true)!;
});

after(async () => {
  for (const n of nodes) await n.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('discovery advertises the stream (TLS host:port and the unix socket) before gRPC', () => {
  const kinds = info.endpoints.map((e) => e.kind);
  assert.deepEqual(kinds, [TransportKind.TRANSPORT_KIND_STREAM, TransportKind.TRANSPORT_KIND_STREAM, TransportKind.TRANSPORT_KIND_TCP_TLS]);
  assert.match(streamTcp, /^127\.0\.0\.1:\d+$/);
  assert.notEqual(streamTcp, node.address, 'its own port, beside gRPC');
  assert.equal(streamUnix, `unix:${node.socketPath}.bulk`);
});

test('chunks round-trip with checksums over the mTLS stream and the unix stream; one store behind both and gRPC', async () => {
  for (const t of [new BulkChunkTransport({ address: streamTcp, tls: tlsA }), new BulkChunkTransport({ address: streamUnix, tls: null })]) {
    const envs = SIZES.map((n) => makeEnvelope(n));
    await t.putChunks(envs);
    await t.putChunks(envs.slice(0, 2)); // idempotent
    assert.equal(checkEnvelopes(envs, await t.getChunks(envs.map(idOf))), null);
    // many requests in flight on the one connection, replies matched by id
    const got = await Promise.all(envs.map((e) => t.getChunks([idOf(e)])));
    assert.equal(checkEnvelopes(envs, got.flat()), null);
    const viaGrpc = new GrpcChunkTransport({ target: node.address!, credentials: clientCredentials(certs, certs.tenant(TENANT_A)) });
    assert.equal(checkEnvelopes(envs, await viaGrpc.getChunks(envs.map(idOf))), null);
    const absent = makeEnvelope(10);
    await assert.rejects(t.getChunks([idOf(envs[0]!), idOf(absent)]), (e: unknown) => KisekiError.is(e, 'NotFound'));
    assert.equal(checkEnvelopes([envs[1]!], await t.getChunks([idOf(envs[1]!)])), null, 'the connection survives an answer');
    await viaGrpc.close();
    await t.close();
  }
});

test('the selector puts the stream between fabric and gRPC; KISEKI_TRANSPORT=tcp-tls keeps gRPC only, =stream forces it', async () => {
  const metrics = new TransportMetrics();
  const grpcT = (): GrpcChunkTransport => new GrpcChunkTransport({ target: node.address!, credentials: clientCredentials(certs, certs.tenant(TENANT_A)) });
  const sel = transportForNode({
    node: 'n1', endpoints: info.endpoints, decision: unforced, tls: grpcT(), stream: { unix: false, tls: tlsA },
    openSession: () => Promise.reject(new Error('no fabric')), metrics, autoReprobe: false,
  });
  assert.deepEqual(sel.status().transports.map((t) => t.name), ['stream', 'tcp-tls']);
  const envs = [makeEnvelope(3 << 20), makeEnvelope(5)];
  await sel.putChunks(envs);
  assert.equal(checkEnvelopes(envs, await sel.getChunks(envs.map(idOf))), null);
  assert.equal(sel.status().active, 'stream');
  assert.match(await metrics.registry.metrics(), /kiseki_transport_bytes_total\{transport="stream",direction="in"\} [1-9]/);
  await sel.close();
  const only = transportForNode({ node: 'n1', endpoints: info.endpoints, decision: noFabric, tls: grpcT(), stream: { unix: false, tls: tlsA }, openSession: () => Promise.reject(new Error('x')), autoReprobe: false });
  assert.deepEqual(only.status().transports.map((t) => t.name), ['tcp-tls']);
  await only.close();
  const forced = decide(null, { KISEKI_TRANSPORT: 'stream' });
  assert.equal(forced.chosen, 'stream');
  const unix = transportForNode({ node: 'n1', endpoints: info.endpoints, decision: forced, tls: grpcT(), stream: { unix: true, tls: null }, openSession: () => Promise.reject(new Error('x')), autoReprobe: false });
  assert.deepEqual(unix.status().transports.map((t) => t.name), ['stream', 'tcp-tls']);
  assert.equal(checkEnvelopes(envs, await unix.getChunks(envs.map(idOf))), null);
  await unix.close();
});

test('a node with --no-bulk-stream advertises none and is served over gRPC', async () => {
  const plain = await startNode({ dataDir: path.join(dir, 'n2'), tls: { certs, nodeId: 1 }, socket: true, args: ['--no-bulk-stream'] });
  nodes.push(plain);
  const creds = clientCredentials(certs, certs.tenant(TENANT_A));
  const eps = (await discover(plain.address!, creds)).nodes[0]!.endpoints;
  assert.equal(eps.filter((e) => e.kind === TransportKind.TRANSPORT_KIND_STREAM).length, 0);
  const sel = transportForNode({ node: 'n2', endpoints: eps, decision: unforced, tls: new GrpcChunkTransport({ target: plain.address!, credentials: creds }), stream: { unix: false, tls: tlsA }, openSession: () => Promise.reject(new Error('x')), autoReprobe: false });
  assert.deepEqual(sel.status().transports.map((t) => t.name), ['tcp-tls']);
  const envs = [makeEnvelope(70_000)];
  await sel.putChunks(envs);
  assert.equal(checkEnvelopes(envs, await sel.getChunks(envs.map(idOf))), null);
  await sel.close();
  await plain.stop();
});

test('closing the stream listener mid-read (SIGUSR1) fails over to gRPC with zero failed reads; reads return to the stream after SIGUSR2', async () => {
  const metrics = new TransportMetrics();
  const sel = transportForNode({
    node: 'n1', endpoints: info.endpoints, decision: unforced,
    tls: new GrpcChunkTransport({ target: node.address!, credentials: clientCredentials(certs, certs.tenant(TENANT_A)) }),
    stream: { unix: false, tls: tlsA }, openSession: () => Promise.reject(new Error('x')), metrics,
    policy: { failureThreshold: 3, failureWindowMs: 30_000, reprobeIntervalMs: 500 },
  });
  const envs = Array.from({ length: 16 }, (_, i) => makeEnvelope(1000 + i * 90_000));
  await sel.putChunks(envs);
  const served: Record<string, number> = { stream: 0, 'tcp-tls': 0 };
  let failed = 0;
  const errors: string[] = [];
  let stop = false;
  let i = 0;
  const readers = Array.from({ length: 3 }, async () => {
    while (!stop) {
      const batch = [envs[i++ % envs.length]!, envs[i++ % envs.length]!];
      try {
        const bad = checkEnvelopes(batch, await sel.getChunks(batch.map(idOf)));
        if (bad) throw new Error(bad);
        served[sel.status().active]!++;
      } catch (err) {
        failed++;
        errors.push((err as Error).message);
      }
    }
  });
  await until('reads over the stream', () => served.stream! >= 30);
  process.kill(node.pid, 'SIGUSR1');
  const before = served['tcp-tls']!;
  await until('reads over gRPC', () => served['tcp-tls']! >= before + 30);
  assert.notEqual(sel.status().transports[0]!.state, 'healthy');
  process.kill(node.pid, 'SIGUSR2');
  const streamBefore = served.stream!;
  await until('reads back on the stream', () => served.stream! >= streamBefore + 30);
  stop = true;
  await Promise.all(readers);
  assert.equal(failed, 0, `failed reads: ${errors.slice(0, 3).join('; ')}`);
  assert.ok(sel.status().failovers >= 1);
  assert.match(await metrics.registry.metrics(), /kiseki_transport_failovers_total\{node="n1",from="stream",to="tcp-tls"\} [1-9]/);
  await sel.close();
});

test('tenant B\'s certificate cannot GET tenant A\'s chunks; peer and foreign certificates are refused', async () => {
  const a = new BulkChunkTransport({ address: streamTcp, tls: tlsA });
  const envs = [makeEnvelope(12_345)];
  await a.putChunks(envs);
  const b = new BulkChunkTransport({ address: streamTcp, tls: material(certs.tenant(TENANT_B)) });
  await assert.rejects(b.getChunks(envs.map(idOf)), (e: unknown) => KisekiError.is(e, 'NotFound'));
  const peer = new BulkChunkTransport({ address: streamTcp, tls: material(certs.node(1)) });
  await assert.rejects(peer.connect(), (e: unknown) => KisekiError.is(e, 'TransportFailed'));
  const rogue = new BulkChunkTransport({ address: streamTcp, tls: material(certs.rogue) });
  await assert.rejects(rogue.getChunks(envs.map(idOf)), (e: unknown) => KisekiError.is(e, 'TransportFailed'));
  assert.equal(checkEnvelopes(envs, await a.getChunks(envs.map(idOf))), null);
  for (const t of [a, b, peer, rogue]) await t.close();
});

/** A raw connection to the TLS stream as tenant A: send bytes, collect reply frames until the node closes. */
async function raw(bytes: Buffer[], settleMs = 300): Promise<{ closed: boolean; frames: Frame[] }> {
  const s: Socket = tlsConnect({ host: '127.0.0.1', port: Number(streamTcp.split(':')[1]), ...tlsA });
  await new Promise<void>((r, j) => { s.once('secureConnect', r); s.once('error', j); });
  const reader = new FrameReader('client');
  const frames: Frame[] = [];
  let closed = false;
  s.on('data', (d: Buffer) => frames.push(...reader.push(d)));
  s.on('error', () => undefined);
  s.on('close', () => { closed = true; });
  for (const b of bytes) s.write(b);
  const end = Date.now() + settleMs;
  while (!closed && Date.now() < end) await sleep(10);
  s.destroy();
  return { closed, frames };
}

test('malformed, oversized and fuzzed frames close only their connection; the node goes on serving', async () => {
  const hdr = (o: Partial<{ op: number; status: number; id: number; arg: number; length: number }>): Buffer =>
    encodeHeader({ op: Op.PING, status: 0, id: 1, arg: 0, length: 0, ...o });
  const bad: [string, Buffer[]][] = [
    ['bad magic', [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')]],
    ['oversize body', [hdr({ op: Op.PUT, arg: 1, length: MAX_BULK_BODY + 1 })]],
    ['4 GiB body', [hdr({ op: Op.PUT, arg: 1, length: 0xffffffff })]],
    ['GET count vs length', [hdr({ op: Op.GET, arg: 2, length: 32 }), Buffer.alloc(32)]],
    ['GET of zero ids', [hdr({ op: Op.GET, arg: 0, length: 0 })]],
    ['GET of too many ids', [hdr({ op: Op.GET, arg: 100_000, length: 3_200_000 })]],
    ['reply op sent as request', [hdr({ op: Op.CHUNK, length: 0 })]],
    ['unknown op', [hdr({ op: 0x42 })]],
    ['non-zero status in a request', [hdr({ status: 3 })]],
    ['version 2', [Buffer.concat([hdr({}).subarray(0, 4), Buffer.from([2]), hdr({}).subarray(5)])]],
    ['reserved bytes set', [Buffer.concat([hdr({}).subarray(0, 20), Buffer.from([1, 0, 0, 0])])]],
    ['PING with a body', [hdr({ length: 5 }), Buffer.alloc(5)]],
  ];
  for (const [name, bytes] of bad) {
    const r = await raw(bytes, 3000);
    assert.ok(r.closed, `${name}: the node closes the connection`);
    assert.equal(r.frames.length, 0, `${name}: and answers nothing`);
  }
  // Random garbage after a valid PING: the PING is answered, then the connection is closed.
  let seed = 7;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  for (let k = 0; k < 20; k++) {
    const junk = Buffer.from(Array.from({ length: 24 + (rnd() % 200) }, () => rnd() & 0xff));
    const r = await raw([hdr({ id: 9 }), junk], 3000);
    assert.equal(r.frames[0]?.op, Op.PONG, `fuzz ${k}: the valid request before the junk is answered`);
    assert.ok(r.closed, `fuzz ${k}: junk closes the connection`);
  }
  // A well-framed PUT of an envelope the gRPC path would refuse is answered, not fatal.
  const env = makeEnvelope(100);
  const parts = encodeEnvelopeParts({ ...env, nonce: Buffer.alloc(5) });
  const len = parts.reduce((n, p) => n + p.length, 0);
  const r = await raw([hdr({ op: Op.PUT, id: 5, arg: 1, length: len }), ...parts, hdr({ id: 6 })]);
  assert.equal(r.closed, false);
  // (requests run concurrently: replies in any order)
  const byId = [...r.frames].sort((x, y) => x.id - y.id);
  assert.deepEqual(byId.map((f) => [f.op, f.id]), [[Op.ERROR, 5], [Op.PONG, 6]]);
  assert.match(byId[0]!.body.toString(), /envelope\.nonce: must be 12 bytes/);
  // The node is alive and serves others, over the stream and over gRPC.
  const t = new BulkChunkTransport({ address: streamTcp, tls: tlsA });
  const envs = [makeEnvelope(4096)];
  await t.putChunks(envs);
  assert.equal(checkEnvelopes(envs, await t.getChunks(envs.map(idOf))), null);
  await t.close();
  assert.match(node.stderr(), /malformed frame; closing the connection/);
  assert.doesNotMatch(node.stderr(), /BUG: unhandled/);
});

test('I-BS1: an envelope that does not carry the requested chunk id is an Integrity error, never data; a stalled or absent node is a transport failure', async () => {
  // A stand-in node on a unix socket that answers every GET with another chunk.
  const other = makeEnvelope(2048);
  const sockPath = path.join(dir, 'liar.sock');
  const server = createServer((s) => {
    const reader = new FrameReader('node');
    s.on('data', (d: Buffer) => {
      for (const f of reader.push(d)) {
        const parts = encodeEnvelopeParts(other);
        for (let k = 0; k < f.arg; k++) s.write(Buffer.concat([encodeHeader({ op: Op.CHUNK, status: 0, id: f.id, arg: k, length: parts.reduce((n, p) => n + p.length, 0) }), ...parts]));
      }
    });
  });
  await new Promise<void>((r) => server.listen(sockPath, r));
  const t = new BulkChunkTransport({ address: `unix:${sockPath}`, tls: null });
  const wanted = makeEnvelope(2048);
  await assert.rejects(t.getChunks([idOf(wanted)]), (e: unknown) => KisekiError.is(e, 'Integrity'));
  // The right id still comes through on the same connection.
  assert.equal(checkEnvelopes([other], await t.getChunks([idOf(other)])), null);
  await t.close();
  server.close();
  // A node that accepts the TCP connection but never finishes the TLS handshake: a transport
  // failure after the timeout, never a hang.
  const silent = createServer(() => undefined);
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const stuck = new BulkChunkTransport({ address: `127.0.0.1:${(silent.address() as { port: number }).port}`, tls: tlsA, timeoutMs: 500 });
  const t0 = Date.now();
  await assert.rejects(stuck.getChunks([idOf(wanted)]), (e: unknown) => KisekiError.is(e, 'TransportFailed') && /not connected after 500 ms/.test((e as Error).message));
  assert.ok(Date.now() - t0 < 5000, `gave up after ${Date.now() - t0} ms`);
  await stuck.close();
  silent.close();
  // A path nobody serves is a transport failure (the selector falls back)
  const gone = new BulkChunkTransport({ address: `unix:${path.join(dir, 'none.sock')}`, tls: null });
  await assert.rejects(gone.getChunks([idOf(wanted)]), (e: unknown) => KisekiError.is(e, 'TransportFailed'));
});

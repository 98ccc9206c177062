// The fuzz tests, parameterised by case counts: fuzz.test.ts (default tier, a few hundred cases) and
// fuzz.long.test.ts (reliability tier, thousands). Promises:
//   P-FUZZ1  malformed and oversized messages on every node RPC → a gRPC status (never a crash, a
//            hang, or a handler's internal error); the node keeps answering; data written before is intact.
//   P-FUZZ2  a rogue node answering GetChunks with garbage frames → the client's transport fails with a
//            KisekiError within a time bound, never another exception, never a wrong chunk.
//   P-FUZZ5  fuzzed KSB1 frame sequences on the node's bulk chunk stream → a well-formed answer or
//            the connection closed; never an internal error, a crash, or a lost chunk.
//   P-FUZZ6  a rogue node answering bulk-stream GETs with garbage → KisekiError within 5 s, never a wrong chunk.
//   P-FUZZ3  the client's decoders (envelope open, metadata open, fabric messages, frame reassembly,
//            cache policy, staging manifest, mount -o, tenant key file) on garbage → KisekiError or a
//            valid result.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPolicyFile, parsePolicy, POLICY_FILE } from '../../src/cache/cache-policy.js';
import { parseManifest } from '../../src/cache/staging-manifest.js';
import { parseMountOptions } from '../../src/client/mount-options.js';
import { openChunk } from '../../src/crypto/envelope.js';
import { nativeBackend } from '../../src/crypto/crypto-select.js';
import { openMeta } from '../../src/crypto/metadata-seal.js';
import { readTenantKeyFile } from '../../src/crypto/tenant-key-file.js';
import { KisekiError } from '../../src/errors.js';
import { ChunkDataServiceService } from '../../src/gen/kiseki/v1/chunk_data.js';
import { EncryptionAlgorithm, type Envelope } from '../../src/gen/kiseki/v1/chunk.js';
import { decodeFrame, encodeFrame, FrameAssembler } from '../../src/node/chunk-frames.js';
import * as FP from '../../src/transport/fabric-protocol.js';
import { createServer } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { encodeEnvelopeParts } from '../../src/node/chunk-frames.js';
import { FrameReader, Op } from '../../src/transport/bulk-protocol.js';
import { BulkChunkTransport } from '../../src/transport/transport-bulk.js';
import { GrpcChunkTransport } from '../../src/transport/transport-grpc.js';
import { clientCredentials, makeCerts, type CertSet } from '../helpers/certs.js';
import { nodeRpc, sealed } from '../helpers/node-rpc.js';
import { startNode, type NodeProcess } from '../helpers/node-process.js';
import { randomKeyring } from '../unit/crypto-fixtures.js';
import { callRaw, KSB_PING_ID, ksbHeader, ksbSequence, message, METHODS, oversized, rawClient, sendBulkRaw } from './fuzz-cases.js';

export interface FuzzCounts { rpcCases: number; rogueCases: number; decoderCases: number; streamCases: number }

const within = <T>(p: Promise<T>, ms: number, what: string): Promise<T> => Promise.race([
  p, new Promise<T>((_r, rej) => setTimeout(() => rej(new Error(`${what}: no answer within ${ms} ms (hang)`)), ms).unref()),
]);

/** Runs `f`; passes when it returns or throws a KisekiError; any other exception fails the case. */
async function kisekiOrOk(f: () => unknown, what: string): Promise<'ok' | 'refused'> {
  try {
    await within(Promise.resolve().then(f), 5000, what);
    return 'ok';
  } catch (e) {
    if (KisekiError.is(e)) return 'refused';
    throw new Error(`${what} threw a ${(e as Error)?.constructor?.name}, not a KisekiError: ${(e as Error)?.message}`);
  }
}

/**
 * One rogue-node case: the answer is exactly one envelope naming the requested id (the AEAD is the
 * next gate), or a KisekiError within 5 s; anything else fails the case.
 */
async function rogueCase(get: () => Promise<Envelope[]>, want: Buffer, outcome: { refused: number; served: number }, what: string): Promise<void> {
  try {
    const got = await within(get(), 5000, what);
    assert.equal(got.length, 1);
    assert.equal(Buffer.compare(got[0]!.chunkId!.value, want), 0, 'never another chunk');
    outcome.served++;
  } catch (e) {
    if (!KisekiError.is(e)) throw e;
    outcome.refused++;
  }
}

export function fuzzSuite(counts: FuzzCounts): void {
  const A = randomUUID();
  let dir: string;
  let certs: CertSet;
  let node: NodeProcess;
  const keep = randomBytes(100_000);
  let keepEnv: Envelope;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiseki-fuzz-'));
    certs = await makeCerts(join(dir, 'certs'), { tenants: [A], nodes: [1, 2] });
    node = await startNode({ dataDir: join(dir, 'node'), tls: { certs, nodeId: 1 } });
    keepEnv = sealed(keep);
    const t = new GrpcChunkTransport({ target: node.address!, credentials: clientCredentials(certs, certs.tenant(A)) });
    await t.putChunks([keepEnv]);
    await t.close();
  });
  after(async () => {
    await node?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test(`P-FUZZ1: ${counts.rpcCases} malformed and oversized messages on every node RPC → clear statuses, no crash, no hang, nothing lost`, async () => {
    const tenant = rawClient(node.address!, clientCredentials(certs, certs.tenant(A)));
    const peer = rawClient(node.address!, clientCredentials(certs, certs.node(2)));
    const codes = new Map<string, number>();
    let tried = 0;
    const check = async (m: typeof METHODS[number], msgs: Buffer[], asPeer: boolean) => {
      const r = await callRaw(asPeer ? peer : tenant, m, msgs, 20_000);
      tried++;
      const key = grpc.status[r.code]!;
      codes.set(key, (codes.get(key) ?? 0) + 1);
      assert.notEqual(r.code, grpc.status.DEADLINE_EXCEEDED, `${m.path} hung`);
      assert.notEqual(r.code, grpc.status.UNAVAILABLE, `${m.path}: the node went away (${r.details})`);
      assert.ok(!/^internal error:/.test(r.details), `${m.path}: a handler failed on bad input: ${r.details}`);
    };
    try {
      // Mostly the identity each service serves (peers on ClusterChunkService, tenants elsewhere) so
      // the bytes reach the decoders and handlers; one case in ten with the wrong one.
      await fc.assert(fc.asyncProperty(fc.constantFrom(...METHODS), fc.array(message, { minLength: 1, maxLength: 3 }), fc.integer({ min: 0, max: 9 }),
        async (m, msgs, dice) => { await check(m, msgs, m.path.includes('ClusterChunk') !== (dice === 0)); }), { numRuns: counts.rpcCases, seed: Number(process.env.KISEKI_FUZZ_SEED ?? Date.now() % 2 ** 31) });
      // Oversized: 20 MiB fields within the receive limit, and 90 MiB past it, on each data method.
      for (const m of METHODS.filter((x) => /Chunk|Fragment|Create|CommitLayout|SetXattr/.test(x.path))) {
        await check(m, [oversized(1, 20)], /ClusterChunk/.test(m.path));
      }
      for (const m of METHODS.filter((x) => /PutChunks|PutFragment/.test(x.path))) await check(m, [oversized(2, 90)], /ClusterChunk/.test(m.path));
      const health = nodeRpc(node.address!, clientCredentials(certs, certs.tenant(A)));
      await within(health.keyManager('health', {}), 5000, 'health after fuzzing');
      health.close();
      const t = new GrpcChunkTransport({ target: node.address!, credentials: clientCredentials(certs, certs.tenant(A)) });
      const [back] = await t.getChunks([keepEnv.chunkId!.value]);
      await t.close();
      assert.equal(Buffer.compare(back!.ciphertext, keepEnv.ciphertext), 0, 'the chunk stored before fuzzing is intact');
      process.kill(node.pid, 0);
    } finally {
      tenant.close();
      peer.close();
      console.log(`figure: P-FUZZ1 = ${JSON.stringify({ cases: tried, methods: METHODS.length, statuses: Object.fromEntries(codes) })}`);
    }
  });

  test(`P-FUZZ2: a rogue node answering GetChunks with ${counts.rogueCases} garbage frame streams → KisekiError within 5 s, never a wrong chunk`, async () => {
    let plan: Buffer[] = [];
    const id = (b: Buffer) => b;
    const server = new grpc.Server();
    server.addService({
      getChunks: { ...ChunkDataServiceService.getChunks, requestDeserialize: id, responseSerialize: id },
    } as unknown as grpc.ServiceDefinition, {
      getChunks: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
        for (const b of plan) call.write(b);
        call.end();
      },
    });
    const pair = certs.node(1);
    const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createSsl(readFileSync(certs.ca),
      [{ cert_chain: readFileSync(pair.cert), private_key: readFileSync(pair.key) }], true), (e, p) => (e ? rej(e) : res(p))));
    const t = new GrpcChunkTransport({ target: `127.0.0.1:${port}`, credentials: clientCredentials(certs, certs.tenant(A)) });
    const want = keepEnv.chunkId!.value;
    const frameArb = fc.oneof(
      message,
      // Real frames of the real chunk, then mutated: reordered, dropped, duplicated, bytes flipped.
      fc.tuple(fc.integer({ min: 0, max: 2 ** 31 }), fc.integer({ min: 0, max: 255 })).map(([at, x]) => {
        const f = encodeFrame({ chunkId: { value: want }, header: { ...keepEnv, ciphertext: Buffer.alloc(0) }, ciphertextLength: keepEnv.ciphertext.length, offset: 0, data: keepEnv.ciphertext, last: true });
        f[at % f.length] ^= x || 1;
        return f;
      }),
      fc.integer({ min: 0, max: keepEnv.ciphertext.length }).map((cut) => encodeFrame({ chunkId: { value: want }, header: { ...keepEnv, ciphertext: Buffer.alloc(0) }, ciphertextLength: keepEnv.ciphertext.length, offset: 0, data: keepEnv.ciphertext.subarray(0, cut), last: true })),
    );
    const outcome = { refused: 0, served: 0 };
    try {
      await fc.assert(fc.asyncProperty(fc.array(frameArb, { minLength: 0, maxLength: 4 }), async (frames) => {
        plan = frames;
        await rogueCase(() => t.getChunks([want]), want, outcome, 'getChunks from the rogue node');
      }), { numRuns: counts.rogueCases });
    } finally {
      await t.close();
      server.forceShutdown();
      console.log(`figure: P-FUZZ2 = ${JSON.stringify({ cases: counts.rogueCases, ...outcome })}`);
    }
    assert.ok(outcome.refused > counts.rogueCases / 2, 'most garbage streams are refused');
  });

  test(`P-FUZZ5: ${counts.streamCases} fuzzed KSB1 frame sequences on the node's bulk stream → answered or closed; no internal error, no crash, nothing lost`, async () => {
    const addr = node.bulk.find((a) => !a.startsWith('unix:'));
    assert.ok(addr, 'the node serves a TLS bulk stream');
    const port = Number(addr.split(':').pop());
    const pair = certs.tenant(A);
    const tls = { ca: readFileSync(certs.ca), cert: readFileSync(pair.cert), key: readFileSync(pair.key) };
    const tally = { answered: 0, closed: 0, waiting: 0, errors: {} as Record<number, number> };
    try {
      await fc.assert(fc.asyncProperty(ksbSequence, async (bytes) => {
        const r = await sendBulkRaw(() => tlsConnect({ host: '127.0.0.1', port, ...tls }), bytes, 1500);
        assert.equal(r.malformedReply, null, 'the node\'s replies are well-formed KSB1');
        for (const x of r.replies.filter((y) => y.op === Op.ERROR)) {
          tally.errors[x.status] = (tally.errors[x.status] ?? 0) + 1;
          assert.ok(!/^internal error:/.test(x.body.toString()), `a handler failed on bad input: ${x.body.toString()}`);
        }
        if (r.replies.some((x) => x.id === KSB_PING_ID && x.op === Op.PONG)) tally.answered++;
        else if (r.closed) tally.closed++;
        else tally.waiting++;
      }), { numRuns: counts.streamCases, seed: Number(process.env.KISEKI_FUZZ_SEED ?? Date.now() % 2 ** 31) });
      process.kill(node.pid, 0);
      const t = new BulkChunkTransport({ address: addr, tls });
      const [back] = await t.getChunks([keepEnv.chunkId!.value]);
      await t.close();
      assert.equal(Buffer.compare(back!.ciphertext, keepEnv.ciphertext), 0, 'the chunk stored before fuzzing is intact');
    } finally {
      console.log(`figure: P-FUZZ5 = ${JSON.stringify({ cases: counts.streamCases, ...tally })}`);
    }
    assert.ok(tally.closed > 0 && tally.answered > 0, 'both outcomes occur (the generator reaches the node\'s parser and its handlers)');
  });

  test(`P-FUZZ6: a rogue node answering bulk-stream GETs with ${counts.rogueCases} garbage replies → KisekiError within 5 s, never a wrong chunk`, async () => {
    const want = keepEnv.chunkId!.value;
    const real = Buffer.concat(encodeEnvelopeParts(keepEnv));
    let plan: (id: number) => Buffer = () => Buffer.alloc(0);
    const server = createServer((s) => {
      const reader = new FrameReader('node');
      s.on('error', () => undefined);
      s.on('data', (d: Buffer) => {
        try {
          for (const f of reader.push(d)) s.write(plan(f.id));
        } catch {
          s.destroy();
          return;
        }
        s.end();
      });
    });
    const sock = join(dir, 'rogue-bulk.sock');
    await new Promise<void>((r) => server.listen(sock, r));
    const t = new BulkChunkTransport({ address: `unix:${sock}`, tls: null, timeoutMs: 2000 });
    const replyArb: fc.Arbitrary<(id: number) => Buffer> = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((b) => () => Buffer.from(b)),
      // The real chunk with one byte flipped anywhere in header or body.
      fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })).map(([at, x]) => (id: number) => {
        const f = Buffer.concat([ksbHeader(Op.CHUNK, 0, id, 0, real.length), real]);
        f[at % f.length] ^= x;
        return f;
      }),
      fc.nat({ max: real.length }).map((cut) => (id: number) => Buffer.concat([ksbHeader(Op.CHUNK, 0, id, 0, real.length), real.subarray(0, cut)])),
      fc.tuple(fc.nat({ max: 3 }), fc.nat({ max: 70_000 })).map(([arg, idDelta]) => (id: number) => Buffer.concat([ksbHeader(Op.CHUNK, 0, id + idDelta, arg, real.length), real])),
      fc.tuple(fc.nat({ max: 20 }), fc.string({ maxLength: 50 })).map(([st, msg]) => (id: number) => {
        const body = Buffer.from(msg);
        return Buffer.concat([ksbHeader(Op.ERROR, st, id, 0, body.length), body]);
      }),
      message.map((env) => (id: number) => Buffer.concat([ksbHeader(Op.CHUNK, 0, id, 0, env.length), env])),
    );
    const outcome = { refused: 0, served: 0 };
    try {
      await fc.assert(fc.asyncProperty(replyArb, async (p) => {
        plan = p;
        await rogueCase(() => t.getChunks([want]), want, outcome, 'getChunks from the rogue bulk node');
      }), { numRuns: counts.rogueCases });
    } finally {
      await t.close();
      server.close();
      console.log(`figure: P-FUZZ6 = ${JSON.stringify({ cases: counts.rogueCases, ...outcome })}`);
    }
    assert.ok(outcome.refused > counts.rogueCases / 2, 'most garbage replies are refused');
  });

  test(`P-FUZZ3: the client's decoders on ${counts.decoderCases} garbage inputs each → KisekiError or a valid result, never another exception`, async () => {
    const keyring = randomKeyring(nativeBackend());
    const tally: Record<string, { ok: number; refused: number }> = {};
    const count = (name: string, r: 'ok' | 'refused') => { (tally[name] ??= { ok: 0, refused: 0 })[r]++; };
    const runs = { numRuns: counts.decoderCases };
    const envelopeArb = fc.record({
      ciphertext: fc.uint8Array({ maxLength: 300 }), authTag: fc.uint8Array({ maxLength: 20 }), nonce: fc.uint8Array({ maxLength: 16 }),
      algorithm: fc.integer({ min: -1, max: 5 }), epoch: fc.integer({ min: 0, max: 3 }), id: fc.uint8Array({ minLength: 0, maxLength: 40 }),
    }).map((r) => ({
      ciphertext: Buffer.from(r.ciphertext), authTag: Buffer.from(r.authTag), nonce: Buffer.from(r.nonce), algorithm: r.algorithm as EncryptionAlgorithm,
      systemEpoch: { value: r.epoch }, tenantEpoch: { value: r.epoch }, chunkId: { value: Buffer.from(r.id) },
    }) as unknown as Envelope);
    await fc.assert(fc.asyncProperty(envelopeArb, fc.uint8Array({ minLength: 32, maxLength: 32 }), async (env, id) => {
      count('openChunk', await kisekiOrOk(() => openChunk(keyring, env, Buffer.from(id), { verifyContent: true }), 'openChunk'));
      count('openMeta', await kisekiOrOk(() => openMeta(keyring, env, Buffer.from(id)), 'openMeta'));
    }), runs);
    const bytes = fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b));
    const withHeader = fc.tuple(fc.constantFrom(...Object.values(FP.Op).filter((v) => typeof v === 'number') as number[]), bytes).map(([op, body]) => {
      const b = Buffer.alloc(FP.HEADER_SIZE);
      FP.writeHeader(b, { op, status: 0, flags: 0, reqId: 1, session: 1 });
      return Buffer.concat([b, body]);
    });
    await fc.assert(fc.asyncProperty(fc.oneof(bytes, withHeader), fc.integer({ min: 0, max: 64 }), async (msg, at) => {
      for (const [name, f] of Object.entries({
        readHeader: () => FP.readHeader(msg), decodeHelloAddress: () => FP.decodeHelloAddress(msg), decodeChunkId: () => FP.decodeChunkId(msg),
        decodePutOutcome: () => FP.decodePutOutcome(msg), replyDetail: () => FP.replyDetail(msg), readWindow: () => FP.readWindow(msg, at, 1 << 26),
        readInline: () => FP.readInline(msg, at), readHead: () => FP.readHead(msg, at), joinEnvelope: () => FP.joinEnvelope(msg.subarray(at), Buffer.alloc(4)),
      })) count(`fabric.${name}`, await kisekiOrOk(f, name));
    }), runs);
    await fc.assert(fc.asyncProperty(fc.array(fc.oneof(bytes, message), { minLength: 1, maxLength: 5 }), async (frames) => {
      count('frames', await kisekiOrOk(() => {
        const a = new FrameAssembler();
        for (const b of frames) a.push(decodeFrame(b));
        a.finish();
      }, 'decodeFrame + FrameAssembler'));
    }), runs);
    await fc.assert(fc.asyncProperty(fc.array(fc.oneof(fc.string(), fc.constantFrom('chunk_size=', 'chunk_size=0', 'chunk_size=99G', 'cache_mode=x', 'meta_ttl_ms=-1', 'cache_l1_max=1e99', 'metrics_addr=::::', 'ro,rw=1', 'fsname=a,b', '=', ',,,', 'big_writes')), { maxLength: 4 }), async (args) => {
      count('parseMountOptions', await kisekiOrOk(() => parseMountOptions(args), 'parseMountOptions'));
    }), runs);
    const pools = join(dir, 'pools');
    await mkdir(pools, { recursive: true });
    await fc.assert(fc.asyncProperty(fc.oneof(fc.jsonValue(), fc.anything()), fc.string(), async (value, text) => {
      count('parsePolicy', await kisekiOrOk(() => parsePolicy(value, 'fuzz'), 'parsePolicy'));
      await writeFile(join(pools, POLICY_FILE), text);
      count('readPolicyFile', await kisekiOrOk(() => readPolicyFile(pools), 'readPolicyFile'));
    }), runs);
    // Staging manifests: random text, random JSON, and a valid manifest with one field replaced.
    const hex = 'a'.repeat(64);
    const valid = { version: 1, namespace: 'ns', namespace_path: '/d', snapshot_time: '2026-11-21T00:00:00Z', bytes: 1, chunk_ids: [hex],
      compositions: [{ path: '/d/f', ino: 2, size: 1, generation: 1, chunk_ids: [hex] }] };
    const mutated = fc.tuple(fc.constantFrom(...Object.keys(valid)), fc.jsonValue()).map(([k, v]) => JSON.stringify({ ...valid, [k]: v }));
    await fc.assert(fc.asyncProperty(fc.oneof(fc.string(), fc.json(), mutated), async (text) => {
      count('parseManifest', await kisekiOrOk(() => parseManifest(text, 'fuzz.manifest'), 'parseManifest'));
    }), runs);
    assert.doesNotThrow(() => parseManifest(JSON.stringify(valid), 'valid.manifest'), 'the unmutated manifest is valid (control)');
    const keyFile = join(dir, 'tenant.key');
    await fc.assert(fc.asyncProperty(bytes, fc.boolean(), async (content, magic) => {
      await writeFile(keyFile, magic ? Buffer.concat([Buffer.from('KSKTK1'), content]) : content, { mode: 0o600 });
      await chmod(keyFile, 0o600);
      count('readTenantKeyFile', await kisekiOrOk(() => readTenantKeyFile(keyFile, randomBytes(32)), 'readTenantKeyFile'));
    }), runs);
    console.log(`figure: P-FUZZ3 = ${JSON.stringify(tally)}`);
    for (const [name, t] of Object.entries(tally)) assert.ok(t.ok + t.refused >= counts.decoderCases, `${name} ran every case`);
  });
}

/**
 * P-FUZZ4: garbage `-o` through the real mount command → exit 1–2 naming the option, nothing mounted.
 * Against a real node on a unix socket (never the embedded default, which would outlive the test).
 */
export function mountOptionCliSuite(cases: string[]): void {
  test(`P-FUZZ4: ${cases.length} garbage -o values through kiseki-client-fuse mount → a clear error, exit 1–2, nothing mounted`, async () => {
    const { CLI, isMounted, spawnTool } = await import('../integration/mount-harness.js');
    const dir = await mkdtemp(join(tmpdir(), 'kiseki-fuzz-o-'));
    const mp = join(dir, 'mp');
    await mkdir(mp);
    const env = { ...process.env, XDG_RUNTIME_DIR: join(dir, 'run'), XDG_DATA_HOME: join(dir, 'data'), KISEKI_CACHE_DIR: join(dir, 'cache') };
    const node = await startNode({ dataDir: join(dir, 'node'), socket: true });
    try {
      for (const o of cases) {
        const r = await within(spawnTool(process.execPath, [CLI, 'mount', mp, '--data-addr', `unix:${node.socketPath}`, '-o', o], env), 30_000, `mount -o ${o}`);
        assert.ok(r.code === 1 || r.code === 2, `-o ${JSON.stringify(o)} exits 1 or 2 (usage), got ${r.code}: ${r.out}`);
        assert.match(r.out, /kiseki-client-fuse: .*\(KSK_ERR_INVALID_ARGUMENT\)/, `-o ${JSON.stringify(o)}: ${r.out}`);
        assert.equal(await isMounted(mp), false);
      }
      console.log(`figure: P-FUZZ4 cases = ${cases.length}`);
    } finally {
      await node.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
}

// The core over a real 3-node TLS cluster with R = 2: every chunk lands on its two placed replicas,
// reads fail over to the next replica when a node dies, and large writes keep several chunk uploads
// in flight at once (the pipeline), bounded by the upload limiter.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { constants as osc, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_FS_OPTIONS, KisekiFileSystem } from '../../src/client/filesystem.js';
import { parseMountOptions } from '../../src/client/mount-options.js';
import { fsDepsFor, grpcTransportFactory, MountSession } from '../../src/client/mount-session.js';
import { KisekiError } from '../../src/errors.js';
import { GrpcChunkTransport } from '../../src/transport/transport-grpc.js';
import { placeChunk } from '../../src/client/placement.js';
import { Session } from '../../src/client/session.js';
import type { ChunkTransport } from '../../src/transport/transport.js';
import { processAlive } from '../../src/util/process.js';
import { makeCerts } from '../helpers/certs.js';
import { startCluster, type ClusterProcess } from '../helpers/node-process.js';
import { credentialsFor } from '../../src/client/tls-credentials.js';
import { formatSeed } from '../../src/client/seeds.js';

const MiB = 1 << 20;
const TENANT = randomUUID();
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
let dir: string;
let cluster: ClusterProcess;
let env: NodeJS.ProcessEnv;
const sessions: Session[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiseki-fs-replicas-'));
  const certs = await makeCerts(join(dir, 'certs'), { tenants: [TENANT], nodes: [1, 2, 3] });
  cluster = await startCluster(3, { certs, dataRoot: dir, replicas: 2 });
  const id = certs.tenant(TENANT);
  env = { ...process.env, KISEKI_CA_PATH: certs.ca, KISEKI_CERT_PATH: id.cert, KISEKI_KEY_PATH: id.key, KISEKI_CACHE_DIR: join(dir, 'cache'), XDG_RUNTIME_DIR: dir };
});
after(async () => {
  await Promise.all(sessions.map((s) => s.close().catch(() => undefined)));
  await cluster.stop();
  await rm(dir, { recursive: true, force: true });
});

async function client(stallTimeoutMs?: number): Promise<MountSession> {
  const transportFactory = stallTimeoutMs === undefined ? grpcTransportFactory : (...[node, channels]: Parameters<typeof grpcTransportFactory>) =>
    new GrpcChunkTransport({ target: formatSeed(node.address), credentials: credentialsFor(node.address, channels.security), stallTimeoutMs });
  const session = await Session.open({ dataAddr: cluster.nodes.map((n) => n.address).join(','), env, transportFactory });
  sessions.push(session);
  return MountSession.open(session, { namespaceId: 'rep', create: true, mount: parseMountOptions(['chunk_size=1M', 'cache_mode=bypass']), env, statsIntervalMs: 0 });
}

async function storedOn(nodeIndex: number): Promise<Set<string>> {
  const root = join(dir, `node-${nodeIndex}`, 'chunks');
  const out = new Set<string>();
  for (const tenant of await readdir(root).catch(() => [])) {
    for (const sub of await readdir(join(root, tenant))) for (const f of await readdir(join(root, tenant, sub))) out.add(f);
  }
  return out;
}

let ino = 0;
let data: Buffer;
let chunkIds: Buffer[] = [];

test('large writes keep several uploads in flight, bounded, and every chunk lands on its R = 2 replicas', async () => {
  const ms = await client();
  const deps = fsDepsFor(ms.session, ms.cache, 'rep', false);
  let inflight = 0;
  let peak = 0;
  const counted = new Map<ChunkTransport, ChunkTransport>();
  const count = (t: ChunkTransport): ChunkTransport => {
    let c = counted.get(t);
    if (c === undefined) {
      c = {
        name: t.name, getChunks: (ids, s) => t.getChunks(ids, s), close: () => t.close(),
        putChunks: async (envs, s) => {
          inflight++;
          peak = Math.max(peak, inflight);
          try {
            await t.putChunks(envs, s);
          } finally {
            inflight--;
          }
        },
      };
      counted.set(t, c);
    }
    return c;
  };
  const fs = new KisekiFileSystem({
    ...deps, placement: { route: (id) => { const r = deps.placement.route(id); return { read: r.read.map(count), write: r.write.map(count) }; } },
  }, { ...DEFAULT_FS_OPTIONS, chunkSize: MiB, uploadConcurrency: 4 });
  data = randomBytes(12 * MiB);
  // The tests below need a chunk that lives on nodes 2 and 3 only (chunk id = SHA-256 of the plaintext).
  while (placeChunk(createHash('sha256').update(data.subarray(0, MiB)).digest(), [1, 2, 3], 2).write.includes(1)) randomBytes(MiB).copy(data, 0);
  const { attr, file } = await fs.create(1, Buffer.from('ckpt'), 0o644, fsc.O_RDWR, { uid: 0, gid: 0 });
  for (let off = 0; off < data.length; off += MiB) await fs.write(file.fh, off, data.subarray(off, off + MiB));
  await fs.release(file.fh);
  ino = attr.ino;
  // Two replicas per chunk, at most 4 chunks at once: up to 8 concurrent puts, and clearly more than one chunk.
  assert.ok(peak > 2, `peak concurrent chunk puts ${peak}`);
  assert.ok(peak <= 8, `peak concurrent chunk puts ${peak} exceeds the bound`);
  const layout = await ms.session.namespace.getLayout({ namespaceId: { value: 'rep' }, ino });
  chunkIds = layout.chunks.map((c) => c.chunkId!.value);
  assert.equal(chunkIds.length, 12);
  const on = await Promise.all([1, 2, 3].map(storedOn));
  for (const id of chunkIds) {
    const expected = placeChunk(id, [1, 2, 3], 2).write.sort();
    const actual = [1, 2, 3].filter((i) => on[i - 1]!.has(id.toString('hex')));
    assert.deepEqual(actual, expected, `chunk ${id.toString('hex').slice(0, 8)} replicas`);
  }
});

test('reads fail over to the next replica when a node is killed', async () => {
  assert.ok(ino > 0);
  // Kill the non-leader node that is first in read order for the most chunks.
  const firsts = [2, 3].map((id) => chunkIds.filter((c) => placeChunk(c, [1, 2, 3], 2).read[0] === id).length);
  const victim = firsts[0]! >= firsts[1]! ? 2 : 3;
  await cluster.nodes[victim - 1]!.kill9();
  const ms = await client();
  const f = await ms.fs.open(ino, fsc.O_RDONLY);
  const parts: Buffer[] = [];
  for (let off = 0; off < data.length; off += MiB) parts.push(await ms.fs.read(f.fh, off, MiB));
  await ms.fs.release(f.fh);
  assert.equal(sha(Buffer.concat(parts)), sha(data));
  assert.ok(ms.fs.reader.stats.failovers >= Math.max(firsts[0]!, firsts[1]!), `failovers ${ms.fs.reader.stats.failovers}`);
});

test('every replica of a chunk unreachable for a moment (both restarting) → the read waits for them and returns the exact bytes', async () => {
  // The node the test above killed comes back first; then both replicas of one chunk go down at once.
  for (const i of [1, 2]) if (!processAlive(cluster.nodes[i]!.pid)) cluster.nodes[i] = await cluster.nodes[i]!.restart();
  const k = chunkIds.findIndex((c) => placeChunk(c, [1, 2, 3], 2).write.every((id) => id !== 1));
  assert.ok(k >= 0, 'some chunk lives on nodes 2 and 3 only');
  const ms = await client();
  const f = await ms.fs.open(ino, fsc.O_RDONLY);
  await Promise.all([cluster.nodes[1]!.kill9(), cluster.nodes[2]!.kill9()]);
  const started = performance.now();
  const read = ms.fs.read(f.fh, k * MiB, MiB);
  await new Promise((r) => setTimeout(r, 1500));
  [cluster.nodes[1], cluster.nodes[2]] = await Promise.all([cluster.nodes[1]!.restart(), cluster.nodes[2]!.restart()]);
  const got = await read;
  const waited = performance.now() - started;
  await ms.fs.release(f.fh);
  assert.equal(sha(got), sha(data.subarray(k * MiB, (k + 1) * MiB)));
  assert.ok(waited >= 1500, `the read waited for the replicas (${Math.round(waited)} ms)`);
});

test('a replica frozen under a writer → fsync fails with EIO after about one stall timeout (not one per upload round), keeps the data, and succeeds once the replica is back', async () => {
  for (const i of [1, 2]) if (!processAlive(cluster.nodes[i]!.pid)) cluster.nodes[i] = await cluster.nodes[i]!.restart();
  const stallMs = 1500;
  const ms = await client(stallMs);
  const retryMs = 2000;
  const fs = new KisekiFileSystem(fsDepsFor(ms.session, ms.cache, 'rep', false), {
    ...DEFAULT_FS_OPTIONS, chunkSize: MiB, uploadConcurrency: 2, reader: { ...DEFAULT_FS_OPTIONS.reader, unreachableRetryMs: retryMs },
  });
  const body = randomBytes(16 * MiB);
  const { attr, file } = await fs.create(1, Buffer.from(`frozen-${Date.now()}`), 0o644, fsc.O_RDWR, { uid: 0, gid: 0 });
  const frozen = cluster.nodes[1]!;
  process.kill(frozen.pid, 'SIGSTOP');
  try {
    for (let off = 0; off < body.length; off += MiB) await fs.write(file.fh, off, body.subarray(off, off + MiB));
    const started = performance.now();
    const err = await fs.fsync(file.fh).then(() => null, (e: unknown) => e);
    const waited = performance.now() - started;
    assert.ok(KisekiError.is(err, 'TransportFailed'), `fsync with a frozen replica fails: ${String(err)}`);
    assert.equal((err as KisekiError).errno, osc.errno.EIO, 'the writer sees EIO');
    // 16 chunks, 2 uploads at a time, about 11 placed on the frozen node: an upload gives up after
    // its retry budget (stalls included); the first one that gives up ends the fsync, where each
    // upload round used to wait out its own (about 6 rounds).
    assert.ok(waited < retryMs + 3 * stallMs, `fsync failed after ${Math.round(waited)} ms`);
  } finally {
    process.kill(frozen.pid, 'SIGCONT');
  }
  await fs.fsync(file.fh);
  await fs.release(file.fh);
  const reader = await client();
  const f = await reader.fs.open(attr.ino, fsc.O_RDONLY);
  const parts: Buffer[] = [];
  for (let off = 0; off < body.length; off += MiB) parts.push(await reader.fs.read(f.fh, off, MiB));
  await reader.fs.release(f.fh);
  assert.equal(sha(Buffer.concat(parts)), sha(body), 'every byte written before the failed fsync is there after the next one');
});

test('every replica of a chunk dead for longer than the retry budget → later reads fail within the short window; reads work again once the replicas answer', async () => {
  for (const i of [1, 2]) if (!processAlive(cluster.nodes[i]!.pid)) cluster.nodes[i] = await cluster.nodes[i]!.restart();
  const k = chunkIds.findIndex((c) => placeChunk(c, [1, 2, 3], 2).write.every((id) => id !== 1));
  assert.ok(k >= 0, 'some chunk lives on nodes 2 and 3 only');
  const budget = 6000;
  const ms = await client();
  const fs = new KisekiFileSystem(fsDepsFor(ms.session, ms.cache, 'rep', false), {
    ...DEFAULT_FS_OPTIONS, chunkSize: MiB, reader: { ...DEFAULT_FS_OPTIONS.reader, unreachableRetryMs: budget },
  });
  const f = await fs.open(ino, fsc.O_RDONLY);
  await Promise.all([cluster.nodes[1]!.kill9(), cluster.nodes[2]!.kill9()]);
  const failedAfter = async (): Promise<number> => {
    const t0 = performance.now();
    await assert.rejects(fs.read(f.fh, k * MiB, MiB), (e: unknown) => KisekiError.is(e, 'TransportFailed'));
    return performance.now() - t0;
  };
  const first = await failedAfter();
  const later = await failedAfter();
  assert.ok(first >= budget - 1500, `the first read waited out the budget (${Math.round(first)} ms)`);
  assert.ok(later < budget - 1500, `a later read of replicas known dead gets the short window (${Math.round(later)} ms)`);
  [cluster.nodes[1], cluster.nodes[2]] = await Promise.all([cluster.nodes[1]!.restart(), cluster.nodes[2]!.restart()]);
  const got = await fs.read(f.fh, k * MiB, MiB);
  await fs.release(f.fh);
  assert.equal(sha(got), sha(data.subarray(k * MiB, (k + 1) * MiB)));
});

test('a replica restarting under a writer → the upload waits for it and fsync succeeds', async () => {
  for (const i of [1, 2]) if (!processAlive(cluster.nodes[i]!.pid)) cluster.nodes[i] = await cluster.nodes[i]!.restart();
  const ms = await client();
  const body = randomBytes(6 * MiB);
  const { attr, file } = await ms.fs.create(1, Buffer.from(`restarting-${Date.now()}`), 0o644, fsc.O_RDWR, { uid: 0, gid: 0 });
  for (let off = 0; off < body.length; off += MiB) await ms.fs.write(file.fh, off, body.subarray(off, off + MiB));
  await Promise.all([cluster.nodes[1]!.kill9(), cluster.nodes[2]!.kill9()]);
  const synced = ms.fs.fsync(file.fh);
  await new Promise((r) => setTimeout(r, 1500));
  [cluster.nodes[1], cluster.nodes[2]] = await Promise.all([cluster.nodes[1]!.restart(), cluster.nodes[2]!.restart()]);
  await synced;
  await ms.fs.release(file.fh);
  const reader = await client();
  const f = await reader.fs.open(attr.ino, fsc.O_RDONLY);
  const got = await reader.fs.read(f.fh, 0, body.length);
  await reader.fs.release(f.fh);
  assert.equal(sha(got), sha(body));
});

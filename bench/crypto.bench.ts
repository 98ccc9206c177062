// Chunk crypto throughput (issue 3): seal+hash and open+verify of 4 MiB chunks on the native path (one
// and two chunks in flight) and the portable path, against node:crypto and `openssl speed` measured in
// the same run on the same machine. Prints a Markdown table with ratios; BENCHMARKS.md records it.
//   npm run bench:crypto   (KISEKI_BENCH_ROUNDS=3, KISEKI_BENCH_TIME_MS=1500, KISEKI_BENCH_OPENSSL_SECONDS=3)
// Two clocks, because the machine is shared: `openssl speed` by default divides by its *user CPU
// time* (immune to other load), with -elapsed by wall-clock time. Each of our rows is measured both
// ways too: wall-clock GB/s (tinybench latency) and GB per CPU-second (process.cpuUsage, user +
// system, all threads) — the per-core figure comparable to plain `openssl speed`.
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import os from 'node:os';
import { CHUNK_DEK_INFO, type CryptoBackend } from '../src/crypto/crypto-backend.js';
import { crc32 } from '../src/crypto/crc32.js';
import { nativeBackend, portableBackend } from '../src/crypto/crypto-select.js';
import { openChunk, sealChunk, sealEnvelope } from '../src/crypto/envelope.js';
import { TenantKeyring } from '../src/crypto/keyring.js';
import { DedupPolicy } from '../src/gen/kiseki/v1/common.js';
import type { Envelope } from '../src/gen/kiseki/v1/chunk.js';
import { FetchTenantKeysResponse } from '../src/gen/kiseki/v1/tenant_keys.js';
import { opensslSpeed, opensslVersion } from './util-openssl.js';

const CHUNK = 4 * 1024 * 1024;
const POOL = 16; // 64 MiB of distinct chunks, far beyond the CPU caches
const TIME_MS = Number(process.env.KISEKI_BENCH_TIME_MS ?? 1500);
const OPENSSL_SECONDS = Number(process.env.KISEKI_BENCH_OPENSSL_SECONDS ?? 3);

interface Row {
  name: string;
  /** Wall-clock bytes per second. */
  wall?: number;
  /** Bytes per CPU-second of this process (all threads). */
  cpu?: number;
  note?: string;
}

const ROUNDS = Number(process.env.KISEKI_BENCH_ROUNDS ?? 3);

function ring(backend: CryptoBackend): TenantKeyring {
  return TenantKeyring.fromResponse(FetchTenantKeysResponse.fromPartial({
    currentEpoch: { value: 1 }, keks: [{ epoch: { value: 1 }, kek: randomBytes(32) }], indexKey: randomBytes(32),
    dedupPolicy: DedupPolicy.DEDUP_POLICY_CROSS_TENANT,
  }), backend);
}

interface Fixture {
  chunks: Buffer[];
  native: CryptoBackend;
  portable: CryptoBackend;
  sealedN: { chunkId: Buffer; envelope: Envelope }[];
  sealedP: { chunkId: Buffer; envelope: Envelope }[];
  nRing: TenantKeyring;
  pRing: TenantKeyring;
}

async function fixture(): Promise<Fixture> {
  const chunks = Array.from({ length: POOL }, () => randomBytes(CHUNK));
  const native = nativeBackend();
  const portable = await portableBackend();
  const nRing = ring(native);
  const pRing = ring(portable);
  const sealedN = await Promise.all(chunks.map((c) => sealChunk(nRing, c, { backend: native })));
  const sealedP = await Promise.all(chunks.map((c) => sealChunk(pRing, c, { backend: portable })));
  return { chunks, native, portable, sealedN, sealedP, nRing, pRing };
}

/** One round: the peers, then every task of ours, one after another (never concurrently). */
async function round(f: Fixture): Promise<Row[]> {
  const rows: Row[] = [];
  const { chunks, native, portable, nRing, pRing, sealedN, sealedP } = f;
  const aesCpu = await opensslSpeed('aes-256-gcm', CHUNK, OPENSSL_SECONDS);
  const aesWall = await opensslSpeed('aes-256-gcm', CHUNK, OPENSSL_SECONDS, 1, true);
  const aesWall2 = await opensslSpeed('aes-256-gcm', CHUNK, OPENSSL_SECONDS, 2, true);
  const shaCpu = await opensslSpeed('sha256', CHUNK, OPENSSL_SECONDS);
  rows.push({ name: 'openssl speed AES-256-GCM, 1 process (CPU time)', cpu: aesCpu.bytesPerSecond, note: aesCpu.command });
  rows.push({ name: 'openssl speed AES-256-GCM, 1 process, -elapsed', wall: aesWall.bytesPerSecond, note: aesWall.command });
  rows.push({ name: 'openssl speed AES-256-GCM, -multi 2, -elapsed', wall: aesWall2.bytesPerSecond, note: aesWall2.command });
  rows.push({ name: 'openssl speed SHA-256, 1 process (CPU time)', cpu: shaCpu.bytesPerSecond, note: shaCpu.command });

  const { Bench } = await import('tinybench'); // ESM-only package
  const bench = new Bench({ time: TIME_MS, warmupTime: 200, throws: true });
  let next = 0;
  const take = (): Buffer => chunks[next++ % POOL]!;
  /** k operations in flight per iteration; throughput counts k chunks per iteration. */
  const tasks: { name: string; k: number; note?: string; cpuMicros: number }[] = [];
  const add = (name: string, k: number, fn: () => Promise<unknown> | unknown, note?: string): void => {
    const spec = { name, k, note, cpuMicros: NaN };
    let start = process.cpuUsage();
    tasks.push(spec);
    bench.add(name, fn, {
      beforeAll: (mode) => { if (mode === 'run') start = process.cpuUsage(); },
      afterAll: (mode) => {
        if (mode !== 'run') return;
        const used = process.cpuUsage(start);
        spec.cpuMicros = used.user + used.system;
      },
    });
  };

  const kek = randomBytes(32);
  add('node:crypto AES-256-GCM only (createCipheriv, fresh output)', 1, () => {
    const c = createCipheriv('aes-256-gcm', kek, randomBytes(12));
    c.update(take());
    c.final();
    c.getAuthTag();
  });
  add('node:crypto SHA-256 only (createHash)', 1, () => createHash('sha256').update(take()).digest());

  const out = [0, 1, 2, 3].map(() => Buffer.allocUnsafeSlow(CHUNK));
  const ids = chunks.map(() => randomBytes(32));
  const aead = (slot: number): Promise<unknown> => {
    const i = next++ % POOL;
    return sealEnvelope(nRing, chunks[i]!, { kind: 'given', id: ids[i]! }, CHUNK_DEK_INFO, native, out[slot]);
  };
  add('native AEAD only (id given, HKDF + GCM), 1 in flight', 1, () => aead(0), 'comparable to openssl speed');
  add('native AEAD only (id given, HKDF + GCM), 2 in flight', 2, () => Promise.all([aead(0), aead(1)]), 'comparable to openssl -multi 2');
  // Both cores kept busy the way the mount's upload pipeline keeps them (up to 8 chunks sealing at
  // once): with only 2 in flight a worker thread waits for the main thread between chunks.
  add('native AEAD only (id given, HKDF + GCM), 4 in flight', 4, () => Promise.all([aead(0), aead(1), aead(2), aead(3)]), 'both cores busy');

  add('native seal+hash, 1 in flight, fresh output', 1, () => sealChunk(nRing, take(), { backend: native }));
  add('native seal+hash, 1 in flight, reused output', 1, () => sealChunk(nRing, take(), { backend: native, output: out[0] }));
  add('native seal+hash, 2 in flight, reused output', 2, () => Promise.all([
    sealChunk(nRing, take(), { backend: native, output: out[0] }),
    sealChunk(nRing, take(), { backend: native, output: out[1] }),
  ]));
  add('native seal+hash, 4 in flight, reused output', 4, () => Promise.all(out.map((o) => sealChunk(nRing, take(), { backend: native, output: o }))));

  const openN = (slot: number, verify: boolean): Promise<unknown> => {
    const s = sealedN[next++ % POOL]!;
    return openChunk(nRing, s.envelope, s.chunkId, { backend: native, verifyContent: verify, output: out[slot] });
  };
  add('native open+verify (re-hash, I-CC1), 1 in flight', 1, () => openN(0, true));
  add('native open+verify (re-hash, I-CC1), 2 in flight', 2, () => Promise.all([openN(0, true), openN(1, true)]));
  add('native open (AEAD only), 1 in flight', 1, () => openN(0, false));
  add('native open (AEAD only), 2 in flight', 2, () => Promise.all([openN(0, false), openN(1, false)]));

  add('portable seal+hash (node:crypto, main thread)', 1, () => sealChunk(pRing, take(), { backend: portable }));
  add('portable open+verify (node:crypto, main thread)', 1, () => {
    const s = sealedP[next++ % POOL]!;
    return openChunk(pRing, s.envelope, s.chunkId, { backend: portable, verifyContent: true });
  });

  add('CRC32 sync (zlib.crc32, main thread)', 1, () => crc32(take()));
  add('CRC32 native crc32Async, 2 in flight', 2, () => Promise.all([native.crc32Async(take()), native.crc32Async(take())]));

  await bench.run();
  for (const [i, t] of bench.tasks.entries()) {
    const spec = tasks[i]!;
    const r = t.result;
    if (r === undefined || r.error !== undefined || !(r.latency.mean > 0)) {
      throw new Error(`bench task '${t.name}' failed: ${r?.error?.message ?? 'no result'}`);
    }
    const bytes = spec.k * CHUNK * r.latency.samples.length;
    rows.push({ name: spec.name, wall: (spec.k * CHUNK) / (r.latency.mean / 1000), cpu: bytes / (spec.cpuMicros / 1e6), note: spec.note });
  }
  return rows;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  const f = await fixture();
  const rounds: Row[][] = [];
  const loads: string[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    loads.push(os.loadavg()[0]!.toFixed(1));
    rounds.push(await round(f));
  }
  print(rounds, loads, await opensslVersion());
}

function print(rounds: Row[][], loads: string[], opensslVersion: string): void {
  const gb = (x: number): string => (Number.isFinite(x) ? (x / 1e9).toFixed(2) : '');
  const cpuModel = os.cpus()[0]?.model ?? 'unknown CPU';
  type Clock = 'wall' | 'cpu';
  const by = (name: string, clock: Clock): number[] =>
    rounds.map((rows) => rows.find((r) => r.name.startsWith(name))?.[clock] ?? NaN);
  const wallPeer = by('openssl speed AES-256-GCM, 1 process, -elapsed', 'wall');
  const cpuPeer = by('openssl speed AES-256-GCM, 1 process (CPU', 'cpu');
  const med = (xs: number[]): number => (xs.some((x) => !Number.isFinite(x)) ? NaN : median(xs));
  const perRound = (xs: number[], ys: number[]): number => med(xs.map((x, i) => x / ys[i]!));
  console.log(`\nCrypto bench ${new Date().toISOString()}: ${os.cpus().length} × ${cpuModel}; node ${process.version} ` +
    `(OpenSSL ${process.versions.openssl}); ${opensslVersion}; 4 MiB chunks; ${rounds.length} rounds, ` +
    `1-min load average at the start of each: ${loads.join(', ')}\n`);
  console.log('| path | wall GB/s (median, range) | ÷ openssl -elapsed 1 process | GB per CPU-second (median) | ÷ openssl 1 process (CPU time) |');
  console.log('|---|---:|---:|---:|---:|');
  for (const row of rounds[0]!) {
    const w = by(row.name, 'wall');
    const c = by(row.name, 'cpu');
    const range = Number.isFinite(med(w)) ? ` (${gb(Math.min(...w))}–${gb(Math.max(...w))})` : '';
    const wr = perRound(w, wallPeer);
    const cr = perRound(c, cpuPeer);
    console.log(`| ${row.name} | ${gb(med(w))}${range} | ${Number.isFinite(wr) ? wr.toFixed(2) : ''} | ${gb(med(c))} | ` +
      `${Number.isFinite(cr) ? cr.toFixed(2) : ''} |`);
  }
  const r = (a: string, ac: Clock, b: string | number[], bc: Clock = ac): string =>
    perRound(by(a, ac), typeof b === 'string' ? by(b, bc) : b).toFixed(2);
  const shaCpu = by('openssl speed SHA-256', 'cpu');
  const ideal = cpuPeer.map((a, i) => 1 / (1 / a + 1 / shaCpu[i]!)); // hash, then encrypt, one core, openssl's speeds
  const AEAD1 = 'native AEAD only (id given, HKDF + GCM), 1';
  const AEAD2 = 'native AEAD only (id given, HKDF + GCM), 2 in';
  const AEAD4 = 'native AEAD only (id given, HKDF + GCM), 4 in';
  console.log('\nRatios (median over rounds of the ratio within each round):');
  console.log(`  per core:  native AEAD GB/CPU-s ÷ openssl AES-GCM (CPU time)          = ${r(AEAD1, 'cpu', cpuPeer)} (target ≥ 0.80)`);
  console.log(`  wall:      native AEAD 1 in flight ÷ openssl -elapsed 1 process         = ${r(AEAD1, 'wall', wallPeer)}`);
  console.log(`  wall:      native AEAD 2 in flight ÷ openssl -elapsed 1 process         = ${r(AEAD2, 'wall', wallPeer)}`);
  console.log(`  wall:      native AEAD 4 in flight ÷ openssl -elapsed 1 process         = ${r(AEAD4, 'wall', wallPeer)} (target ≥ 1.70 with both cores free)`);
  console.log(`  wall:      native seal+hash 4 in flight ÷ 1 in flight                   = ${r('native seal+hash, 4 in', 'wall', 'native seal+hash, 1 in flight, reused')}`);
  console.log(`  wall:      native AEAD 2 in flight ÷ openssl -elapsed -multi 2          = ${r(AEAD2, 'wall', 'openssl speed AES-256-GCM, -multi 2')}`);
  console.log(`  machine:   openssl -elapsed -multi 2 ÷ -elapsed 1 process               = ${r('openssl speed AES-256-GCM, -multi 2', 'wall', wallPeer)}`);
  console.log(`  per core:  native seal+hash GB/CPU-s ÷ openssl SHA-256-then-AES-GCM     = ${r('native seal+hash, 1 in flight, reused', 'cpu', ideal)}`);
  console.log(`  wall:      native seal+hash 2 in flight ÷ 1 in flight                   = ${r('native seal+hash, 2', 'wall', 'native seal+hash, 1 in flight, reused')}`);
  console.log(`  per core:  native seal+hash ÷ portable seal+hash (GB/CPU-s)              = ${r('native seal+hash, 1 in flight, reused', 'cpu', 'portable seal+hash')}`);
  console.log(`  per core:  native open+verify ÷ portable open+verify (GB/CPU-s)         = ${r('native open+verify (re-hash, I-CC1), 1', 'cpu', 'portable open+verify')}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

// Chunk crypto throughput (issue 3): seal+hash and open+verify of 4 MiB chunks on the native path (one
// and two chunks in flight) and the portable path, against node:crypto and `openssl speed` measured in
// the same run on the same machine. Prints a Markdown table with ratios; BENCHMARKS.md records it.
//   npm run bench:crypto            (KISEKI_BENCH_TIME_MS=1500 per task by default)
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

interface Row { name: string; bytesPerSecond: number; rme?: number; note?: string }

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
  const aes1 = await opensslSpeed('aes-256-gcm', CHUNK, OPENSSL_SECONDS);
  const aes2 = await opensslSpeed('aes-256-gcm', CHUNK, OPENSSL_SECONDS, 2);
  const sha1 = await opensslSpeed('sha256', CHUNK, OPENSSL_SECONDS);
  rows.push({ name: 'openssl speed AES-256-GCM, 1 process', bytesPerSecond: aes1.bytesPerSecond, note: aes1.command });
  rows.push({ name: 'openssl speed AES-256-GCM, -multi 2', bytesPerSecond: aes2.bytesPerSecond, note: aes2.command });
  rows.push({ name: 'openssl speed SHA-256, 1 process', bytesPerSecond: sha1.bytesPerSecond, note: sha1.command });

  const { Bench } = await import('tinybench'); // ESM-only package
  const bench = new Bench({ time: TIME_MS, warmupTime: 200, throws: true });
  let next = 0;
  const take = (): Buffer => chunks[next++ % POOL]!;
  /** k operations in flight per iteration; throughput counts k chunks per iteration. */
  const tasks: { name: string; k: number; note?: string }[] = [];
  const add = (name: string, k: number, fn: () => Promise<unknown> | unknown, note?: string): void => {
    tasks.push({ name, k, note });
    bench.add(name, fn);
  };

  const kek = randomBytes(32);
  add('node:crypto AES-256-GCM only (createCipheriv, fresh output)', 1, () => {
    const c = createCipheriv('aes-256-gcm', kek, randomBytes(12));
    c.update(take());
    c.final();
    c.getAuthTag();
  });
  add('node:crypto SHA-256 only (createHash)', 1, () => createHash('sha256').update(take()).digest());

  const out = [Buffer.allocUnsafeSlow(CHUNK), Buffer.allocUnsafeSlow(CHUNK)];
  const ids = chunks.map(() => randomBytes(32));
  const aead = (slot: number): Promise<unknown> => {
    const i = next++ % POOL;
    return sealEnvelope(nRing, chunks[i]!, { kind: 'given', id: ids[i]! }, CHUNK_DEK_INFO, native, out[slot]);
  };
  add('native AEAD only (id given, HKDF + GCM), 1 in flight', 1, () => aead(0), 'comparable to openssl speed');
  add('native AEAD only (id given, HKDF + GCM), 2 in flight', 2, () => Promise.all([aead(0), aead(1)]), 'comparable to openssl -multi 2');

  add('native seal+hash, 1 in flight, fresh output', 1, () => sealChunk(nRing, take(), { backend: native }));
  add('native seal+hash, 1 in flight, reused output', 1, () => sealChunk(nRing, take(), { backend: native, output: out[0] }));
  add('native seal+hash, 2 in flight, reused output', 2, () => Promise.all([
    sealChunk(nRing, take(), { backend: native, output: out[0] }),
    sealChunk(nRing, take(), { backend: native, output: out[1] }),
  ]));

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
    rows.push({ name: spec.name, bytesPerSecond: (spec.k * CHUNK) / (r.latency.mean / 1000), rme: r.latency.rme, note: spec.note });
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
  const gb = (x: number): string => (x / 1e9).toFixed(2);
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const by = (name: string): number[] => rounds.map((rows) => rows.find((r) => r.name.startsWith(name))?.bytesPerSecond ?? NaN);
  const aes1 = by('openssl speed AES-256-GCM, 1');
  console.log(`\nCrypto bench ${new Date().toISOString()}: ${os.cpus().length} × ${cpu}; node ${process.version} ` +
    `(OpenSSL ${process.versions.openssl}); ${opensslVersion}; 4 MiB chunks; ${rounds.length} rounds, ` +
    `1-min load average at the start of each: ${loads.join(', ')}\n`);
  console.log('| path | GB/s median | range over rounds | median of per-round ratio to openssl AES-GCM 1 process | note |');
  console.log('|---|---:|---:|---:|---|');
  for (const row of rounds[0]!) {
    const xs = by(row.name);
    const ratio = median(xs.map((x, i) => x / aes1[i]!));
    console.log(`| ${row.name} | ${gb(median(xs))} | ${gb(Math.min(...xs))}–${gb(Math.max(...xs))} | ${ratio.toFixed(2)} | ${row.note ?? ''} |`);
  }
  const ratio = (a: string, b: string | number[]): string => {
    const xs = by(a);
    const ys = typeof b === 'string' ? by(b) : b;
    return median(xs.map((x, i) => x / ys[i]!)).toFixed(2);
  };
  const sha1 = by('openssl speed SHA-256');
  const ideal = aes1.map((a, i) => 1 / (1 / a + 1 / sha1[i]!)); // hash then encrypt on one core at openssl's speeds
  console.log('\nRatios (median over rounds of the ratio within each round):');
  console.log(`  native AEAD 1 in flight / openssl AES-GCM 1 process        = ${ratio('native AEAD only (id given, HKDF + GCM), 1', 'openssl speed AES-256-GCM, 1')} (target ≥ 0.80)`);
  console.log(`  native AEAD 2 in flight / openssl AES-GCM 1 process        = ${ratio('native AEAD only (id given, HKDF + GCM), 2', 'openssl speed AES-256-GCM, 1')} (target ≥ 1.70 with both cores free)`);
  console.log(`  native AEAD 2 in flight / openssl AES-GCM -multi 2         = ${ratio('native AEAD only (id given, HKDF + GCM), 2', 'openssl speed AES-256-GCM, -multi')}`);
  console.log(`  openssl -multi 2 / openssl 1 process (what the machine gave) = ${ratio('openssl speed AES-256-GCM, -multi', 'openssl speed AES-256-GCM, 1')}`);
  console.log(`  native seal+hash 1 in flight / openssl SHA-256-then-AES-GCM one core = ${ratio('native seal+hash, 1 in flight, reused', ideal)}`);
  console.log(`  native seal+hash 2 in flight / 1 in flight                 = ${ratio('native seal+hash, 2', 'native seal+hash, 1 in flight, reused')}`);
  console.log(`  native seal+hash 1 in flight / portable seal+hash          = ${ratio('native seal+hash, 1 in flight, reused', 'portable seal+hash')}`);
  console.log(`  native open+verify 2 in flight / portable open+verify      = ${ratio('native open+verify (re-hash, I-CC1), 2', 'portable open+verify')}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

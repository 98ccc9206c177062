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
import { opensslSpeed } from './util-openssl.js';

const CHUNK = 4 * 1024 * 1024;
const POOL = 16; // 64 MiB of distinct chunks, far beyond the CPU caches
const TIME_MS = Number(process.env.KISEKI_BENCH_TIME_MS ?? 1500);
const OPENSSL_SECONDS = Number(process.env.KISEKI_BENCH_OPENSSL_SECONDS ?? 3);

interface Row { name: string; bytesPerSecond: number; rme?: number; note?: string }

function ring(backend: CryptoBackend): TenantKeyring {
  return TenantKeyring.fromResponse(FetchTenantKeysResponse.fromPartial({
    currentEpoch: { value: 1 }, keks: [{ epoch: { value: 1 }, kek: randomBytes(32) }], indexKey: randomBytes(32),
    dedupPolicy: DedupPolicy.DEDUP_POLICY_CROSS_TENANT,
  }), backend);
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const chunks = Array.from({ length: POOL }, () => randomBytes(CHUNK));
  const native = nativeBackend();
  const portable = await portableBackend();

  // Peers first, while nothing else of ours runs.
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

  const nRing = ring(native);
  const aeadOut = [Buffer.allocUnsafeSlow(CHUNK), Buffer.allocUnsafeSlow(CHUNK)];
  const ids = chunks.map(() => randomBytes(32));
  const aead = (slot: number): Promise<unknown> => {
    const i = next++ % POOL;
    return sealEnvelope(nRing, chunks[i]!, { kind: 'given', id: ids[i]! }, CHUNK_DEK_INFO, native, aeadOut[slot]);
  };
  add('native AEAD only (id given, HKDF + GCM), 1 in flight', 1, () => aead(0), 'comparable to openssl speed');
  add('native AEAD only (id given, HKDF + GCM), 2 in flight', 2, () => Promise.all([aead(0), aead(1)]), 'comparable to openssl -multi 2');

  const sealOut = [Buffer.allocUnsafeSlow(CHUNK), Buffer.allocUnsafeSlow(CHUNK)];
  add('native seal+hash, 1 in flight, fresh output', 1, () => sealChunk(nRing, take(), { backend: native }));
  add('native seal+hash, 1 in flight, reused output', 1, () => sealChunk(nRing, take(), { backend: native, output: sealOut[0] }));
  add('native seal+hash, 2 in flight, reused output', 2, () => Promise.all([
    sealChunk(nRing, take(), { backend: native, output: sealOut[0] }),
    sealChunk(nRing, take(), { backend: native, output: sealOut[1] }),
  ]));

  const sealedN = await Promise.all(chunks.map((c) => sealChunk(nRing, c, { backend: native })));
  const openOut = [Buffer.allocUnsafeSlow(CHUNK), Buffer.allocUnsafeSlow(CHUNK)];
  const openN = (slot: number, verify: boolean): Promise<unknown> => {
    const s = sealedN[next++ % POOL]!;
    return openChunk(nRing, s.envelope, s.chunkId, { backend: native, verifyContent: verify, output: openOut[slot] });
  };
  add('native open+verify (re-hash, I-CC1), 1 in flight', 1, () => openN(0, true));
  add('native open+verify (re-hash, I-CC1), 2 in flight', 2, () => Promise.all([openN(0, true), openN(1, true)]));
  add('native open (AEAD only), 1 in flight', 1, () => openN(0, false));
  add('native open (AEAD only), 2 in flight', 2, () => Promise.all([openN(0, false), openN(1, false)]));

  const pRing = ring(portable);
  const sealedP: { chunkId: Buffer; envelope: Envelope }[] = await Promise.all(chunks.map((c) => sealChunk(pRing, c, { backend: portable })));
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
  print(rows, aes1.bytesPerSecond, aes2.bytesPerSecond, sha1.bytesPerSecond, aes1.version);
}

function print(rows: Row[], aes1: number, aes2: number, sha1: number, version: string): void {
  const gb = (x: number): string => (x / 1e9).toFixed(2);
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  console.log(`\nCrypto bench ${new Date().toISOString()}: ${os.cpus().length} × ${cpu}; node ${process.version} ` +
    `(OpenSSL ${process.versions.openssl}); ${version}; 4 MiB chunks; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  console.log('| path | GB/s | ± % | vs openssl AES-GCM 1 core | note |');
  console.log('|---|---:|---:|---:|---|');
  for (const r of rows) {
    console.log(`| ${r.name} | ${gb(r.bytesPerSecond)} | ${r.rme === undefined ? '' : r.rme.toFixed(1)} | ` +
      `${(r.bytesPerSecond / aes1).toFixed(2)} | ${r.note ?? ''} |`);
  }
  const find = (prefix: string): number => rows.find((r) => r.name.startsWith(prefix))?.bytesPerSecond ?? NaN;
  const ideal = 1 / (1 / aes1 + 1 / sha1); // hash then encrypt, one core, at openssl's own speeds
  console.log('\nTargets (issue 3):');
  console.log(`  native AEAD, 1 in flight / openssl 1 core      = ${(find('native AEAD only (id given, HKDF + GCM), 1') / aes1).toFixed(2)} (target ≥ 0.80)`);
  console.log(`  native AEAD, 2 in flight / openssl 1 core      = ${(find('native AEAD only (id given, HKDF + GCM), 2') / aes1).toFixed(2)} (target ≥ 1.70)`);
  console.log(`  native AEAD, 2 in flight / openssl -multi 2    = ${(find('native AEAD only (id given, HKDF + GCM), 2') / aes2).toFixed(2)}`);
  console.log(`  openssl -multi 2 / openssl 1 core (machine)    = ${(aes2 / aes1).toFixed(2)}`);
  console.log(`  native seal+hash 1 in flight / openssl SHA-256+AES-GCM one core (${gb(ideal)} GB/s) = ` +
    `${(find('native seal+hash, 1 in flight, reused') / ideal).toFixed(2)}`);
  console.log(`  native seal+hash 2 in flight / 1 in flight     = ${(find('native seal+hash, 2') / find('native seal+hash, 1 in flight, reused')).toFixed(2)}`);
  console.log(`  native seal+hash 1 in flight / portable         = ${(find('native seal+hash, 1 in flight, reused') / find('portable seal+hash')).toFixed(2)}`);
  console.log(`  native open+verify 2 in flight / portable       = ${(find('native open+verify (re-hash, I-CC1), 2') / find('portable open+verify')).toFixed(2)}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

// Cache read throughput for 4 MiB chunks (issue 5): an L1 hit, an L2 hit (read + CRC32 verify of the
// trailer + page bookkeeping), against the peers measured in the same run on the same files:
// fs.promises.readFile of the very same L2 file (the floor for any disk-cache read) and zlib's CRC32
// alone. The L2 files are in the page cache (just written), so this measures the software path, not
// the disk. Prints a Markdown table; BENCHMARKS.md ("Cache") records it.
//   npx tsc -p tsconfig.json && node dist/bench/cache.bench.js   (KISEKI_BENCH_TIME_MS, KISEKI_BENCH_ROUNDS)
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { resolveCacheConfig } from '../src/cache/cache-config.js';
import { DEFAULT_POLICY } from '../src/cache/cache-policy.js';
import { ChunkCache } from '../src/cache/chunk-cache.js';

const CHUNK = 4 * 1024 * 1024;
const POOL = 16; // 64 MiB of distinct chunks
const TIME_MS = Number(process.env.KISEKI_BENCH_TIME_MS ?? 1500);
const ROUNDS = Number(process.env.KISEKI_BENCH_ROUNDS ?? 3);

interface Row { name: string; bytesPerSecond: number }

async function open(dir: string, l1: string): Promise<ChunkCache> {
  const config = resolveCacheConfig(DEFAULT_POLICY, { env: {}, mountOptions: { cache_dir: dir, cache_l1_max: l1 } });
  return ChunkCache.open(config, { tenant: 'bench', statsIntervalMs: 0, pool: { scavenge: false } });
}

async function round(chunks: { id: string; data: Buffer }[], l1Cache: ChunkCache, l2Cache: ChunkCache): Promise<Row[]> {
  const { Bench } = await import('tinybench'); // ESM-only package
  const bench = new Bench({ time: TIME_MS, warmupTime: 200, throws: true });
  let next = 0;
  const pick = () => chunks[next++ % POOL]!;
  bench.add('fs.readFile of the L2 file (peer)', async () => { await readFile(l2Cache.pool!.l2.path(pick().id)); });
  bench.add('zlib crc32 of 4 MiB in memory (peer)', () => { crc32(pick().data); });
  bench.add('L2 hit: ChunkCache.get (read + CRC verify)', async () => {
    const r = await l2Cache.get(pick().id);
    if (r.kind !== 'hit' || r.tier !== 'l2') throw new Error(`expected an L2 hit, got ${r.kind}`);
    r.release();
  });
  bench.add('L1 hit: ChunkCache.get', async () => {
    const r = await l1Cache.get(pick().id);
    if (r.kind !== 'hit' || r.tier !== 'l1') throw new Error(`expected an L1 hit, got ${r.kind}`);
    r.release();
  });
  await bench.run();
  return bench.tasks.map((t) => {
    const ops = t.result?.throughput.mean;
    if (ops === undefined || !Number.isFinite(ops)) throw new Error(`task ${t.name} produced no result`);
    return { name: t.name, bytesPerSecond: ops * CHUNK };
  });
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };

async function main(): Promise<void> {
  const dir = await mkdtemp(join(os.tmpdir(), 'kcache-bench-'));
  try {
    const chunks = Array.from({ length: POOL }, () => { const data = randomBytes(CHUNK); return { id: createHash('sha256').update(data).digest('hex'), data }; });
    const l1Cache = await open(join(dir, 'l1'), `${POOL * 4 + 4}M`);
    const l2Cache = await open(join(dir, 'l2'), '1'); // L1 too small for any chunk: every hit comes from L2
    for (const c of chunks) {
      await l1Cache.put(c.id, c.data);
      await l2Cache.put(c.id, c.data);
    }
    const rounds: Row[][] = [];
    for (let i = 0; i < ROUNDS; i++) rounds.push(await round(chunks, l1Cache, l2Cache));
    const names = rounds[0]!.map((r) => r.name);
    const peer = 'fs.readFile of the L2 file (peer)';
    console.log(`\nCache read path, 4 MiB chunks, ${ROUNDS} rounds × ${TIME_MS} ms, ${os.cpus()[0]?.model ?? '?'} (${os.cpus().length} cores), node ${process.version}\n`);
    console.log('| task | MB/s (median) | ratio to fs.readFile (median of per-round ratios) |');
    console.log('|---|---:|---:|');
    for (const name of names) {
      const mbs = median(rounds.map((r) => r.find((x) => x.name === name)!.bytesPerSecond / 1e6));
      const ratio = median(rounds.map((r) => r.find((x) => x.name === name)!.bytesPerSecond / r.find((x) => x.name === peer)!.bytesPerSecond));
      console.log(`| ${name} | ${mbs.toFixed(0)} | ${ratio.toFixed(2)}× |`);
    }
    await l1Cache.close();
    await l2Cache.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

void main().catch((err) => { console.error(err); process.exitCode = 1; });

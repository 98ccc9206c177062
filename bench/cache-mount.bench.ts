// Cache hits through the mount (npm run bench:cache-mount), against peers in the same run:
//   L2 hits: our mount with an L1 far smaller than the file (cache_l1_max, default 64M) and the file's
//            chunks in its L2 pool, against bindfs mounted over that pool's chunks/ directory reading the
//            same chunk files (the same bytes from the same host page cache, plus 4-byte trailers).
//   L1 hits: our mount with the whole file in L1 (cache_l1_max=1G) against the libfuse C ceiling.
// Each read drops the file's pages first (posix_fadvise DONTNEED), so bytes come from the daemons; the
// L2 files themselves stay in the host page cache for both L2 readers. Sizes 1 MiB and 128 KiB,
// BENCH_ROUNDS rounds (default 3) alternating peers; prints medians, per-round ratios, the daemons'
// CPU-seconds per GiB, the load average, and the L2 mount's cache counters (proof that its reads were
// L2 hits). JSON to $BENCH_OUT (default bench/results/cache-mount.json).
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { CacheStatsSnapshot } from '../src/cache/cache-stats.js';
import { applyPeerReadAhead, ceilingPeer, childPeer, cpuSeconds, kisekiPeer, py, startBenchNode, stop, type Peer } from './mount.bench.js';
import { mountReadAheadKb } from '../src/fuse/read-ahead.js';
import { DAEMON_V8_FLAGS } from '../src/util/daemon-flags.js';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../..');
const FILE_MB = Number(process.env.BENCH_FILE_MB ?? 256);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const L2_L1_MAX = process.env.BENCH_L2_L1_MAX ?? '64M';
const KISEKI_OPTS = process.env.BENCH_KISEKI_OPTS ? `,${process.env.BENCH_KISEKI_OPTS}` : '';
/** BENCH_CPU_PROF=<dir>: run both of our mounts under node --cpu-prof, profiles written there at unmount. */
const CPU_PROF = process.env.BENCH_CPU_PROF;
/** BENCH_BEFORE_ROOT=<another built checkout>: its mounts measured too, as "kiseki-before" (before/after in one run). */
const BEFORE_ROOT = process.env.BENCH_BEFORE_ROOT;
const SIZES = [1 << 20, 128 << 10] as const;
const CHUNK = 4 << 20; // the mount's default chunk size

interface Sample { MBps: number; cpuPerGiB: number | undefined }

async function cacheStats(cacheDir: string): Promise<CacheStatsSnapshot> {
  const { stdout } = await run(process.execPath, [join(ROOT, 'dist/src/cli/kiseki-client.js'), 'cache', '--stats', '--json', '--cache-dir', cacheDir]);
  const all = JSON.parse(stdout) as CacheStatsSnapshot[];
  if (all.length !== 1) throw new Error(`expected one live pool under ${cacheDir}, found ${all.length}`);
  return all[0]!;
}

/** The chunks/ directory of the one pool under cacheDir. */
async function chunksDir(cacheDir: string): Promise<string> {
  const [tenant] = await readdir(cacheDir);
  const pools = (await readdir(join(cacheDir, tenant!))).filter((p) => /^[0-9a-f]{32}$/.test(p));
  if (pools.length !== 1) throw new Error(`expected one pool under ${cacheDir}/${tenant}, found ${pools.length}`);
  return join(cacheDir, tenant!, pools[0]!, 'chunks');
}

async function countFiles(dir: string): Promise<number> {
  let n = 0;
  for (const prefix of await readdir(dir)) n += (await readdir(join(dir, prefix))).filter((f) => /^[0-9a-f]{64}$/.test(f)).length;
  return n;
}

/** One measured read of `what` (a file, or with `many` every file under a directory) at block size bs. */
async function sample(p: Peer, what: string, bs: number, many = false): Promise<Sample> {
  const c0 = cpuSeconds(p.pid?.());
  const r = await py(many ? 'readfiles' : 'read', what, String(bs));
  const c1 = cpuSeconds(p.pid?.());
  return { MBps: r.MBps!, cpuPerGiB: c0 !== undefined && c1 !== undefined ? (c1 - c0) / (r.bytes! / 2 ** 30) : undefined };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const load0 = loadavg();
  // Short: the pools' control.sock paths must fit in 108 bytes for live stats.
  const work = await mkdtemp('/tmp/kcb-');
  const node = await startBenchNode(work);
  // Our mounts run with the V8 flags their CLI's shebang gives them (src/util/daemon-flags.ts).
  const prof = [...DAEMON_V8_FLAGS, ...(CPU_PROF !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${resolve(CPU_PROF)}`] : [])];
  const base = { ...process.env, XDG_RUNTIME_DIR: join(work, 'run') };
  mkdirSync(base.XDG_RUNTIME_DIR, { recursive: true, mode: 0o700 });
  const ceiling = ceilingPeer(work, FILE_MB);
  // Our build, and optionally another built checkout (BENCH_BEFORE_ROOT) as "kiseki-before", each as
  // an L1 mount and an L2 mount with their own cache directories.
  const builds = [{ tag: 'kiseki', root: ROOT }, ...(BEFORE_ROOT !== undefined ? [{ tag: 'kiseki-before', root: resolve(BEFORE_ROOT) }] : [])].map((b, i) => {
    const l1Dir = join(work, `c1${i}`);
    const l2Dir = join(work, `c2${i}`);
    return {
      ...b, l2Dir,
      l1: kisekiPeer(`${b.tag} L1`, work, `meta_ttl_ms=1000,cache_l1_max=1G${KISEKI_OPTS}`, { ...base, KISEKI_CACHE_DIR: l1Dir }, b.root, prof),
      l2: kisekiPeer(`${b.tag} L2`, work, `meta_ttl_ms=1000,cache_l1_max=${L2_L1_MAX}${KISEKI_OPTS}`, { ...base, KISEKI_CACHE_DIR: l2Dir }, b.root, prof),
    };
  });
  const mounted: Peer[] = [];
  const samples: Record<string, Record<number, Sample[]>> = {};
  const counters: string[] = [];
  /** Kernel read-ahead (read_ahead_kb) of every mount measured: it sets how many requests a reader keeps in flight. */
  const readAhead: string[] = [];
  const want = Math.ceil((FILE_MB << 20) / CHUNK);
  /** Waits until the L2 pool under cacheDir holds every chunk of the file; returns its chunks/ directory. */
  const filled = async (cacheDir: string): Promise<string> => {
    const chunks = await chunksDir(cacheDir);
    for (let i = 0; (await countFiles(chunks)) < want; i++) {
      if (i > 600) throw new Error(`the L2 pool holds ${await countFiles(chunks)} of ${want} chunks after 60 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return chunks;
  };
  try {
    const cMnt = await ceiling.mount();
    mounted.push(ceiling);
    applyPeerReadAhead(cMnt);
    const cases: { name: string; peer: Peer; what: string; many?: boolean; statsOf?: string }[] = [{ name: 'C ceiling', peer: ceiling, what: join(cMnt, 'big') }];
    let bMnt = '';
    let bindfs: Peer | null = null;
    for (const [i, b] of builds.entries()) {
      const l1Mnt = await b.l1.mount();
      mounted.push(b.l1);
      const l2Mnt = await b.l2.mount();
      mounted.push(b.l2);
      // Written once through the first L1 mount (full chunks a mount writes are not cached,
      // ADR 0046); every L2 mount fills its pool with one cold read.
      if (i === 0) await py('write', join(l1Mnt, 'big'), String(FILE_MB));
      await py('read', join(l2Mnt, 'big'), String(1 << 20));
      const chunks = await filled(b.l2Dir);
      if (i === 0) {
        const peer = childPeer('bindfs', work, (mnt) => spawn('bindfs', ['-f', chunks, mnt], { stdio: 'ignore' }));
        bMnt = await peer.mount();
        mounted.push(peer);
        applyPeerReadAhead(bMnt);
        bindfs = peer;
      }
      readAhead.push(`${b.tag} ${await mountReadAheadKb(l1Mnt)} / ${await mountReadAheadKb(l2Mnt)}`);
      cases.push({ name: `${b.tag} L1 hit`, peer: b.l1, what: join(l1Mnt, 'big') }, { name: `${b.tag} L2 hit`, peer: b.l2, what: join(l2Mnt, 'big'), statsOf: b.l2Dir });
    }
    cases.push({ name: 'bindfs over the L2 pool', peer: bindfs!, what: bMnt, many: true });
    readAhead.push(`C ceiling ${await mountReadAheadKb(cMnt)}`, `bindfs ${await mountReadAheadKb(bMnt)}`);
    // Warm-up: fills the L1 mounts' L1 from canonical, and reads everything once.
    for (const c of cases) await py(c.many === true ? 'readfiles' : 'read', c.what, String(1 << 20));
    for (const c of cases) if (c.name.endsWith('L1 hit')) await py('read', c.what, String(1 << 20));

    for (let round = 0; round < ROUNDS; round++) {
      for (const bs of SIZES) {
        for (const c of cases) {
          const before = c.statsOf !== undefined ? await cacheStats(c.statsOf) : null;
          const s = await sample(c.peer, c.what, bs, c.many);
          ((samples[c.name] ??= {})[bs] ??= []).push(s);
          if (before !== null) {
            const after = await cacheStats(c.statsOf!);
            counters.push(`${c.name}, round ${round + 1}, ${bs >> 10} KiB: l2_hits +${after.l2_hits - before.l2_hits} (file has ${want} chunks), ` +
              `l1_hits +${after.l1_hits - before.l1_hits}, misses +${after.misses - before.misses}, errors +${after.errors - before.errors}`);
          }
          process.stderr.write(`round ${round + 1} ${c.name} ${bs >> 10} KiB: ${s.MBps.toFixed(0)} MB/s\n`);
        }
      }
    }
  } finally {
    for (const p of mounted.reverse()) await p.unmount().catch(() => undefined);
    await stop(node);
    await rm(work, { recursive: true, force: true }).catch(() => undefined);
  }

  const load1 = loadavg();
  const names = Object.keys(samples);
  const cell = (v: number | undefined) => (v === undefined ? '—' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
  const lines = [`| measure | ${names.join(' | ')} |`, `|---|${names.map(() => '---:').join('|')}|`];
  for (const bs of SIZES) {
    const kib = bs >> 10;
    lines.push(`| read ${kib} KiB, MB/s (median) | ${names.map((n) => cell(median(samples[n]![bs]!.map((s) => s.MBps)))).join(' | ')} |`);
    lines.push(`| read ${kib} KiB, daemon CPU-s/GiB (median) | ${names.map((n) => {
      const cpu = samples[n]![bs]!.map((s) => s.cpuPerGiB).filter((x): x is number => x !== undefined);
      return cell(cpu.length > 0 ? median(cpu) : undefined);
    }).join(' | ')} |`);
  }
  const ratios: string[] = [];
  const ratioLine = (label: string, a: string, b: string, target: number) => {
    for (const bs of SIZES) {
      const per = samples[a]![bs]!.map((s, i) => s.MBps / samples[b]![bs]![i]!.MBps);
      const med = median(samples[a]![bs]!.map((s) => s.MBps)) / median(samples[b]![bs]!.map((s) => s.MBps));
      ratios.push(`${label} ${bs >> 10} KiB: ${a} / ${b} = ${med.toFixed(2)}× of medians (per round ${per.map((r) => `${r.toFixed(2)}×`).join(', ')}; target ≥ ${target}×)`);
    }
  };
  for (const b of builds) {
    ratioLine('L2 hit', `${b.tag} L2 hit`, 'bindfs over the L2 pool', 0.8);
    ratioLine('L1 hit', `${b.tag} L1 hit`, 'C ceiling', 0.9);
  }
  const header = `${cpus().length} cores (${cpus()[0]?.model}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${FILE_MB} MiB file, ${ROUNDS} rounds, ` +
    `L2 mount cache_l1_max=${L2_L1_MAX}; read_ahead_kb: ${readAhead.join(', ')} (L1 / L2 mount); load average ${load0.map((x) => x.toFixed(2)).join(' ')} before, ${load1.map((x) => x.toFixed(2)).join(' ')} after`;
  process.stdout.write(`${header}\n\n${lines.join('\n')}\n\n${ratios.join('\n')}\n\nL2 mount counters per measured read:\n${counters.join('\n')}\n`);
  const out = process.env.BENCH_OUT ?? join(ROOT, 'bench/results/cache-mount.json');
  mkdirSync(resolve(out, '..'), { recursive: true });
  writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), header, samples, ratios, counters }, null, 2));
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});

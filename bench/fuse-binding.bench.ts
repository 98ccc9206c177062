// End-to-end FUSE binding benchmark: our binding (test/fixtures/memfs.ts on src/fuse) against the C
// ceiling (bench/c/ll3, libfuse3 low-level, same content), measured in the same run on the same machine.
//   node dist/bench/fuse-binding.bench.js [--runs 3]
// Sequential read of a 1 GiB in-memory file with dd bs=1M and bs=128k (default read-ahead, and 1 MiB
// read-ahead when root), stat/s over 10,000 files and one readdir of 10,000 entries (attr/entry timeout
// 0: three round trips per stat). Prints medians and ours/C ratios. Needs root for the read-ahead rows.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');
const C_DIR = path.join(ROOT, 'bench', 'c');
const MEMFS = path.join(ROOT, 'dist', 'test', 'fixtures', 'memfs.js');
const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? parseInt(process.argv[runsArg + 1] ?? '3', 10) : 3;

type Impl = 'c' | 'ours';

interface Mounted {
  mnt: string;
  child: ChildProcess;
}

function mountDevice(mnt: string): string | null {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f[4] === mnt) return f[2]!;
  }
  return null;
}

async function waitFor(cond: () => boolean, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function start(impl: Impl, env: Record<string, string>, readaheadKb: number | null,
  extra: Record<string, unknown> = {}): Promise<Mounted> {
  const base = mkdtempSync(path.join(os.tmpdir(), `kiseki-fuse-bench-${impl}-`));
  const mnt = path.join(base, 'mnt');
  mkdirSync(mnt);
  const childEnv = { ...process.env, ...env };
  const child = impl === 'c'
    ? spawn(path.join(C_DIR, 'll3'), ['-f', mnt], { env: childEnv, stdio: ['ignore', 'ignore', 'inherit'] })
    : spawn(process.execPath, [MEMFS, mnt, JSON.stringify(readaheadKb === null ? extra : { ...extra, readaheadKb })],
      { env: childEnv, stdio: ['ignore', 'pipe', 'inherit'] });
  let ready = impl === 'c';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => { if (d.includes('READY')) ready = true; });
  await waitFor(() => ready && mountDevice(mnt) !== null, `${impl} mount`);
  // Wait for INIT to have been answered: the root is listable.
  await execFileP('ls', [mnt]);
  if (impl === 'c' && readaheadKb !== null) {
    writeFileSync(`/sys/class/bdi/${mountDevice(mnt)}/read_ahead_kb`, `${readaheadKb}\n`);
  }
  return { mnt, child };
}

async function stop(m: Mounted): Promise<void> {
  const exited = new Promise((r) => m.child.on('exit', r));
  m.child.kill('SIGTERM');
  await exited;
  if (mountDevice(m.mnt) !== null) execFileSync('fusermount3', ['-u', '-z', m.mnt]);
  rmSync(path.dirname(m.mnt), { recursive: true, force: true });
}

async function ddMBps(file: string, bs: string, count: number): Promise<number> {
  const { stderr } = await execFileP('dd', [`if=${file}`, 'of=/dev/null', `bs=${bs}`, `count=${count}`]);
  const m = /^(\d+) bytes .* copied, ([\d.]+) s/m.exec(stderr);
  if (m === null) throw new Error(`cannot parse dd output: ${stderr}`);
  return Number(m[1]) / Number(m[2]) / 1e6;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function throughput(impl: Impl, readaheadKb: number | null): Promise<Record<string, number>> {
  const m = await start(impl, { BIG_MB: '1024', TMO: '1' }, readaheadKb);
  try {
    const big = path.join(m.mnt, 'big');
    await ddMBps(big, '1M', 1024);  // warm-up, discarded
    const out: Record<string, number> = {};
    for (const [bs, count] of [['1M', 1024], ['128k', 8192]] as const) {
      const xs: number[] = [];
      for (let i = 0; i < RUNS; i++) xs.push(await ddMBps(big, bs, count));
      out[bs] = median(xs);
    }
    return out;
  } finally {
    await stop(m);
  }
}

async function metadata(impl: Impl, extra: Record<string, unknown> = {}): Promise<{ statPerS: number; readdirMs: number }> {
  const m = await start(impl, { MANY: '10000', TMO: '0' }, null, extra);
  try {
    const stat: number[] = [], rd: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const { stdout } = await execFileP(path.join(C_DIR, 'metabench'), [path.join(m.mnt, 'many'), '10000']);
      const [entries, ms, , perS] = stdout.trim().split(' ').map(Number);
      if (entries !== 10002) throw new Error(`${impl}: readdir saw ${entries} entries, expected 10002`);
      rd.push(ms!);
      stat.push(perS!);
    }
    return { statPerS: median(stat), readdirMs: median(rd) };
  } finally {
    await stop(m);
  }
}

async function main(): Promise<void> {
  execFileSync('make', ['-s', '-C', C_DIR], { stdio: 'inherit' });
  const root = process.getuid?.() === 0;
  console.log(`fuse-binding bench: ${os.cpus().length} CPUs, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}, ` +
    `median of ${RUNS}, MB/s = 10^6 B/s`);
  const rows: Array<[string, number, number, 'higher' | 'lower']> = [];
  for (const ra of root ? [null, 1024] : [null]) {
    const c = await throughput('c', ra);
    const ours = await throughput('ours', ra);
    const tag = ra === null ? 'default RA' : 'RA=1M';
    rows.push([`dd bs=1M, ${tag} (MB/s)`, ours['1M']!, c['1M']!, 'higher']);
    rows.push([`dd bs=128k, ${tag} (MB/s)`, ours['128k']!, c['128k']!, 'higher']);
  }
  const cm = await metadata('c');
  const om = await metadata('ours');
  const op = await metadata('ours', { readdirplus: false });
  rows.push(['stat of 10,000 files (stat/s, 3 round trips each)', om.statPerS, cm.statPerS, 'higher']);
  rows.push(['readdir of 10,000 entries, plain READDIR (ms)', op.readdirMs, cm.readdirMs, 'lower']);
  rows.push(['readdir of 10,000 entries, ours READDIRPLUS (ms)', om.readdirMs, cm.readdirMs, 'lower']);
  const w = Math.max(...rows.map((r) => r[0].length));
  console.log(`${'measure'.padEnd(w)}  ${'ours'.padStart(9)}  ${'C ll3'.padStart(9)}  ours/C`);
  for (const [name, o, c, better] of rows) {
    const ratio = better === 'higher' ? o / c : c / o;
    console.log(`${name.padEnd(w)}  ${o.toFixed(1).padStart(9)}  ${c.toFixed(1).padStart(9)}  ${ratio.toFixed(2)}${better === 'lower' ? ' (C time / ours)' : ''}`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

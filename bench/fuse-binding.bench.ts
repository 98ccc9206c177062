// End-to-end FUSE binding benchmark: our binding (test/fixtures/memfs.ts on src/fuse) against the C
// ceiling (bench/c/ll3, libfuse3 low-level, same content), measured in the same run on the same machine.
//   node dist/bench/fuse-binding.bench.js [--runs 3]
// Sequential read of a 1 GiB in-memory file with dd bs=1M and bs=128k (default read-ahead, and 1 MiB
// read-ahead when root), stat/s over 10,000 files and one readdir of 10,000 entries (attr/entry timeout
// 0: three round trips per stat). Both filesystems are mounted at once and measured alternately, so the
// shared machine's noise hits both alike. Prints medians, ours/C ratios and the filesystem processes'
// CPU seconds per run. Needs root for the read-ahead rows.
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

/** CPU seconds (user + system, all threads) the filesystem process has used so far. */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / 100;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Sample { value: number; cpu: number }

/**
 * Runs `measure` on both mounts alternately (C, ours, ours, C, ...) so that the machine's noise hits both
 * alike, recording the value and the filesystem process's CPU seconds per run.
 */
async function alternate(mounts: Record<Impl, Mounted>, measure: (mnt: string) => Promise<number>)
  : Promise<Record<Impl, Sample[]>> {
  const out: Record<Impl, Sample[]> = { c: [], ours: [] };
  for (let i = 0; i < RUNS; i++) {
    for (const impl of (i % 2 === 0 ? ['c', 'ours'] : ['ours', 'c']) as Impl[]) {
      const m = mounts[impl];
      const cpu0 = cpuSeconds(m.child.pid!);
      const value = await measure(m.mnt);
      out[impl].push({ value, cpu: cpuSeconds(m.child.pid!) - cpu0 });
    }
  }
  return out;
}

type Row = { name: string; ours: number; c: number; better: 'higher' | 'lower'; oursCpu?: number; cCpu?: number };

async function both(env: Record<string, string>, readaheadKb: number | null, extra: Record<string, unknown> = {})
  : Promise<Record<Impl, Mounted>> {
  const c = await start('c', env, readaheadKb);
  const ours = await start('ours', env, readaheadKb, extra);
  return { c, ours };
}

async function main(): Promise<void> {
  execFileSync('make', ['-s', '-C', C_DIR], { stdio: 'inherit' });
  const root = process.getuid?.() === 0;
  console.log(`fuse-binding bench: ${os.cpus().length} CPUs, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}, ` +
    `median of ${RUNS} alternating runs, MB/s = 10^6 B/s, CPU = filesystem process user+sys`);
  const rows: Row[] = [];
  for (const ra of root ? [null, 1024] : [null]) {
    const mounts = await both({ BIG_MB: '1024', TMO: '1' }, ra);
    try {
      for (const m of Object.values(mounts)) await ddMBps(path.join(m.mnt, 'big'), '1M', 1024);  // warm-up
      const tag = ra === null ? 'default RA' : 'RA=1M';
      for (const [bs, count] of [['1M', 1024], ['128k', 8192]] as const) {
        const r = await alternate(mounts, (mnt) => ddMBps(path.join(mnt, 'big'), bs, count));
        rows.push({ name: `dd bs=${bs}, ${tag} (MB/s)`, ours: median(r.ours.map((x) => x.value)),
          c: median(r.c.map((x) => x.value)), better: 'higher',
          oursCpu: median(r.ours.map((x) => x.cpu)), cCpu: median(r.c.map((x) => x.cpu)) });
      }
    } finally {
      await stop(mounts.c);
      await stop(mounts.ours);
    }
  }
  for (const plus of [true, false]) {
    const mounts = await both({ MANY: '10000', TMO: '0' }, null, { readdirplus: plus });
    try {
      const stat: Record<Impl, number[]> = { c: [], ours: [] }, rd: Record<Impl, number[]> = { c: [], ours: [] };
      await alternate(mounts, async (mnt) => {
        const { stdout } = await execFileP(path.join(C_DIR, 'metabench'), [path.join(mnt, 'many'), '10000']);
        const [entries, ms, , perS] = stdout.trim().split(' ').map(Number);
        if (entries !== 10002) throw new Error(`readdir of ${mnt} saw ${entries} entries, expected 10002`);
        const impl: Impl = mnt === mounts.c.mnt ? 'c' : 'ours';
        rd[impl].push(ms!);
        stat[impl].push(perS!);
        return perS!;
      });
      if (plus) {
        rows.push({ name: 'stat of 10,000 files (stat/s; 3 round trips each)', ours: median(stat.ours),
          c: median(stat.c), better: 'higher' });
      }
      rows.push({ name: `readdir of 10,000 entries, ours ${plus ? 'READDIRPLUS' : 'plain READDIR'} (ms)`,
        ours: median(rd.ours), c: median(rd.c), better: 'lower' });
    } finally {
      await stop(mounts.c);
      await stop(mounts.ours);
    }
  }
  const w = Math.max(...rows.map((r) => r.name.length));
  console.log(`${'measure'.padEnd(w)}  ${'ours'.padStart(8)}  ${'C ll3'.padStart(8)}  ours/C  CPU-s ours / C`);
  for (const r of rows) {
    const ratio = r.better === 'higher' ? r.ours / r.c : r.c / r.ours;
    const cpu = r.oursCpu === undefined ? '' : `${r.oursCpu.toFixed(2)} / ${r.cCpu!.toFixed(2)}`;
    console.log(`${r.name.padEnd(w)}  ${r.ours.toFixed(1).padStart(8)}  ${r.c.toFixed(1).padStart(8)}  ` +
      `${ratio.toFixed(2).padStart(6)}  ${cpu}`);
  }
  console.log('ours/C > 1 means ours is better (for readdir: C time / ours time).');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

// End-to-end mount benchmark (npm run bench:mount): our mount over a real kiseki-node against the
// libfuse C ceiling (bench/c/ll3, an in-memory low-level filesystem), gocryptfs, bindfs and rclone
// mount on the same machine, in one run. Workloads run in a separate Python process
// (bench/mount-workloads.py): write+fsync, cold read (fresh mount), hot sequential read at 1 MiB and
// 128 KiB (page cache of the file dropped first, so bytes come from the daemon), stat/s over 10,000
// files on a fresh mount, readdir of 10,000 entries, and the shape of Kiseki's published FUSE figures
// (64 KiB objects, 16 workers, put-heavy and get-heavy). Prints a table and ratios; writes JSON to
// $BENCH_OUT (default bench/results/mount.json). Our mount runs with meta_ttl_ms=1000 (the C ceiling
// uses 1 s timeouts too) and cache_l1_max=1G so that the hot file fits in L1.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { readAheadFileOfDev } from '../src/fuse/read-ahead.js';
import { DAEMON_V8_FLAGS } from '../src/util/daemon-flags.js';
import { measureCeilings, type MachineCeilings } from './machine-ceilings.js';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../..');
const PY = join(ROOT, 'bench/mount-workloads.py');
const C_DIR = join(ROOT, 'bench/c');
const FILE_MB = Number(process.env.BENCH_FILE_MB ?? 256);
const MANY = Number(process.env.BENCH_FILES ?? 10000);
const OBJ_SECONDS = Number(process.env.BENCH_OBJ_SECONDS ?? 10);
// Knobs for focused runs: BENCH_PEERS=comma-separated peer names; BENCH_READS_ONLY=1 (write, cold and
// hot reads only); BENCH_KISEKI_OPTS=extra -o options for our mount (not for kiseki-before); BENCH_BEFORE_ROOT=another built
// checkout, mounted as peer "kiseki-before" in the same run (before/after of a change).
const PEERS = process.env.BENCH_PEERS?.split(',').map((x) => x.trim()).filter(Boolean) ?? null;
const READS_ONLY = process.env.BENCH_READS_ONLY === '1';
const KISEKI_OPTS = process.env.BENCH_KISEKI_OPTS ? `,${process.env.BENCH_KISEKI_OPTS}` : '';
const BEFORE_ROOT = process.env.BENCH_BEFORE_ROOT;
/** BENCH_META_ONLY=1: only the metadata rows (stat, readdir, objects) against the C ceiling and gocryptfs. */
const META_ONLY = process.env.BENCH_META_ONLY === '1';

export type Result = Record<string, number>;

export interface Peer {
  readonly name: string;
  /** The C ceiling serves a fixed in-memory file and directory; it cannot be written. */
  readonly readOnlyFixture?: boolean;
  mount(): Promise<string>;
  unmount(): Promise<void>;
  /** The daemon's pid while mounted (for its CPU time). */
  pid?(): number | undefined;
}

/** User + system CPU seconds of a process so far (all its threads), from /proc/<pid>/stat. */
export function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return undefined;
  }
}

export async function py(...args: string[]): Promise<Result> {
  const { stdout } = await run('python3', [PY, ...args], { maxBuffer: 1 << 20, timeout: 900_000 });
  return JSON.parse(stdout) as Result;
}

async function mountedAt(path: string, ms = 20_000): Promise<void> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    const info = await readFile('/proc/self/mountinfo', 'utf8');
    if (info.split('\n').some((l) => l.split(' ')[4] === path)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${path} did not get mounted within ${ms} ms`);
}

async function fusermountU(path: string): Promise<void> {
  await run('fusermount3', ['-u', path]).catch(async () => run('fusermount3', ['-uz', path]).catch(() => undefined));
}

export function stop(child: ChildProcess | null): Promise<void> {
  if (child === null || child.exitCode !== null) return Promise.resolve();
  return new Promise((r) => {
    child.once('exit', () => r());
    child.kill('SIGTERM');
  });
}

/**
 * BENCH_PEER_READ_AHEAD_KB=<kb>: peers other than our mounts get this kernel read-ahead too (root), so a
 * comparison can hold read-ahead equal; unset, every peer keeps its own default.
 */
export function applyPeerReadAhead(mnt: string): void {
  const kb = process.env.BENCH_PEER_READ_AHEAD_KB;
  if (kb !== undefined && kb !== '') writeFileSync(readAheadFileOfDev(statSync(mnt).dev), `${kb}\n`);
}

export function childPeer(name: string, work: string, start: (mnt: string) => ChildProcess): Peer {
  const mnt = join(work, `${name.replace(/\W+/g, '-')}-mnt`);
  mkdirSync(mnt, { recursive: true });
  let child: ChildProcess | null = null;
  return {
    name,
    async mount() {
      child = start(mnt);
      await mountedAt(mnt);
      return mnt;
    },
    async unmount() {
      await fusermountU(mnt);
      await stop(child);
      child = null;
    },
    pid: () => child?.pid,
  };
}

/**
 * Our mount (the build under root) in the foreground, over startBenchNode(work)'s socket, with -o
 * options; nodeArgs go to node itself (e.g. --cpu-prof).
 */
export function kisekiPeer(name: string, work: string, options: string, env: NodeJS.ProcessEnv, root = ROOT, nodeArgs: string[] = []): Peer {
  return childPeer(name, work, (mnt) => spawn(process.execPath, [...nodeArgs, join(root, 'dist/src/cli/kiseki-client-fuse.js'), 'mount', mnt, '-f',
    '--data-addr', `unix:${join(work, 'node.sock')}`, '-o', options], { env, stdio: 'ignore' }));
}

/**
 * The C ceiling binary: the fuse helper's bench/c/ll.c when present, else the same source from
 * research/fuse-bindings.md Appendix C (where it was measured first).
 */
export function buildCeiling(work: string): string {
  let src = join(C_DIR, 'll.c');
  if (!existsSync(src)) {
    const doc = readFileSync(process.env.KISEKI_FUSE_RESEARCH ?? '/work/shared/research/fuse-bindings.md', 'utf8');
    const appendix = doc.slice(doc.indexOf('## Appendix C'));
    const code = /```c\n([\s\S]*?)```/.exec(appendix)?.[1];
    if (code === undefined) throw new Error('no C ceiling source: bench/c/ll.c is missing and the research appendix was not found');
    src = join(work, 'll.c');
    writeFileSync(src, code);
  }
  const out = join(work, 'll3');
  const flags = (what: string) => execFileSync('pkg-config', [what, 'fuse3'], { encoding: 'utf8' }).trim().split(/\s+/).filter(Boolean);
  execFileSync('cc', ['-O2', ...flags('--cflags'), src, '-o', out, ...flags('--libs')], { stdio: 'inherit' });
  return out;
}

/** The C ceiling mounted with an in-memory file `big` of fileMb MiB and a directory `many` of MANY files. */
export function ceilingPeer(work: string, fileMb: number): Peer {
  const ll3 = buildCeiling(work);
  return { ...childPeer('C ceiling', work, (mnt) => spawn(ll3, ['-f', mnt], {
    env: { ...process.env, BIG_MB: String(fileMb), MANY: String(MANY), TMO: '1' }, stdio: 'ignore',
  })), readOnlyFixture: true };
}

let nodeProcess: ChildProcess | null = null;

/** A kiseki-node on the unix socket <work>/node.sock with its data under <work>/node, once it is ready. */
export async function startBenchNode(work: string): Promise<ChildProcess> {
  const node = spawn(process.execPath, [...DAEMON_V8_FLAGS, join(ROOT, 'dist/src/cli/kiseki-node.js'), '--data-dir', join(work, 'node'), '--socket', join(work, 'node.sock')], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise<void>((ok) => node.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('ready')) ok(); }));
  return node;
}

async function peers(work: string): Promise<Peer[]> {
  const list: Peer[] = [];
  list.push(ceilingPeer(work, FILE_MB));

  // The daemons run with the V8 flags their CLIs' shebangs give them (src/util/daemon-flags.ts).
  const node = await startBenchNode(work);
  const env = { ...process.env, XDG_RUNTIME_DIR: join(work, 'run'), KISEKI_CACHE_DIR: join(work, 'cache') };
  mkdirSync(env.XDG_RUNTIME_DIR, { recursive: true, mode: 0o700 });
  const ourMount = (name: string, root: string, extra: string, flags: readonly string[]) =>
    kisekiPeer(name, work, `meta_ttl_ms=1000,cache_l1_max=1G${extra}`, env, root, [...flags]);
  list.push(ourMount('kiseki', ROOT, KISEKI_OPTS, DAEMON_V8_FLAGS));
  if (BEFORE_ROOT !== undefined) list.push(ourMount('kiseki-before', BEFORE_ROOT, '', DAEMON_V8_FLAGS));
  nodeProcess = node;

  const have = (bin: string) => { try { execFileSync('which', [bin], { stdio: 'ignore' }); return true; } catch { return false; } };
  if (have('gocryptfs')) {
    const cipher = join(work, 'gocryptfs-cipher');
    mkdirSync(cipher);
    execFileSync('gocryptfs', ['-init', '-q', '-extpass', 'echo bench', '-scryptn', '10', cipher]);
    list.push(childPeer('gocryptfs', work, (mnt) => spawn('gocryptfs', ['-f', '-q', '-extpass', 'echo bench', cipher, mnt], { stdio: 'ignore' })));
  }
  if (META_ONLY) return list;
  if (have('bindfs')) {
    const src = join(work, 'bindfs-src');
    mkdirSync(src);
    list.push(childPeer('bindfs', work, (mnt) => spawn('bindfs', ['-f', src, mnt], { stdio: 'ignore' })));
  }
  if (have('rclone')) {
    const src = join(work, 'rclone-src');
    mkdirSync(src);
    list.push(childPeer('rclone', work, (mnt) => spawn('rclone', ['mount', `:local:${src}`, mnt, '--vfs-cache-mode', 'off'], { stdio: 'ignore' })));
  }
  return list;
}

async function measure(p: Peer): Promise<Result> {
  const r: Result = {};
  let mnt = await p.mount();
  const big = join(mnt, 'big');
  if (!META_ONLY) {
    // CPU seconds per GiB of the daemon and, for our mounts, of the node (idle while other peers run).
    const node = p.name.startsWith('kiseki') ? nodeProcess?.pid : undefined;
    const perGiB = (before: number | undefined, after: number | undefined) =>
      (before === undefined || after === undefined ? undefined : (after - before) / (FILE_MB / 1024));
    const timed = async (key: string, work: () => Promise<Result>): Promise<Result> => {
      const d0 = cpuSeconds(p.pid?.()), n0 = cpuSeconds(node);
      const res = await work();
      const d = perGiB(d0, cpuSeconds(p.pid?.())), n = perGiB(n0, cpuSeconds(node));
      if (d !== undefined) r[`${key}_cpu_s_per_GiB`] = d;
      if (n !== undefined) r[`${key}_node_cpu_s_per_GiB`] = n;
      return res;
    };
    if (p.readOnlyFixture !== true) {
      r.write_fsync_MBps = (await timed('write_fsync', () => py('write', big, String(FILE_MB)))).MBps!;
      await p.unmount();
      mnt = await p.mount();
    }
    r.cold_read_MBps = (await timed('cold_read', () => py('read', join(mnt, 'big'), String(1 << 20)))).MBps!;
    await py('read', join(mnt, 'big'), String(1 << 20));
    const cpu0 = cpuSeconds(p.pid?.());
    const hot1M = await py('read', join(mnt, 'big'), String(1 << 20));
    const cpu1 = cpuSeconds(p.pid?.());
    const hot128K = await py('read', join(mnt, 'big'), String(128 << 10));
    const cpu2 = cpuSeconds(p.pid?.());
    r.hot_read_1M_MBps = hot1M.MBps!;
    r.hot_read_128K_MBps = hot128K.MBps!;
    // The daemon's CPU per GiB served: comparable across peers even when the machine is loaded.
    if (cpu0 !== undefined && cpu1 !== undefined && cpu2 !== undefined) {
      r.hot_read_1M_cpu_s_per_GiB = (cpu1 - cpu0) / (hot1M.bytes! / 2 ** 30);
      r.hot_read_128K_cpu_s_per_GiB = (cpu2 - cpu1) / (hot128K.bytes! / 2 ** 30);
    }
  }
  if (READS_ONLY) {
    await p.unmount();
    return r;
  }
  const many = join(mnt, 'many');
  if (p.readOnlyFixture !== true) {
    await py('mkfiles', many, String(MANY));
    await p.unmount();
    mnt = await p.mount();
  }
  r.stat_per_s = (await py('stat', join(mnt, 'many'), String(MANY))).per_s!;
  r.readdir_10k_ms = (await py('readdir', join(mnt, 'many'))).seconds! * 1000;
  if (p.readOnlyFixture !== true) {
    r.objects_put_ops = (await py('objects', 'put', join(mnt, 'objs-put'), '16', String(OBJ_SECONDS))).ops_per_s!;
    r.objects_get_ops = (await py('objects', 'get', join(mnt, 'objs-get'), '16', String(OBJ_SECONDS))).ops_per_s!;
  }
  await p.unmount();
  return r;
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'kiseki-mount-bench-'));
  let ceilings: MachineCeilings | null = null;
  const results: Record<string, Result> = {};
  const list = (await peers(work)).filter((p) => PEERS === null || PEERS.includes(p.name));
  try {
    for (const p of list) {
      process.stderr.write(`measuring ${p.name}…\n`);
      try {
        results[p.name] = await measure(p);
      } catch (err) {
        process.stderr.write(`${p.name}: ${(err as Error).message}\n`);
        await p.unmount().catch(() => undefined);
      }
    }
    // After the peers, so it never warms or cools anything they measure.
    if (!META_ONLY && process.env.BENCH_CEILINGS !== '0') ceilings = await measureCeilings(work);
  } finally {
    await stop(nodeProcess);
    await rm(work, { recursive: true, force: true }).catch(() => undefined);
  }
  const names = Object.keys(results);
  const rows = ['write_fsync_MBps', 'write_fsync_cpu_s_per_GiB', 'write_fsync_node_cpu_s_per_GiB', 'cold_read_MBps',
    'cold_read_cpu_s_per_GiB', 'cold_read_node_cpu_s_per_GiB', 'hot_read_1M_MBps', 'hot_read_128K_MBps', 'hot_read_1M_cpu_s_per_GiB', 'hot_read_128K_cpu_s_per_GiB', 'stat_per_s', 'readdir_10k_ms', 'objects_put_ops', 'objects_get_ops'];
  const cell = (v: number | undefined) => (v === undefined ? '—' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
  const lines = [`| measure | ${names.join(' | ')} |`, `|---|${names.map(() => '---:').join('|')}|`];
  for (const row of rows) lines.push(`| ${row} | ${names.map((n) => cell(results[n]?.[row])).join(' | ')} |`);
  const k = results.kiseki ?? {};
  const c = results['C ceiling'] ?? {};
  const g = results.gocryptfs ?? {};
  const ratio = (a?: number, b?: number) => (a !== undefined && b !== undefined ? `${(a / b).toFixed(2)}×` : 'n/a');
  const ratios = [
    `hot read 1 MiB: kiseki / C ceiling = ${ratio(k.hot_read_1M_MBps, c.hot_read_1M_MBps)} (target ≥ 0.9×)`,
    `hot read 128 KiB: kiseki / C ceiling = ${ratio(k.hot_read_128K_MBps, c.hot_read_128K_MBps)}`,
    `cold read: kiseki / gocryptfs = ${ratio(k.cold_read_MBps, g.cold_read_MBps)} (target ≥ 2×)`,
    `write+fsync: kiseki / gocryptfs = ${ratio(k.write_fsync_MBps, g.write_fsync_MBps)} (target ≥ 2×)`,
    `stat/s: kiseki / C ceiling = ${ratio(k.stat_per_s, c.stat_per_s)} (target ≥ 0.7×)`,
  ];
  if (ceilings !== null && g.write_fsync_MBps !== undefined && g.cold_read_MBps !== undefined) {
    const x = (v: number, of: number) => `${v.toFixed(0)} MB/s = ${(v / of).toFixed(2)}× gocryptfs`;
    ratios.push(
      `write+fsync ceiling: the disk itself (dd conv=fsync, same filesystem, best of 3) = ${x(ceilings.diskFsyncMBps, g.write_fsync_MBps)}`,
      `cold read ceiling: SHA-256 (I-CC1) + AES-256-GCM on every byte, both cores, nothing else = ${x(ceilings.verifiedOpenMBps, g.cold_read_MBps)}` +
        ` (openssl -multi 2: sha256 ${ceilings.sha256MBps.toFixed(0)}, aes-256-gcm ${ceilings.aesGcmMBps.toFixed(0)} MB/s)`,
    );
  }
  const kb = results['kiseki-before'];
  if (kb !== undefined) {
    ratios.push(`hot read 1 MiB: kiseki-before / C ceiling = ${ratio(kb.hot_read_1M_MBps, c.hot_read_1M_MBps)}`,
      `hot read 128 KiB: kiseki-before / C ceiling = ${ratio(kb.hot_read_128K_MBps, c.hot_read_128K_MBps)}`);
  }
  const header = `${cpus().length} cores (${cpus()[0]?.model}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${FILE_MB} MiB file, ${MANY} files, ` +
    `objects: 64 KiB, 16 workers, ${OBJ_SECONDS} s each`;
  process.stdout.write(`${header}\n\n${lines.join('\n')}\n\n${ratios.join('\n')}\n`);
  const out = process.env.BENCH_OUT ?? join(ROOT, 'bench/results/mount.json');
  mkdirSync(resolve(out, '..'), { recursive: true });
  writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), header, results, ceilings, ratios }, null, 2));
}

// Other benches import the peers and helpers above (bench/cache-mount.bench.ts).
if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}

// Staging throughput (node dist/bench/staging.bench.js): `kiseki-client stage` of a dataset
// (BENCH_STAGE_MB, default 256 MiB, in 8 files) from a real kiseki-node on a unix socket into a fresh
// pool, against the peer measured in the same run: `cp -r` of the same files out of a fresh
// kiseki-client-fuse mount of the same node (cold: its own new cache pool) into a local directory.
// Both decrypt and verify every chunk and write every byte to local disk once. Best of BENCH_RUNS
// (default 3). Prints MB/s and the ratio; writes JSON to $BENCH_OUT (default bench/results/staging.json).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { constants as fsc, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Session } from '../src/client/session.js';
import { grpcTransportFactory, MountSession } from '../src/client/mount-session.js';
import { parseMountOptions } from '../src/client/mount-options.js';
import { startNode } from '../test/helpers/node-process.js';

const ROOT = resolve(__dirname, '../..');
const CLI = join(ROOT, 'dist/src/cli/kiseki-client.js');
const FUSE = join(ROOT, 'dist/src/cli/kiseki-client-fuse.js');
const MB = Number(process.env.BENCH_STAGE_MB ?? 256);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const FILES = 8;

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'kiseki-stage-bench-'));
  const node = await startNode({ dataDir: join(work, 'node'), socket: true });
  const env = { ...process.env, KISEKI_SEEDS: `unix:${node.socketPath!}`, KISEKI_CACHE_DIR: join(work, 'cache'), XDG_RUNTIME_DIR: work, XDG_DATA_HOME: work, KISEKI_CACHE_POOL_ID: '' };
  try {
    await writeDataset(env, node.socketPath!);
    const bytes = MB * 1024 * 1024;
    const stage: number[] = [];
    const cp: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      stage.push(timeStage(env));
      cp.push(await timeCp(env, work, i));
    }
    const best = (xs: number[]) => Math.min(...xs);
    const mbps = (s: number) => bytes / 1e6 / s;
    const result = {
      dataset_mib: MB, files: FILES, runs: RUNS, cpus: cpus().length,
      stage_s: stage, cp_s: cp, stage_mb_s: mbps(best(stage)), cp_mb_s: mbps(best(cp)), ratio_stage_over_cp: best(cp) / best(stage),
    };
    process.stdout.write(`staging ${MB} MiB (${FILES} files), best of ${RUNS}\n` +
      `  kiseki-client stage         ${result.stage_mb_s.toFixed(1)} MB/s   (runs: ${stage.map((s) => s.toFixed(2)).join(', ')} s)\n` +
      `  cp -r out of a fresh mount  ${result.cp_mb_s.toFixed(1)} MB/s   (runs: ${cp.map((s) => s.toFixed(2)).join(', ')} s)\n` +
      `  stage / cp                  ${result.ratio_stage_over_cp.toFixed(2)}x\n`);
    const out = process.env.BENCH_OUT ?? join(ROOT, 'bench/results/staging.json');
    mkdirSync(join(out, '..'), { recursive: true });
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await node.stop();
    await rm(work, { recursive: true, force: true });
  }
}

async function writeDataset(env: NodeJS.ProcessEnv, socket: string): Promise<void> {
  const session = await Session.open({ seeds: [{ kind: 'unix', path: socket }], env, transportFactory: grpcTransportFactory });
  const ms = await MountSession.open(session, { namespaceId: 'default', create: true, mount: parseMountOptions([]), env, statsIntervalMs: 0 });
  const who = { uid: 0, gid: 0 };
  const dir = await ms.fs.mkdir(1, Buffer.from('bench'), 0o755, who);
  const per = (MB / FILES) * 1024 * 1024;
  for (let f = 0; f < FILES; f++) {
    const { file } = await ms.fs.create(dir.ino, Buffer.from(`f${f}.bin`), 0o644, fsc.O_RDWR | fsc.O_CREAT, who);
    for (let off = 0; off < per; off += 4 << 20) await ms.fs.write(file.fh, off, randomBytes(Math.min(4 << 20, per - off)));
    await ms.fs.release(file.fh);
  }
  await ms.close();
}

/** One cold stage into a fresh pool; the pool is released afterwards. */
function timeStage(env: NodeJS.ProcessEnv): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [CLI, 'stage', '--dataset', '/bench', '--json'], { env, encoding: 'utf8' });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`stage failed: ${r.stderr}`);
  const pool = (JSON.parse(r.stdout.split('\n')[0]!) as { pool_id: string }).pool_id;
  spawnSync(process.execPath, [CLI, 'stage', '--release-all', '--pool', pool], { env });
  return s;
}

/** One cold `cp -r` out of a freshly started mount (its own new pool), timed from mount to copy end. */
async function timeCp(env: NodeJS.ProcessEnv, work: string, i: number): Promise<number> {
  const mnt = join(work, `mnt-${i}`);
  const dest = join(work, `copy-${i}`);
  mkdirSync(mnt, { recursive: true });
  const t0 = process.hrtime.bigint();
  const child = spawn(process.execPath, [FUSE, 'mount', mnt, '-f'], { env, stdio: 'ignore' });
  for (let k = 0; !readFileSync('/proc/mounts', 'utf8').includes(` ${mnt} `); k++) {
    if (k > 400) throw new Error('mount did not come up');
    await sleep(25);
  }
  execFileSync('cp', ['-r', join(mnt, 'bench'), dest]);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  spawnSync(process.execPath, [FUSE, 'unmount', mnt], { env });
  await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
  await rm(dest, { recursive: true, force: true });
  return s;
}

void main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});

// The Slurm hooks (slurm/*.sh) under a real Slurm 22.05: munged, slurmctld and slurmd on localhost,
// jobs submitted with sbatch, the hooks calling the real kiseki-client and kiseki-cache-scrub.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SlurmCluster, slurmUnavailableReason, stopKisekiNodes } from '../helpers/slurm-cluster.js';

const repo = join(__dirname, '..', '..', '..');
const root = join(tmpdir(), 'kiseki-slurm-harness');
const binDir = join(root, 'bin');
const cacheDir = join(root, 'cache');
const stateDir = join(root, 'kiseki-state');
const hookLog = join(root, 'log', 'kiseki-hooks.log');
const JOB_TIMEOUT_MS = 30_000;
const missingDataset = '/kiseki-slurm-test/no-such-dataset';
// What every kiseki program in these tests sees: exported by kiseki-slurm.env to the hooks' calls,
// passed to the test's own mounts and to the jobs (sbatch exports the submitter's environment).
const kisekiEnv: Record<string, string> = { KISEKI_CACHE_DIR: cacheDir };

const unavailable = slurmUnavailableReason();
let cluster: SlurmCluster | undefined;

before(async () => {
  if (unavailable) return;
  await stopKisekiNodes(`KISEKI_CACHE_DIR=${cacheDir}`);
  cluster = await SlurmCluster.start({
    root,
    hooks: {
      sourceDir: join(repo, 'slurm'),
      env: {
        KISEKI_BIN_DIR: binDir,
        KISEKI_SLURM_STATE_DIR: stateDir,
        KISEKI_SLURM_LOG: hookLog,
        KISEKI_STAGE_TIMEOUT: '60',
      },
      exports: kisekiEnv,
    },
  });
  installBinaries();
});

after(async () => {
  await cluster?.stop();
  if (!unavailable) await stopKisekiNodes(`KISEKI_CACHE_DIR=${cacheDir}`);
});

/** What `npm install -g` would put on PATH: one launcher per program of package.json `bin`. */
function installBinaries(): void {
  mkdirSync(binDir, { mode: 0o755, recursive: true });
  mkdirSync(cacheDir, { mode: 0o1777, recursive: true });
  chmodSync(cacheDir, 0o1777);
  const bins = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).bin as Record<string, string>;
  for (const name of ['kiseki-client', 'kiseki-client-fuse', 'kiseki-cache-scrub']) {
    writeFileSync(join(binDir, name), `#!/bin/sh\nexec ${process.execPath} ${join(repo, bins[name]!)} "$@"\n`, { mode: 0o755 });
  }
}

function hookLines(jobId: number): string[] {
  if (!existsSync(hookLog)) return [];
  return readFileSync(hookLog, 'utf8').split('\n').filter((l) => l.includes(` job=${jobId} `));
}

/** What the hooks log of a command's output (its first 600 bytes on one line), digits masked so that
 * times and pids in two runs of the same command compare equal. */
function comparable(text: string): string {
  return text.slice(0, 600).replace(/\n/g, ' ').replace(/ +/g, ' ').trim().replace(/\d+/g, '#');
}

function assertNodeHealthy(c: SlurmCluster): void {
  assert.equal(c.nodeState(), 'idle', `node must stay in service; reason: ${c.nodeReason()}`);
}

const envProbe = 'echo "pool=[${KISEKI_CACHE_POOL_ID-unset}] uid=$(id -u)"; echo body-ran\n';

test('prolog runs the real `kiseki-client stage --dataset … --daemon` for the comment\'s dataset and fails safe when staging fails', { skip: unavailable }, async () => {
  const c = cluster!;
  const id = c.submit(envProbe, { comment: `kiseki:dataset=${missingDataset}`, uid: 'nobody', gid: 'nogroup' });
  const job = await c.waitForJob(id, JOB_TIMEOUT_MS);

  const lines = hookLines(id);
  const stageCmd = `${binDir}/kiseki-client stage --dataset ${missingDataset} --daemon --timeout 600`;
  assert.ok(lines.some((l) => l.includes(`prolog job=${id} info declared datasets=${missingDataset} required=no user=nobody(65534)`)), lines.join('\n'));
  assert.ok(lines.some((l) => l.includes(`prolog job=${id} info running: ${stageCmd} (as uid 65534`)), lines.join('\n'));

  // The hook reports the real command's own failure: the same text the command prints when run by hand.
  const byHand = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--',
    `${binDir}/kiseki-client`, 'stage', '--dataset', missingDataset, '--daemon', '--timeout', '600'],
  { encoding: 'utf8', cwd: '/', env: { PATH: process.env.PATH, LANG: 'C.UTF-8', HOME: '/', ...kisekiEnv } });
  assert.notEqual(byHand.status, 0, 'staging a dataset that does not exist must fail');
  const failure = lines.find((l) => l.includes(`prolog job=${id} error staging failed (exit ${byHand.status}): `));
  assert.ok(failure, lines.join('\n'));
  const reason = comparable(byHand.stderr).slice(0, 80);
  assert.ok(reason.length > 0 && comparable(failure).includes(reason), `log: ${failure}\nby hand: ${byHand.stderr}`);
  assert.match(failure, /the job runs without a staged pool$/);

  assert.equal(job.state, 'COMPLETED', job.raw);
  const out = c.jobOutput(id);
  assert.match(out, /pool=\[unset\] uid=65534/);
  assert.match(out, /body-ran/);
  assert.match(out, /kiseki: dataset staging failed on .*running without a staged pool/);
  assert.ok(lines.some((l) => l.includes(`epilog job=${id} info done`)), lines.join('\n'));
  assert.ok(lines.some((l) => l.includes(`epilog job=${id} `) && / scrub/.test(l)), 'epilog must run kiseki-cache-scrub');
  assert.equal(existsSync(join(stateDir, `job.${id}`)), false, 'epilog removes the job file');
  assertNodeHealthy(c);
});

test('kiseki:required fails the job at task start, never the node', { skip: unavailable }, async () => {
  const c = cluster!;
  const id = c.submit(envProbe, { comment: `kiseki:dataset=${missingDataset} kiseki:required` });
  const job = await c.waitForJob(id, JOB_TIMEOUT_MS);

  assert.equal(job.state, 'FAILED', job.raw);
  const out = c.jobOutput(id);
  assert.doesNotMatch(out, /body-ran/);
  assert.match(out, /kiseki: dataset staging failed on .*kiseki:required, so it does not start/);
  const lines = hookLines(id);
  assert.ok(lines.some((l) => l.includes(`prolog job=${id} error staging failed`) && l.endsWith('will fail at task start')), lines.join('\n'));
  assertNodeHealthy(c);
});

test('a job whose comment declares no valid dataset runs untouched', { skip: unavailable }, async () => {
  const c = cluster!;
  const id = c.submit(envProbe, { comment: 'project=42 kiseki:dataset=relative/path' });
  const job = await c.waitForJob(id, JOB_TIMEOUT_MS);

  assert.equal(job.state, 'COMPLETED', job.raw);
  assert.match(c.jobOutput(id), /pool=\[unset\] uid=0/);
  assert.doesNotMatch(c.jobOutput(id), /kiseki:/);
  const lines = hookLines(id);
  assert.deepEqual(lines.map((l) => l.replace(/^\S+ /, '')), [
    `prolog job=${id} warn ignored comment token kiseki:dataset=relative/path: dataset must be an absolute namespace path without '..'`,
  ]);
  assert.equal(existsSync(join(stateDir, `job.${id}`)), false);
  assertNodeHealthy(c);
});

/**
 * The staging CLI of issue 6 exists once `kiseki-client stage --help` succeeds AND documents
 * --dataset: commander answers an unknown command's --help with the root help and exit 0.
 */
function stagingCliExists(): boolean {
  const r = spawnSync(join(binDir, 'kiseki-client'), ['stage', '--help'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('--dataset');
}

test('slurm job reads staged dataset from L2', { skip: unavailable }, async (t) => {
  if (!stagingCliExists()) {
    t.skip('staging CLI not built yet (issue 6)');
    return;
  }
  const c = cluster!;
  // The writer, the prolog's stage call and the job share kisekiEnv and HOME (root's: the job runs as
  // root, and the hooks give root's kiseki programs HOME=/root), so they find the same embedded node.
  const jobEnv = { ...kisekiEnv, PATH: `${binDir}:${process.env.PATH}` };

  const files = new Map<string, string>();
  const writer = join(root, 'writer-mnt');
  await withMount(writer, jobEnv, async () => {
    await mkdir(join(writer, 'datasets', 'train'), { recursive: true });
    for (let i = 0; i < 3; i++) {
      const data = randomBytes(5 * 1024 * 1024 + i);
      await writeFile(join(writer, 'datasets', 'train', `part-${i}.bin`), data);
      files.set(`part-${i}.bin`, createHash('sha256').update(data).digest('hex'));
    }
  });

  const reader = join(root, 'job-mnt');
  const statsFile = join(c.jobDir, 'stats.json');
  const script = [
    'set -eu',
    'echo "pool=$KISEKI_CACHE_POOL_ID"',
    `mkdir -p ${reader}`,
    `kiseki-client-fuse mount ${reader} & mount_pid=$!`,
    `for i in $(seq 100); do mountpoint -q ${reader} && break; sleep 0.1; done`,
    `for f in ${reader}/datasets/train/*; do echo "sum $(basename $f) $(sha256sum < $f | cut -d' ' -f1)"; done`,
    `kiseki-client cache --stats --json --pool "$KISEKI_CACHE_POOL_ID" > ${statsFile}`,
    `kiseki-client-fuse unmount ${reader}`,
    'wait $mount_pid',
  ].join('\n');
  const id = c.submit(script, { comment: 'kiseki:dataset=/datasets/train', env: jobEnv });
  const job = await c.waitForJob(id, 120_000);
  const out = c.jobOutput(id);
  assert.equal(job.state, 'COMPLETED', `${job.raw}\n${out}\n${hookLines(id).join('\n')}`);

  const pool = out.match(/^pool=([0-9a-f]{32})$/m)?.[1];
  assert.ok(pool, `task prolog must export KISEKI_CACHE_POOL_ID:\n${out}`);
  assert.ok(hookLines(id).some((l) => l.includes(`prolog job=${id} info staged into pool ${pool}`)));
  for (const [name, sum] of files) assert.match(out, new RegExp(`^sum ${name} ${sum}$`, 'm'), `wrong bytes for ${name}`);
  // `cache --stats --json` prints an array: one object per pool (here exactly the job's pool).
  const [stats] = JSON.parse(readFileSync(statsFile, 'utf8')) as { l2_hits: number; misses: number; pool_id: string }[];
  assert.equal(stats?.pool_id, pool, 'the stats are those of the staged pool');
  assert.ok(stats.l2_hits > 0 && stats.misses === 0, `reads must be served from the staged L2 pool: ${JSON.stringify(stats)}`);

  const leftovers = existsSync(cacheDir) ? readdirSync(cacheDir).filter((tenant) => existsSync(join(cacheDir, tenant, pool))) : [];
  assert.deepEqual(leftovers, [], 'the epilog must leave no trace of the job\'s pool');
  assertNodeHealthy(c);
});

/** Mounts the embedded default in a child process (foreground or daemonizing), runs body against it,
 * and unmounts. */
async function withMount(mountpoint: string, env: NodeJS.ProcessEnv, body: () => Promise<void>): Promise<void> {
  mkdirSync(mountpoint, { recursive: true });
  const child = spawn(join(binDir, 'kiseki-client-fuse'), ['mount', mountpoint], { env: { ...process.env, ...env }, stdio: 'inherit' });
  try {
    for (let i = 0; !readFileSync('/proc/mounts', 'utf8').includes(` ${mountpoint} `); i++) {
      if (i > 100 || (child.exitCode ?? 0) !== 0) throw new Error(`kiseki-client-fuse did not mount ${mountpoint}`);
      await sleep(100);
    }
    await body();
  } finally {
    spawnSync(join(binDir, 'kiseki-client-fuse'), ['unmount', mountpoint], { env: { ...process.env, ...env }, stdio: 'inherit' });
    if (child.exitCode === null && child.signalCode === null) await new Promise((resolve) => child.once('exit', resolve));
  }
}

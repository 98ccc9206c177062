// A real single-node Slurm (Debian slurm-wlm 22.05 + munge) on localhost for integration tests:
// its own munged socket, slurm.conf, ports (16817–16830), state and spool, so it never touches a
// system Slurm. Packages come from scripts/apt-packages-slurm.txt; nothing is installed here.
//
// State lives in one fixed directory so that a run killed half-way is cleaned up by the next one:
// start() reaps the daemons a previous run left behind (munged, slurmctld or slurmd whose command
// line names that directory) before it wipes the directory.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync,
  rmSync, writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';

export const SLURM_PORT_RANGE = [16817, 16830] as const;
const DAEMONS = ['munged', 'slurmctld', 'slurmd'] as const;
type Daemon = (typeof DAEMONS)[number];
const SBIN = '/usr/sbin';
const TERMINAL_STATES = new Set([
  'COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'NODE_FAIL', 'OUT_OF_MEMORY', 'PREEMPTED', 'BOOT_FAIL', 'DEADLINE',
]);

export interface HookInstall {
  /** Directory holding prolog.sh, task_prolog.sh, epilog.sh and kiseki-slurm-lib.sh (the repo's slurm/). */
  sourceDir: string;
  /** Written as kiseki-slurm.env next to the installed hooks, as an admin would. */
  env: Record<string, string>;
  /** Written there as `export NAME=value`: the hooks pass these on to kiseki programs (ADR 0071). */
  exports?: Record<string, string>;
}

export interface SlurmClusterOptions {
  hooks?: HookInstall;
  /** Where all state goes; default <tmpdir>/kiseki-slurm-harness. */
  root?: string;
  /** Slurm's PrologFlags (default Alloc, as slurm/slurm.conf.snippet recommends). */
  prologFlags?: string;
}

export interface SubmitOptions {
  comment?: string;
  /** Run the job as this user (root may submit for others); default: the submitting user. */
  uid?: string;
  gid?: string;
  env?: NodeJS.ProcessEnv;
}

export interface JobInfo {
  id: number;
  state: string;
  reason: string;
  exitCode: string;
  /** The whole `scontrol show job -o` line. */
  raw: string;
}

/** Why the harness cannot run here, or undefined if it can. */
export function slurmUnavailableReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'a real slurmd must run as root';
  for (const bin of [...DAEMONS.map((d) => join(SBIN, d)), '/usr/bin/sbatch', '/usr/bin/scontrol', '/usr/bin/sinfo']) {
    if (!existsSync(bin)) return `${bin} is missing: install scripts/apt-packages-slurm.txt (bash scripts/setup.sh install)`;
  }
  return undefined;
}

export class SlurmCluster {
  readonly root: string;
  readonly conf: string;
  readonly nodeName = hostname().split('.')[0]!;
  readonly hookDir: string;
  readonly jobDir: string;
  /** Environment for Slurm client commands (sbatch, scontrol, sinfo) against this cluster. */
  readonly env: NodeJS.ProcessEnv;
  readonly ports: { ctld: number; slurmd: number };
  private readonly children = new Map<Daemon, ChildProcess>();
  private submitted = 0;

  private constructor(root: string, ports: { ctld: number; slurmd: number }) {
    this.root = root;
    this.conf = join(root, 'slurm.conf');
    this.hookDir = join(root, 'hooks');
    this.jobDir = join(root, 'jobs');
    this.ports = ports;
    this.env = { ...process.env, SLURM_CONF: this.conf };
  }

  static async start(options: SlurmClusterOptions = {}): Promise<SlurmCluster> {
    const root = options.root ?? join(tmpdir(), 'kiseki-slurm-harness');
    await reapStaleDaemons(root);
    rmSync(root, { recursive: true, force: true, maxRetries: 5 });
    const cluster = new SlurmCluster(root, await freePorts());
    try {
      cluster.layout(options);
      await cluster.startMunge();
      cluster.launch('slurmctld', ['-D', '-i', '-f', cluster.conf]);
      cluster.launch('slurmd', ['-D', '-f', cluster.conf, '-N', cluster.nodeName]);
      await cluster.waitForNodeState('idle', 30_000);
      return cluster;
    } catch (err) {
      await cluster.stop({ keep: true });
      throw new Error(`Slurm did not come up; logs in ${join(root, 'log')}:\n${cluster.logTail()}`, { cause: err });
    }
  }

  private layout(options: SlurmClusterOptions): void {
    // 0755 down to the job directory: jobs and the task prolog run as the job's owner.
    for (const d of ['', 'munge', 'state', 'spool', 'log', 'hooks']) mkdirSync(join(this.root, d), { recursive: true, mode: 0o755 });
    chmodSync(this.root, 0o755);
    chmodSync(join(this.root, 'munge'), 0o711);
    mkdirSync(this.jobDir, { mode: 0o1777 });
    chmodSync(this.jobDir, 0o1777);
    writeFileSync(join(this.root, 'munge', 'munge.key'), randomBytes(1024), { mode: 0o400 });
    const hooks = options.hooks ? this.installHooks(options.hooks) : undefined;
    writeFileSync(this.conf, this.slurmConf(hooks, options.prologFlags ?? 'Alloc'), { mode: 0o644 });
  }

  private installHooks(install: HookInstall): { prolog: string; taskProlog: string; epilog: string } {
    for (const f of ['prolog.sh', 'task_prolog.sh', 'epilog.sh', 'kiseki-slurm-lib.sh']) {
      copyFileSync(join(install.sourceDir, f), join(this.hookDir, f));
      chmodSync(join(this.hookDir, f), f.endsWith('-lib.sh') ? 0o644 : 0o755);
    }
    const lines = [
      ...Object.entries(install.env).map(([k, v]) => `${k}=${shellQuote(v)}`),
      ...Object.entries(install.exports ?? {}).map(([k, v]) => `export ${k}=${shellQuote(v)}`),
    ];
    writeFileSync(join(this.hookDir, 'kiseki-slurm.env'), `${lines.join('\n')}\n`, { mode: 0o644 });
    return {
      prolog: join(this.hookDir, 'prolog.sh'),
      taskProlog: join(this.hookDir, 'task_prolog.sh'),
      epilog: join(this.hookDir, 'epilog.sh'),
    };
  }

  private slurmConf(hooks: { prolog: string; taskProlog: string; epilog: string } | undefined, prologFlags: string): string {
    const r = this.root;
    // `slurmd -C` reports this machine's real CPUs, topology and memory in slurm.conf syntax.
    const probe = spawnSync(join(SBIN, 'slurmd'), ['-C'], { encoding: 'utf8' });
    const nodeLine = probe.stdout.split('\n').find((l) => l.startsWith('NodeName='));
    if (!nodeLine) throw new Error(`slurmd -C printed no NodeName line: ${probe.stderr}`);
    const hardware = nodeLine.replace(/^NodeName=\S+\s*/, '');
    return [
      'ClusterName=kisekitest',
      `SlurmctldHost=${this.nodeName}(127.0.0.1)`,
      `SlurmctldPort=${this.ports.ctld}`,
      `SlurmdPort=${this.ports.slurmd}`,
      'AuthType=auth/munge',
      'CredType=cred/munge',
      `AuthInfo=socket=${r}/munge/munge.socket`,
      'SlurmUser=root',
      'SlurmdUser=root',
      `StateSaveLocation=${r}/state`,
      `SlurmdSpoolDir=${r}/spool`,
      `SlurmctldPidFile=${r}/slurmctld.pid`,
      `SlurmdPidFile=${r}/slurmd.pid`,
      `SlurmctldLogFile=${r}/log/slurmctld.log`,
      `SlurmdLogFile=${r}/log/slurmd.log`,
      'SlurmctldDebug=info',
      'SlurmdDebug=info',
      'MailProg=/bin/true',
      'ProctrackType=proctrack/linuxproc',
      'TaskPlugin=task/none',
      'MpiDefault=none',
      'SwitchType=switch/none',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_Core',
      'SchedulerType=sched/builtin',
      'JobAcctGatherType=jobacct_gather/none',
      'AccountingStorageType=accounting_storage/none',
      'JobCompType=jobcomp/none',
      'ReturnToService=2',
      'MinJobAge=600',
      ...(hooks ? [`Prolog=${hooks.prolog}`, `TaskProlog=${hooks.taskProlog}`, `Epilog=${hooks.epilog}`, `PrologFlags=${prologFlags}`] : []),
      `NodeName=${this.nodeName} NodeAddr=127.0.0.1 ${hardware} State=UNKNOWN`,
      `PartitionName=debug Nodes=${this.nodeName} Default=YES MaxTime=INFINITE State=UP`,
      '',
    ].join('\n');
  }

  private async startMunge(): Promise<void> {
    const m = join(this.root, 'munge');
    this.launch('munged', [
      '--foreground', '--force', `--socket=${m}/munge.socket`, `--key-file=${m}/munge.key`,
      `--pid-file=${m}/munged.pid`, `--seed-file=${m}/munged.seed`, `--log-file=${join(this.root, 'log', 'munged.log')}`,
    ]);
    await waitFor(() => existsSync(join(m, 'munge.socket')), 10_000, 'munged socket');
  }

  /** Starts a daemon in its own process group with stdout/stderr in log/<name>.out. */
  private launch(name: Daemon, args: string[]): void {
    const out = openSync(join(this.root, 'log', `${name}.out`), 'a');
    const child = spawn(join(SBIN, name), args, {
      cwd: this.root, env: { ...process.env, SLURM_CONF: this.conf }, detached: true, stdio: ['ignore', out, out],
    });
    closeSync(out);
    child.unref();
    this.children.set(name, child);
  }

  /** Runs a Slurm client command against this cluster; throws with its stderr on failure. */
  run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
    const r = spawnSync(cmd, args, { env: { ...this.env, ...env }, encoding: 'utf8', cwd: this.jobDir, timeout: 30_000 });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr}`);
    return r.stdout;
  }

  /** Node state as sinfo reports it, e.g. idle, mixed, allocated, drained. */
  nodeState(): string {
    return this.run('sinfo', ['-h', '-N', '-n', this.nodeName, '-o', '%T']).trim();
  }

  /** Why the node is down or drained, if it is. */
  nodeReason(): string {
    return this.run('scontrol', ['show', 'node', this.nodeName]).match(/Reason=(.*)/)?.[1] ?? '';
  }

  async waitForNodeState(state: string, timeoutMs: number): Promise<void> {
    let last = '';
    await waitFor(() => {
      try { last = this.nodeState(); } catch (err) { last = String(err); }
      return last === state;
    }, timeoutMs, () => `node ${this.nodeName} to be ${state} (last: ${last})`);
  }

  /** Submits a batch script; returns the job id. The job's output goes to jobOutput(id). */
  submit(script: string, options: SubmitOptions = {}): number {
    const file = join(this.jobDir, `job-${++this.submitted}.sh`);
    writeFileSync(file, script.startsWith('#!') ? script : `#!/bin/bash\n${script}`, { mode: 0o755 });
    const args = ['--parsable', '-o', join(this.jobDir, '%j.out'), '-D', this.jobDir];
    if (options.comment !== undefined) args.push(`--comment=${options.comment}`);
    if (options.uid) args.push(`--uid=${options.uid}`);
    if (options.gid) args.push(`--gid=${options.gid}`);
    const id = Number.parseInt(this.run('sbatch', [...args, file], options.env).trim(), 10);
    if (!Number.isInteger(id)) throw new Error(`sbatch printed no job id for ${file}`);
    return id;
  }

  jobInfo(id: number): JobInfo {
    const raw = this.run('scontrol', ['show', 'job', '-o', String(id)]).trim();
    const field = (key: string) => raw.match(new RegExp(`(?:^|\\s)${key}=(\\S*)`))?.[1] ?? '';
    return { id, state: field('JobState'), reason: field('Reason'), exitCode: field('ExitCode'), raw };
  }

  /**
   * Waits until the job is finished and its Epilog has run (scontrol reports COMPLETING until the
   * Epilog is done), or until it is held after a failed launch, which is a result too.
   */
  async waitForJob(id: number, timeoutMs: number): Promise<JobInfo> {
    let info: JobInfo | undefined;
    await waitFor(() => {
      info = this.jobInfo(id);
      if (info.state === 'PENDING' && /held|launch_failed/i.test(info.reason)) return true;
      return TERMINAL_STATES.has(info.state);
    }, timeoutMs, () => `job ${id} to finish (last: ${info?.state} ${info?.reason})`);
    return info!;
  }

  jobOutput(id: number): string {
    const f = join(this.jobDir, `${id}.out`);
    return existsSync(f) ? readFileSync(f, 'utf8') : '';
  }

  logTail(lines = 20): string {
    const dir = join(this.root, 'log');
    if (!existsSync(dir)) return '';
    return readdirSync(dir).map((f) => {
      const text = readFileSync(join(dir, f), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
      return `--- ${f}\n${text}`;
    }).join('\n');
  }

  /** Stops the daemons this cluster started and removes its state (kept if keep or KISEKI_KEEP_SLURM=1). */
  async stop(options: { keep?: boolean } = {}): Promise<void> {
    for (const name of [...DAEMONS].reverse()) {
      const child = this.children.get(name);
      if (!child || child.exitCode !== null || child.signalCode !== null || child.pid === undefined) continue;
      const exited = once(child, 'exit');
      try { process.kill(-child.pid, 'SIGTERM'); } catch { continue; }
      const timer = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ } }, 5_000);
      await exited;
      clearTimeout(timer);
    }
    this.children.clear();
    if (!options.keep && process.env.KISEKI_KEEP_SLURM !== '1') rmSync(this.root, { recursive: true, force: true });
  }
}

/**
 * Kills daemons an earlier run under the same root left behind: each must still be one of ours
 * (its command line names the root), so a recycled pid is never hit.
 */
async function reapStaleDaemons(root: string): Promise<void> {
  const pids = readdirSync('/proc').filter((e) => /^\d+$/.test(e)).map(Number);
  const killed: number[] = [];
  for (const pid of pids) {
    if (pid === process.pid) continue;
    const cmdline = readIfExists(`/proc/${pid}/cmdline`).split('\0');
    const exe = cmdline[0]?.split('/').pop() ?? '';
    if ((DAEMONS as readonly string[]).includes(exe) && cmdline.some((a) => a.includes(root))) {
      try { process.kill(pid, 'SIGKILL'); killed.push(pid); } catch { /* exited meanwhile */ }
    }
  }
  // SIGKILL is asynchronous: a dying slurmctld may still write its state while we wipe the directory.
  await waitFor(() => killed.every((pid) => !isRunning(pid)), 10_000, () => `stale daemons ${killed.join(' ')} to exit`);
}

/**
 * Stops the kiseki-node processes whose environment holds `marker` (e.g. `KISEKI_CACHE_DIR=<the
 * harness's cache dir>`). The hooks' kiseki programs start root's embedded node, which outlives the
 * jobs by design; a node an earlier run left would be reused by the next one even if it is an older
 * build. SIGTERM (a clean stop), then SIGKILL after 10 s.
 */
export async function stopKisekiNodes(marker: string): Promise<void> {
  const pids = readdirSync('/proc').filter((e) => /^\d+$/.test(e)).map(Number).filter((pid) =>
    pid !== process.pid &&
    readIfExists(`/proc/${pid}/cmdline`).split('\0').some((a) => a.endsWith('kiseki-node.js')) &&
    readIfExists(`/proc/${pid}/environ`).split('\0').includes(marker));
  for (const pid of pids) {
    try { process.kill(pid, 'SIGTERM'); } catch { /* exited meanwhile */ }
  }
  try {
    await waitFor(() => pids.every((pid) => !isRunning(pid)), 10_000, 'kiseki-node to stop');
  } catch {
    for (const pid of pids) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* exited meanwhile */ }
    }
  }
}

/** True while pid exists and is not a zombie. */
function isRunning(pid: number): boolean {
  const stat = readIfExists(`/proc/${pid}/stat`);
  return stat !== '' && stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

function readIfExists(path: string): string {
  try { return readFileSync(path, 'utf8'); } catch { return ''; }
}

/** Two free TCP ports from SLURM_PORT_RANGE (slurmctld, slurmd). */
async function freePorts(): Promise<{ ctld: number; slurmd: number }> {
  const free: number[] = [];
  for (let p = SLURM_PORT_RANGE[0]; p <= SLURM_PORT_RANGE[1] && free.length < 2; p++) {
    if (await canListen(p)) free.push(p);
  }
  if (free.length < 2) throw new Error(`fewer than two free ports in ${SLURM_PORT_RANGE.join('–')}; is another Slurm test running?`);
  return { ctld: free[0]!, slurmd: free[1]! };
}

async function canListen(port: number): Promise<boolean> {
  const server = createServer();
  try {
    server.listen(port, '0.0.0.0');
    await once(server, 'listening');
    return true;
  } catch {
    return false;
  } finally {
    server.close();
  }
}

async function waitFor(ready: () => boolean, timeoutMs: number, what: string | (() => string)): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (ready()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await sleep(200);
  }
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

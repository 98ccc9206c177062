// Real mounts for tests: a kiseki-node on a unix socket (or the embedded default), and
// `kiseki-client-fuse mount` run as its own daemon process. The test process only ever touches a
// mount through child processes and async fs calls, never synchronously.
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { startNode, type NodeProcess } from '../helpers/node-process.js';

const run = promisify(execFile);
export const CLI = resolve(__dirname, '../../src/cli/kiseki-client-fuse.js');
export const NODE_CLI = resolve(__dirname, '../../src/cli/kiseki-node.js');

/** Runs a program; resolves with stdout, rejects with its stderr in the message. */
export async function sh(file: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<string> {
  try {
    const r = await run(file, args, { cwd: opts.cwd, env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 << 20 });
    return r.stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string; code?: number };
    const out = new Error(`${file} ${args.join(' ')} failed (${e.code}): ${e.stderr ?? ''}${e.message}`) as Error & { exitCode?: number; stderr?: string };
    out.exitCode = e.code;
    out.stderr = e.stderr;
    throw out;
  }
}

/** Bash snippet (for pipelines); rejects on a non-zero exit. */
export function bash(script: string, opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<string> {
  return sh('bash', ['-euo', 'pipefail', '-c', script], opts);
}

export async function isMounted(path: string): Promise<boolean> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info.split('\n').some((l) => l.split(' ')[4] === path);
}

export interface Mounted {
  readonly path: string;
  readonly pid: number;
  unmount(): Promise<void>;
}

export interface MountHarness {
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
  node: NodeProcess | null;
  mount(name: string, args?: string[]): Promise<Mounted>;
  close(): Promise<void>;
}

export async function startMountHarness(opts: { node?: boolean } = {}): Promise<MountHarness> {
  const dir = await mkdtemp(join(tmpdir(), 'kiseki-mount-'));
  const env = {
    ...process.env, XDG_RUNTIME_DIR: join(dir, 'run'), XDG_DATA_HOME: join(dir, 'data'), KISEKI_CACHE_DIR: join(dir, 'cache'),
  };
  await mkdir(env.XDG_RUNTIME_DIR, { recursive: true, mode: 0o700 });
  const node = opts.node === false ? null : await startNode({ dataDir: join(dir, 'node'), socket: true });
  const mounted: Mounted[] = [];
  const h: MountHarness = {
    dir, env, node,
    async mount(name, args = []) {
      const path = join(dir, name);
      await mkdir(path, { recursive: true });
      const addr = h.node !== null ? ['--data-addr', `unix:${h.node.socketPath}`] : [];
      const out = await sh(process.execPath, [CLI, 'mount', path, ...addr, ...args], { env, timeoutMs: 60_000 });
      const pid = Number(/pid (\d+)/.exec(out)?.[1]);
      const m: Mounted = {
        path, pid,
        async unmount() {
          if (!(await isMounted(path))) return;
          await sh(process.execPath, [CLI, 'unmount', path], { env, timeoutMs: 120_000 });
        },
      };
      mounted.push(m);
      return m;
    },
    async close() {
      for (const m of mounted) {
        try {
          await m.unmount();
        } catch {
          await sh('fusermount3', ['-uz', m.path]).catch(() => undefined);
          try {
            process.kill(m.pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
      await h.node?.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return h;
}

/** Starts a process in the background; `done` resolves with its exit code and output. */
export function startTool(file: string, args: string[], env?: NodeJS.ProcessEnv): { pid: number; done: Promise<{ code: number | null; out: string }> } {
  const p = spawn(file, args, { env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  return { pid: p.pid!, done: new Promise((resolve) => p.on('close', (code) => resolve({ code, out }))) };
}

/** Runs a process to its end without throwing on failure (for races). */
export function spawnTool(file: string, args: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return startTool(file, args, env).done;
}

/** One mount's entry in `kiseki-client-fuse status --json` (its transports). */
export interface MountStatusEntry {
  mountpoint: string;
  transports: { node: string; active: string; failovers: number; transports: { name: string; state: string }[] }[];
}

export async function mountStatus(path: string, env: NodeJS.ProcessEnv): Promise<MountStatusEntry> {
  const all = JSON.parse(await sh(process.execPath, [CLI, 'status', '--json'], { env })) as MountStatusEntry[];
  return all.find((m) => m.mountpoint === path)!;
}

/** The first number `re` captures in a mount's Prometheus /metrics (0 when absent). */
export async function metricValue(port: number, re: RegExp): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = re.exec(text);
  return m ? Number(m[1]) : 0;
}

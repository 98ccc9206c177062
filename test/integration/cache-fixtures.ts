// Shared helpers of the cache tests: real temp directories, real chunk ids, a real child process
// owning a pool (cache-child.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after } from 'node:test';
import { resolveCacheConfig, type CacheConfig } from '../../src/cache/cache-config.js';
import { DEFAULT_POLICY, type CacheMode } from '../../src/cache/cache-policy.js';

export function chunk(bytes = 4096): { id: string; data: Buffer } {
  const data = randomBytes(bytes);
  return { id: createHash('sha256').update(data).digest('hex'), data };
}

export const sha256hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export async function tempDir(prefix = 'kcache-'): Promise<{ path: string; cleanup(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

/** A maker of temp cache directories that are all removed after the calling test file's tests. */
export function cacheDirsRemovedAfter(): () => Promise<string> {
  const dirs: { cleanup(): Promise<void> }[] = [];
  after(async () => { for (const d of dirs) await d.cleanup(); });
  return async () => {
    const d = await tempDir();
    dirs.push(d);
    return d.path;
  };
}

export function config(cacheDir: string, over: { mode?: CacheMode; l1?: string; l2?: string; ttl?: string } & Partial<CacheConfig> = {}): CacheConfig {
  const base = resolveCacheConfig(DEFAULT_POLICY, {
    mountOptions: {
      cache_dir: cacheDir,
      cache_mode: over.mode ?? 'organic',
      ...(over.l1 !== undefined ? { cache_l1_max: over.l1 } : {}),
      ...(over.l2 !== undefined ? { cache_l2_max: over.l2 } : {}),
      ...(over.ttl !== undefined ? { meta_ttl_ms: over.ttl } : {}),
    },
    env: {},
  });
  const { mode: _m, l1: _l1, l2: _l2, ttl: _t, ...rest } = over;
  return { ...base, ...rest };
}

/** Pool owners still running; a failed test must not leave them behind (they hold the runner's stderr). */
const owners = new Set<ChildProcess>();
process.once('exit', () => { for (const p of owners) p.kill('SIGKILL'); });

export interface ChildInfo { poolId: string; dir: string; chunkIds: string[]; l2: number }

export async function spawnPoolOwner(args: { cacheDir: string; tenant: string; mode?: CacheMode; chunks?: number; chunkBytes?: number; adoptPoolId?: string; scavenge?: boolean }): Promise<{ proc: ChildProcess; info: ChildInfo; nextLine(): Promise<string> }> {
  const proc = spawn(process.execPath, [join(__dirname, 'cache-child.js'), JSON.stringify(args)], { stdio: ['pipe', 'pipe', 'inherit'] });
  owners.add(proc);
  proc.once('exit', () => owners.delete(proc));
  const lines = createInterface({ input: proc.stdout! });
  const queue: string[] = [];
  const waiters: ((l: string) => void)[] = [];
  lines.on('line', (l) => { const w = waiters.shift(); if (w) w(l); else queue.push(l); });
  const nextLine = () => new Promise<string>((resolve, reject) => {
    const q = queue.shift();
    if (q !== undefined) return resolve(q);
    waiters.push(resolve);
    proc.once('exit', (code) => reject(new Error(`pool owner exited (${code}) before printing`)));
  });
  const info = JSON.parse(await nextLine()) as ChildInfo;
  return { proc, info, nextLine };
}

export function exited(proc: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve({ code: proc.exitCode, signal: proc.signalCode });
  return new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
}

/** Polls pred until it holds or timeoutMs passes (generous: the machine is shared and loaded). */
export async function waitFor(pred: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
}

export { randomBytes };

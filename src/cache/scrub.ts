// Orphan removal, shared by start-up scavenging (pool-lifecycle.ts) and kiseki-cache-scrub (I-CC8).
//
// Why a live pool is never taken for an orphan: a pool is built as <tenant>/.new-<id>/; its lock file
// is created under a temporary name, flocked, and only then renamed to pool.lock (so pool.lock never
// exists unlocked while its creator lives), all BEFORE the directory is renamed to <tenant>/<id>/; the owner keeps
// the lock until it has renamed the pool away to .gone-<id>-<r>/ and deleted it. So a directory named
// by a pool id always has a pool.lock, and while its owner lives that lock is held and our
// non-blocking flock fails. The transitional .new-/.gone- directories may briefly lack pool.lock (between
// mkdir and the lock's creation, or at the end of a deletion): those are removed only once their
// mtime is older than graceMs. A pool being handed over (staging → workload) carries a `handoff`
// file with a deadline; until then its momentarily unlocked pool is left alone.
//
// Removal: take the lock, rename to .gone-… (an adopter looking the id up no longer finds it), then
// zero-overwrite every file before unlinking it, remove the directories, release the lock.
import { randomBytes } from 'node:crypto';
import { readFile, readdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isPoolId } from './pool-id.js';
import { GONE_PREFIX, HANDOFF_FILE, LOCK_FILE, NEW_PREFIX } from './pool-layout.js';
import { PoolLock } from './pool-lock.js';
import { shredTree } from './shred.js';

export const DEFAULT_GRACE_MS = 60_000;

export type OrphanReason = 'lock-free' | 'no-lock-file';

export interface ScrubbedPool {
  tenant: string;
  name: string;
  path: string;
  reason: OrphanReason;
  files: number;
  bytes: number;
}

export interface ScrubReport {
  removed: ScrubbedPool[];
  /** Pools in use (lock held), young transitional directories and pending handoffs. */
  live: { path: string; why: 'locked' | 'young' | 'handoff-pending' }[];
  errors: { path: string; message: string }[];
  dryRun: boolean;
}

export interface ScrubOptions {
  /** Only this tenant's directory (start-up scavenging); default: every tenant. */
  tenant?: string;
  dryRun?: boolean;
  graceMs?: number;
  /** Wall-clock ms for mtimes and handoff deadlines. */
  wallNow?: () => number;
  onRemoved?: (pool: ScrubbedPool) => void;
}

export async function scrubCacheDir(cacheDir: string, opts: ScrubOptions = {}): Promise<ScrubReport> {
  const report: ScrubReport = { removed: [], live: [], errors: [], dryRun: opts.dryRun === true };
  const tenants = opts.tenant !== undefined ? [opts.tenant] : await subdirs(cacheDir);
  for (const tenant of tenants) {
    const tdir = join(cacheDir, tenant);
    for (const name of await subdirs(tdir)) {
      const transitional = name.startsWith(NEW_PREFIX) || name.startsWith(GONE_PREFIX);
      if (!transitional && !isPoolId(name)) continue;
      const path = join(tdir, name);
      try {
        await scrubOne(report, { tenant, name, path, transitional }, opts);
      } catch (err) {
        report.errors.push({ path, message: (err as Error).message });
      }
    }
  }
  return report;
}

async function scrubOne(report: ScrubReport, c: { tenant: string; name: string; path: string; transitional: boolean }, opts: ScrubOptions): Promise<void> {
  const wallNow = opts.wallNow ?? Date.now;
  const r = await PoolLock.tryOpen(join(c.path, LOCK_FILE));
  if (r.kind === 'held') {
    report.live.push({ path: c.path, why: 'locked' });
    return;
  }
  if (r.kind === 'missing') {
    const st = await stat(c.path).catch(() => null);
    if (st === null) return; // its owner just closed it
    if (c.transitional) {
      if (wallNow() - st.mtimeMs < (opts.graceMs ?? DEFAULT_GRACE_MS)) {
        report.live.push({ path: c.path, why: 'young' });
        return;
      }
    }
    await remove(report, c, 'no-lock-file', null, opts);
    return;
  }
  const lock = r.lock;
  try {
    if (await handoffPending(c.path, wallNow())) {
      report.live.push({ path: c.path, why: 'handoff-pending' });
      return;
    }
    await remove(report, c, 'lock-free', lock, opts);
  } finally {
    await lock.release();
  }
}

async function remove(report: ScrubReport, c: { tenant: string; name: string; path: string }, reason: OrphanReason, lock: PoolLock | null, opts: ScrubOptions): Promise<void> {
  const pool: ScrubbedPool = { tenant: c.tenant, name: c.name, path: c.path, reason, files: 0, bytes: 0 };
  if (opts.dryRun !== true) {
    let dir = c.path;
    if (!c.name.startsWith(GONE_PREFIX)) {
      const base = c.name.startsWith(NEW_PREFIX) ? c.name.slice(NEW_PREFIX.length) : c.name;
      dir = join(c.path, '..', `${GONE_PREFIX}${base}-${randomBytes(4).toString('hex')}`);
      try {
        await rename(c.path, dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // removed by its owner or another scrubber meanwhile
        throw err;
      }
      lock?.moved(join(dir, LOCK_FILE));
    }
    const tally = await shredTree(dir);
    pool.files = tally.files;
    pool.bytes = tally.bytes;
  }
  report.removed.push(pool);
  opts.onRemoved?.(pool);
}

/** A handoff file holds the wall-clock deadline (ms) until which an unlocked pool awaits its adopter. */
async function handoffPending(dir: string, wallNow: number): Promise<boolean> {
  try {
    const deadline = Number((await readFile(join(dir, HANDOFF_FILE), 'utf8')).trim());
    return Number.isFinite(deadline) && deadline > wallNow;
  } catch {
    return false;
  }
}

async function subdirs(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return [];
  }
}

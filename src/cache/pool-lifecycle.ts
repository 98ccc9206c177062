// One process's L2 pool on disk, from creation (or adoption) to its wipe on close (brief §4.9, I-CC8).
//
//   creating ──────────────▶ active ──close()───▶ closing ──▶ closed
//      │ (fresh id, or adopt    │  ▲                         ▲
//      │  KISEKI_CACHE_POOL_ID) │  └─ wipe() ─ wiping        │
//      └─ failure ──────────────┼────────────────────────────┘
//                               └─handOff()─▶ handed-off  (lock released, files kept for an adopter)
//
// Creation order is what keeps the scrubber honest (see scrub.ts): the directory is made as
// .new-<id>, pool.lock is created and flocked, and only then is it renamed to <id>. Closing renames it
// to .gone-<id>-<r> under the lock, shreds everything and releases the lock last.
import { randomBytes } from 'node:crypto';
import { mkdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KisekiError, kerr } from '../errors.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { NodeCapacity } from './capacity.js';
import type { CacheStatsSnapshot } from './cache-stats.js';
import { ControlServer, controlRequest, type ControlHandlers } from './control-socket.js';
import { L2Pool } from './l2-pool.js';
import { newPoolId, parsePoolId, parseTenant } from './pool-id.js';
import {
  CHUNKS_DIR, CONTROL_SOCKET, DIR_MODE, FILE_MODE, GONE_PREFIX, HANDOFF_FILE, LOCK_FILE, NEW_PREFIX, STAGING_DIR, STATS_FILE, poolDir, tenantDir,
} from './pool-layout.js';
import { PoolLock } from './pool-lock.js';
import { scrubCacheDir, type ScrubReport } from './scrub.js';
import { shredTree, type ShredTally } from './shred.js';

export type PoolState = 'creating' | 'active' | 'wiping' | 'closing' | 'closed' | 'handed-off';

export interface OpenPoolOptions {
  cacheDir: string;
  tenant: string;
  /** Adopt this existing pool (KISEKI_CACHE_POOL_ID) instead of creating one. */
  adoptPoolId?: string | null;
  /** How long to wait for an adopted pool's lock (its previous owner must release it). */
  adoptTimeoutMs?: number;
  l2MaxBytes: number;
  maxNodeCacheBytes: number;
  /** Entries found in an adopted pool (and, by the facade, new ones) are pinned. */
  pinned?: boolean;
  fsync?: boolean;
  /** Scavenge the tenant's orphaned pools in the background after opening (default true). */
  scavenge?: boolean;
  clock?: Clock;
  capacityRefreshMs?: number;
  onScavenged?: (report: ScrubReport) => void;
}

export class CachePool {
  readonly id: string;
  readonly tenant: string;
  readonly cacheDir: string;
  readonly l2: L2Pool;
  readonly capacity: NodeCapacity;
  /** Start-up scavenging of the tenant's orphans (never rejects). */
  readonly scavenged: Promise<ScrubReport | null>;
  readonly adopted: boolean;
  #state: PoolState = 'active';
  #lock: PoolLock;
  #control: ControlServer | null = null;
  #publisher: { timer: TimerHandle | null; clock: Clock; intervalMs: number; source: () => CacheStatsSnapshot; last: string } | null = null;

  private constructor(init: { id: string; tenant: string; cacheDir: string; l2: L2Pool; capacity: NodeCapacity; lock: PoolLock; adopted: boolean; scavenge: boolean; onScavenged?: (r: ScrubReport) => void }) {
    this.id = init.id;
    this.tenant = init.tenant;
    this.cacheDir = init.cacheDir;
    this.l2 = init.l2;
    this.capacity = init.capacity;
    this.#lock = init.lock;
    this.adopted = init.adopted;
    this.scavenged = init.scavenge
      ? scrubCacheDir(init.cacheDir, { tenant: init.tenant }).then((r) => { init.onScavenged?.(r); return r; }, () => null)
      : Promise.resolve(null);
  }

  get state(): PoolState {
    return this.#state;
  }

  get dir(): string {
    return poolDir(this.cacheDir, this.tenant, this.id);
  }

  static async open(opts: OpenPoolOptions): Promise<CachePool> {
    const tenant = parseTenant(opts.tenant);
    const tdir = tenantDir(opts.cacheDir, tenant);
    await ensureOwnDir(opts.cacheDir);
    await ensureOwnDir(tdir);
    const adopt = opts.adoptPoolId ?? null;
    const id = adopt !== null ? parsePoolId(adopt, 'KISEKI_CACHE_POOL_ID') : newPoolId();
    const dir = join(tdir, id);
    const lock = adopt !== null ? await adoptLock(dir, opts.adoptTimeoutMs ?? 30_000) : await createLocked(tdir, id);
    try {
      const capacity = new NodeCapacity(opts.cacheDir, dir, { processMaxBytes: opts.l2MaxBytes, nodeMaxBytes: opts.maxNodeCacheBytes }, {
        ...(opts.clock !== undefined ? { clock: opts.clock } : {}),
        ...(opts.capacityRefreshMs !== undefined ? { refreshMs: opts.capacityRefreshMs } : {}),
      });
      const l2 = await L2Pool.open(dir, { capacity, fsync: opts.fsync === true, loadAsPinned: opts.pinned === true });
      return new CachePool({
        id, tenant, cacheDir: opts.cacheDir, l2, capacity, lock, adopted: adopt !== null, scavenge: opts.scavenge !== false,
        ...(opts.onScavenged !== undefined ? { onScavenged: opts.onScavenged } : {}),
      });
    } catch (err) {
      await lock.release();
      throw err;
    }
  }

  /** Serves `cache --stats/--wipe` of other processes and publishes stats.json every intervalMs. */
  async startControl(handlers: ControlHandlers, opts: { intervalMs?: number; clock?: Clock } = {}): Promise<void> {
    this.#control = await ControlServer.listen(join(this.dir, CONTROL_SOCKET), handlers);
    this.#publisher = { timer: null, clock: opts.clock ?? systemClock, intervalMs: opts.intervalMs ?? 1000, source: handlers.stats, last: '' };
    await this.publishStats();
  }

  /** Writes stats.json atomically (read by other processes' capacity census and by cache --stats). */
  async publishStats(): Promise<void> {
    const p = this.#publisher;
    if (p === null || this.#state === 'closing' || this.#state === 'closed' || this.#state === 'handed-off') return;
    p.timer?.cancel();
    p.timer = null;
    try {
      const text = `${JSON.stringify(p.source())}\n`;
      if (text !== p.last) {
        const final = join(this.dir, STATS_FILE);
        const tmp = `${final}.tmp`;
        await writeFile(tmp, text, { mode: FILE_MODE });
        await rename(tmp, final);
        p.last = text;
      }
    } catch {
      // the pool directory is going away, or the disk is full: stats are best effort
    }
    if (this.#publisher === p) p.timer = p.clock.setTimer(() => { void this.publishStats(); }, p.intervalMs);
  }

  /** Shreds every chunk file; the pool stays active. */
  async wipe(): Promise<ShredTally> {
    if (this.#state !== 'active' && this.#state !== 'wiping') throw kerr('Closed', `cache pool ${this.id} is ${this.#state}`);
    this.#state = 'wiping';
    try {
      return await this.l2.wipe();
    } finally {
      if (this.#state === 'wiping') this.#state = 'active';
    }
  }

  /**
   * Clean exit: stop serving, move the pool out of reach (.gone-…), zero-overwrite and unlink every
   * file, and release the lock last. Idempotent.
   */
  async close(): Promise<ShredTally> {
    if (this.#state === 'closed' || this.#state === 'closing' || this.#state === 'handed-off') return { files: 0, bytes: 0 };
    this.#state = 'closing';
    await this.#stopServing();
    try {
      await this.l2.wipe();
      const gone = join(this.dir, '..', `${GONE_PREFIX}${this.id}-${randomBytes(4).toString('hex')}`);
      await rename(this.dir, gone);
      this.#lock.moved(join(gone, LOCK_FILE));
      return await shredTree(gone);
    } finally {
      await this.#lock.release();
      this.#state = 'closed';
    }
  }

  /**
   * Staging handover: keep every file, write a handoff deadline (so the scrubber spares the pool while
   * it is unlocked), and release the lock for the adopter, who takes it with KISEKI_CACHE_POOL_ID.
   */
  async handOff(graceMs = 5 * 60_000): Promise<void> {
    if (this.#state !== 'active') throw kerr('Closed', `cache pool ${this.id} is ${this.#state}`);
    await this.#stopServing();
    await writeFile(join(this.dir, HANDOFF_FILE), `${Date.now() + graceMs}\n`, { mode: FILE_MODE });
    await this.#lock.release();
    this.#state = 'handed-off';
  }

  async #stopServing(): Promise<void> {
    const p = this.#publisher;
    this.#publisher = null;
    p?.timer?.cancel();
    const c = this.#control;
    this.#control = null;
    await c?.close();
  }
}

async function createLocked(tdir: string, id: string): Promise<PoolLock> {
  const building = join(tdir, `${NEW_PREFIX}${id}`);
  await mkdir(building, { mode: DIR_MODE });
  const lock = await PoolLock.create(join(building, LOCK_FILE));
  try {
    await mkdir(join(building, CHUNKS_DIR), { mode: DIR_MODE });
    await mkdir(join(building, STAGING_DIR), { mode: DIR_MODE });
    const dir = join(tdir, id);
    await rename(building, dir);
    lock.moved(join(dir, LOCK_FILE));
    return lock;
  } catch (err) {
    await shredTree(building).catch(() => undefined);
    await lock.release();
    throw err;
  }
}

/**
 * Adoption (ADR 0090): if the pool is held, ask its owner over control.sock to hand it over (a staging
 * daemon writes the handoff marker, then unlocks), then wait for the lock. The marker is deleted only
 * once we hold the lock, so the pool is never both unlocked and unmarked: no scrubber can take it.
 */
async function adoptLock(dir: string, timeoutMs: number): Promise<PoolLock> {
  const path = join(dir, LOCK_FILE);
  const first = await PoolLock.tryOpen(path);
  let lock: PoolLock;
  if (first.kind === 'locked' && (await first.lock.isStillAtPath())) lock = first.lock;
  else {
    if (first.kind === 'locked') await first.lock.release();
    if (first.kind === 'held') await askOwnerToHandOff(dir);
    lock = await PoolLock.acquire(path, { timeoutMs });
  }
  await unlink(join(dir, HANDOFF_FILE)).catch(() => undefined);
  return lock;
}

/** An owner that refuses is reported at once; one that does not answer is simply waited for. */
async function askOwnerToHandOff(dir: string): Promise<void> {
  try {
    await controlRequest(join(dir, CONTROL_SOCKET), 'handoff');
  } catch (err) {
    if (KisekiError.is(err) && err.kind === 'Internal') throw kerr('Unavailable', `cannot adopt cache pool ${dir}: it is still held by a process that refuses the handoff (${err.message})`);
  }
}

/** Creates dir 0700 if missing; refuses a directory another (non-root) user owns. */
async function ensureOwnDir(dir: string): Promise<void> {
  await mkdir(dir, { mode: DIR_MODE, recursive: true });
  const st = await stat(dir);
  if (!st.isDirectory()) throw kerr('NotDirectory', `cache path ${dir} is not a directory`);
  const euid = process.geteuid?.() ?? 0;
  if (st.uid !== euid && st.uid !== 0) {
    throw kerr('PermissionDenied', `cache directory ${dir} belongs to uid ${st.uid}, not to you (uid ${euid}): set KISEKI_CACHE_DIR or -o cache_dir to a directory you own`);
  }
}

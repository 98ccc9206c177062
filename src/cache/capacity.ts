// Capacity rules checked before every L2 insert (brief §4.7, §4.8):
//   1. per process: this pool's bytes (files incl. trailers) + new ≤ cache_l2_max;
//   2. per node: the sum over ALL pools under cache_dir (every tenant, orphans included, since they
//      occupy the same disk) + new ≤ max_node_cache_bytes, where 0 means 80 % of the cache filesystem;
//   3. backstop: the cache filesystem would be more than 90 % used ⇒ stop caching.
// Other pools are counted from their stats.json (published every second by their owner) or, for a pool
// without one, by walking its chunks/ directory; that census and statfs are refreshed at most every
// refreshMs (default 1 s), and this pool's own bytes are always exact. A full disk never fails a read:
// the caller only stops caching (organic) or reports CacheCapacityExceeded (explicit pinning).
import { lstat, readFile, readdir, statfs } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { systemClock, type Clock } from './clock.js';
import { CHUNKS_DIR, STATS_FILE } from './pool-layout.js';

export const NODE_AUTO_FRACTION = 0.8;
export const DISK_BACKSTOP_FRACTION = 0.9;

export type CapacityVerdict =
  | { kind: 'fits' }
  /** `need` bytes must be freed (by this pool) for the insert to fit. */
  | { kind: 'over-process'; need: number; limit: number }
  | { kind: 'over-node'; need: number; limit: number }
  | { kind: 'disk-full'; usedFraction: number };

export interface CapacityLimits {
  processMaxBytes: number;
  /** 0 = NODE_AUTO_FRACTION of the cache filesystem. */
  nodeMaxBytes: number;
}

interface FsUsage { totalBytes: number; usedBytes: number }

interface Census { at: number; othersBytes: number; fs: FsUsage; ownBytesAtCensus: number }

export class NodeCapacity {
  readonly #cacheDir: string;
  readonly #ownPoolDir: string;
  readonly #limits: CapacityLimits;
  readonly #clock: Clock;
  readonly #refreshMs: number;
  #census: Census | null = null;
  #pending: Promise<void> | null = null;

  constructor(cacheDir: string, ownPoolDir: string, limits: CapacityLimits, opts: { clock?: Clock; refreshMs?: number } = {}) {
    this.#cacheDir = resolve(cacheDir);
    this.#ownPoolDir = resolve(ownPoolDir);
    this.#limits = limits;
    this.#clock = opts.clock ?? systemClock;
    this.#refreshMs = opts.refreshMs ?? 1000;
  }

  /** Forces the next check to re-read other pools and statfs. */
  invalidate(): void {
    this.#census = null;
  }

  async check(ownBytes: number, addBytes: number): Promise<CapacityVerdict> {
    if (ownBytes + addBytes > this.#limits.processMaxBytes) {
      return { kind: 'over-process', need: ownBytes + addBytes - this.#limits.processMaxBytes, limit: this.#limits.processMaxBytes };
    }
    const census = await this.#fresh(ownBytes);
    // Bytes this pool wrote since statfs ran are not in the statfs figure yet.
    const diskUsed = census.fs.usedBytes + Math.max(0, ownBytes - census.ownBytesAtCensus) + addBytes;
    if (census.fs.totalBytes > 0 && diskUsed > DISK_BACKSTOP_FRACTION * census.fs.totalBytes) {
      return { kind: 'disk-full', usedFraction: diskUsed / census.fs.totalBytes };
    }
    const nodeLimit = this.nodeLimit(census.fs.totalBytes);
    const nodeSum = census.othersBytes + ownBytes + addBytes;
    if (nodeSum > nodeLimit) return { kind: 'over-node', need: nodeSum - nodeLimit, limit: nodeLimit };
    return { kind: 'fits' };
  }

  nodeLimit(fsTotalBytes: number): number {
    return this.#limits.nodeMaxBytes > 0 ? this.#limits.nodeMaxBytes : Math.floor(NODE_AUTO_FRACTION * fsTotalBytes);
  }

  async #fresh(ownBytes: number): Promise<Census> {
    const c = this.#census;
    if (c !== null && this.#clock.now() - c.at < this.#refreshMs) return c;
    if (this.#pending === null) {
      this.#pending = (async () => {
        const [othersBytes, fs] = await Promise.all([this.#othersBytes(), fsUsage(this.#cacheDir)]);
        this.#census = { at: this.#clock.now(), othersBytes, fs, ownBytesAtCensus: ownBytes };
      })().finally(() => { this.#pending = null; });
    }
    await this.#pending;
    return this.#census!;
  }

  get census(): { othersBytes: number; fs: FsUsage } | null {
    return this.#census;
  }

  async #othersBytes(): Promise<number> {
    let sum = 0;
    for (const tenant of await dirNames(this.#cacheDir)) {
      const tdir = join(this.#cacheDir, tenant);
      for (const pool of await dirNames(tdir)) {
        const pdir = join(tdir, pool);
        if (pdir !== this.#ownPoolDir) sum += await poolBytes(pdir);
      }
    }
    return sum;
  }
}

async function dirNames(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return [];
  }
}

/** A pool's L2 bytes: its published stats.json if readable, else a walk of chunks/. */
export async function poolBytes(pdir: string): Promise<number> {
  try {
    const s = JSON.parse(await readFile(join(pdir, STATS_FILE), 'utf8')) as { l2_bytes?: unknown };
    if (typeof s.l2_bytes === 'number' && Number.isFinite(s.l2_bytes) && s.l2_bytes >= 0) return s.l2_bytes;
  } catch {
    // no stats file: walk below
  }
  return treeBytes(join(pdir, CHUNKS_DIR));
}

async function treeBytes(dir: string): Promise<number> {
  let sum = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) sum += await treeBytes(p);
    else if (e.isFile()) sum += (await lstat(p).catch(() => ({ size: 0 }))).size;
  }
  return sum;
}

export async function fsUsage(dir: string): Promise<FsUsage> {
  const s = await statfs(dir);
  return { totalBytes: s.blocks * s.bsize, usedBytes: (s.blocks - s.bfree) * s.bsize };
}

// L1: plaintext chunks in memory, bounded by bytes (cache_l1_max, default 256 MiB). Organic entries are
// evicted by the usage-weighted LRU; pinned entries are never evicted, and when only pinned entries
// are left a new entry is simply not kept in L1 (for pinned data L2 is the primary tier).
// I-CC2: dropping an entry releases the cache's page reference; the page zeroes itself on last release.
//
// Read-ahead entries (ADR 0048): a chunk warmed for a sequential reader before it asked for it is kept out
// of the eviction policy until its first hit, so that it is not the first victim. Under usage-weighted
// eviction every chunk a reader went through holds a credit per request (32 for a 4 MiB chunk read in
// 128 KiB requests) and a new entry holds none: a prefetched chunk was evicted by the next prefetch
// before its reader got there, and read again from L2 (178 instead of 64 L2 reads per pass of a file
// four times L1, BENCHMARKS.md §Cache session 6). At most half of maxBytes is held that way; beyond
// that, and when nothing else can go, the oldest read-ahead entry joins the policy (or is evicted).
import { UsageWeightedLru, type EvictionPolicy } from './eviction.js';
import type { Page } from './page.js';

interface L1Entry { page: Page; pinned: boolean }

export class L1Memory {
  readonly maxBytes: number;
  readonly #entries = new Map<string, L1Entry>();
  readonly #eviction: EvictionPolicy;
  #bytes = 0;
  /** Read-ahead entries not yet hit, oldest first, and their bytes (not in #eviction). */
  readonly #ahead = new Map<string, number>();
  #aheadBytes = 0;

  readonly #onDrop: ((id: string) => void) | null;

  /** `onDrop` hears of every entry leaving (eviction, removal, wipe) before the cache's reference goes. */
  constructor(maxBytes: number, eviction: EvictionPolicy = new UsageWeightedLru(), onDrop: ((id: string) => void) | null = null) {
    this.maxBytes = maxBytes;
    this.#eviction = eviction;
    this.#onDrop = onDrop;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get count(): number {
    return this.#entries.size;
  }

  has(id: string): boolean {
    return this.#entries.has(id);
  }

  /** A hit returns the page with a reference acquired for the caller, who must release() it. */
  get(id: string): Page | null {
    const e = this.#entries.get(id);
    if (e === undefined) return null;
    if (!e.pinned) this.#hit(id, 1);
    return e.page.acquire();
  }

  /** The page with a reference acquired for the caller, without counting a use (a read-ahead lease, ADR 0048). */
  lease(id: string): Page | null {
    return this.#entries.get(id)?.page.acquire() ?? null;
  }

  /** Hits served from the page without get() (the FUSE worker threads): recency and credits as for get(). */
  touch(id: string, hits: number): void {
    const e = this.#entries.get(id);
    if (e !== undefined && !e.pinned) this.#hit(id, hits);
  }

  /** Bytes of read-ahead entries not hit yet. */
  get aheadBytes(): number {
    return this.#aheadBytes;
  }

  #hit(id: string, hits: number): void {
    if (this.#ahead.has(id)) {
      this.#leaveAhead(id);
      this.#eviction.insert(id);
    }
    this.#eviction.touch(id, hits);
  }

  #leaveAhead(id: string): void {
    const size = this.#ahead.get(id);
    if (size === undefined) return;
    this.#ahead.delete(id);
    this.#aheadBytes -= size;
  }

  /** The policy's victim, else the oldest read-ahead entry (ADR 0048: only when nothing else can go). */
  #victim(): string | null {
    const v = this.#eviction.victim();
    if (v !== null) return v;
    const oldest = this.#ahead.keys().next();
    if (oldest.done === true) return null;
    this.#leaveAhead(oldest.value);
    return oldest.value;
  }

  /**
   * Keeps the page (acquiring the cache's own reference) if room can be made by evicting organic
   * entries. Returns false when it does not fit; nothing pinned is ever evicted for it. `ahead`: warmed
   * ahead of a reader (ADR 0048), kept out of eviction until its first hit.
   */
  put(id: string, page: Page, pinned: boolean, ahead = false): boolean {
    const size = page.bytes.byteLength;
    const existing = this.#entries.get(id);
    if (existing !== undefined) {
      if (pinned && !existing.pinned) this.#setPinned(id, existing, true);
      return true;
    }
    if (size > this.maxBytes) return false;
    while (this.#bytes + size > this.maxBytes) {
      const victim = this.#victim();
      if (victim === null) return false;
      this.#drop(victim);
    }
    this.#entries.set(id, { page: page.acquire(), pinned });
    this.#bytes += size;
    if (pinned) return true;
    if (!ahead) {
      this.#eviction.insert(id);
      return true;
    }
    this.#ahead.set(id, size);
    this.#aheadBytes += size;
    // Bounded; the oldest read-ahead entries beyond half of L1 become ordinary entries.
    while (this.#aheadBytes > this.maxBytes / 2) {
      const oldest = this.#ahead.keys().next().value as string;
      this.#leaveAhead(oldest);
      this.#eviction.insert(oldest);
    }
    return true;
  }

  unpin(id: string): void {
    const e = this.#entries.get(id);
    if (e !== undefined && e.pinned) this.#setPinned(id, e, false);
  }

  remove(id: string): void {
    if (this.#entries.has(id)) {
      this.#eviction.remove(id);
      this.#leaveAhead(id);
      this.#drop(id);
    }
  }

  /** I-CC2, I-CC12: drops every entry; pages no reader holds are zeroed now, the rest on their release. */
  wipe(): number {
    const n = this.#entries.size;
    for (const [id, e] of this.#entries) {
      this.#onDrop?.(id);
      e.page.release();
    }
    this.#entries.clear();
    this.#eviction.clear();
    this.#ahead.clear();
    this.#aheadBytes = 0;
    this.#bytes = 0;
    return n;
  }

  #setPinned(id: string, e: L1Entry, pinned: boolean): void {
    e.pinned = pinned;
    this.#leaveAhead(id);
    if (pinned) this.#eviction.remove(id);
    else this.#eviction.insert(id);
  }

  #drop(id: string): void {
    const e = this.#entries.get(id);
    if (e === undefined) return;
    this.#entries.delete(id);
    this.#leaveAhead(id);
    this.#bytes -= e.page.bytes.byteLength;
    this.#onDrop?.(id);
    e.page.release();
  }
}

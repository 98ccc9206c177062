// L1: plaintext chunks in memory, bounded by bytes (cache_l1_max, default 256 MiB). Organic entries are
// evicted by the usage-weighted LRU; pinned entries are never evicted, and when only pinned entries
// are left a new entry is simply not kept in L1 (for pinned data L2 is the primary tier).
// I-CC2: dropping an entry releases the cache's page reference; the page zeroes itself on last release.
//
// Read-ahead entries (ADR 0048): chunks warmed for a sequential reader before it asked for them are kept
// out of the eviction policy, in the order they were warmed, until the reader has passed them: when one
// is hit, those warmed before it join the policy with the hits they had. Under usage-weighted eviction
// every chunk a reader went through holds a credit per request (32 for a 4 MiB chunk read in 128 KiB
// requests), while the chunk it is reading and those ahead of it hold few or none: they were the first
// victims of the next prefetch, and read again from L2 (178 instead of 64 L2 reads per pass of a file
// four times L1, BENCHMARKS.md §Cache session 6). At most half of maxBytes is held that way; beyond
// that, and when nothing else can go, the oldest read-ahead entry joins the policy (or is evicted).
import { UsageWeightedLru, type EvictionPolicy } from './eviction.js';
import type { Page } from './page.js';

interface L1Entry { page: Page; pinned: boolean }
/** A read-ahead entry's size and the hits it had so far (its credits once it joins the policy). */
interface AheadEntry { size: number; hits: number }

export class L1Memory {
  readonly maxBytes: number;
  readonly #entries = new Map<string, L1Entry>();
  readonly #eviction: EvictionPolicy;
  #bytes = 0;
  /** Read-ahead entries the reader has not passed, oldest first, and their bytes (not in #eviction). */
  readonly #ahead = new Map<string, AheadEntry>();
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

  /** Bytes of read-ahead entries the reader has not passed yet. */
  get aheadBytes(): number {
    return this.#aheadBytes;
  }

  #hit(id: string, hits: number): void {
    const a = this.#ahead.get(id);
    if (a === undefined) {
      this.#eviction.touch(id, hits);
      return;
    }
    a.hits += hits;
    // The reader is here: what was warmed before this entry is behind it.
    for (const older of this.#ahead.keys()) {
      if (older === id) break;
      this.#joinPolicy(older);
    }
  }

  /** Forgets a read-ahead entry; returns it (undefined if id is not one). */
  #leaveAhead(id: string): AheadEntry | undefined {
    const a = this.#ahead.get(id);
    if (a === undefined) return undefined;
    this.#ahead.delete(id);
    this.#aheadBytes -= a.size;
    return a;
  }

  /** A read-ahead entry becomes ordinary, with the credits of the hits it had. */
  #joinPolicy(id: string): void {
    const a = this.#leaveAhead(id);
    if (a === undefined) return;
    this.#eviction.insert(id);
    if (a.hits > 0) this.#eviction.touch(id, a.hits);
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
   * ahead of a reader (ADR 0048), kept out of eviction until the reader has passed it.
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
    this.#ahead.set(id, { size, hits: 0 });
    this.#aheadBytes += size;
    // Bounded: the oldest read-ahead entries beyond half of L1 become ordinary entries.
    while (this.#aheadBytes > this.maxBytes / 2) this.#joinPolicy(this.#ahead.keys().next().value as string);
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

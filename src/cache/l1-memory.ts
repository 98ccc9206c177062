// L1: plaintext chunks in memory, bounded by bytes (cache_l1_max, default 256 MiB). Organic entries are
// evicted by the usage-weighted LRU; pinned entries are never evicted, and when only pinned entries
// are left a new entry is simply not kept in L1 (for pinned data L2 is the primary tier).
// I-CC2: dropping an entry releases the cache's page reference; the page zeroes itself on last release.
import { UsageWeightedLru, type EvictionPolicy } from './eviction.js';
import type { Page } from './page.js';

interface L1Entry { page: Page; pinned: boolean }

export class L1Memory {
  readonly maxBytes: number;
  readonly #entries = new Map<string, L1Entry>();
  readonly #eviction: EvictionPolicy;
  #bytes = 0;

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
    if (!e.pinned) this.#eviction.touch(id);
    return e.page.acquire();
  }

  /** Hits served from the page without get() (the FUSE worker threads): recency and credits as for get(). */
  touch(id: string, hits: number): void {
    const e = this.#entries.get(id);
    if (e !== undefined && !e.pinned) this.#eviction.touch(id, hits);
  }

  /**
   * Keeps the page (acquiring the cache's own reference) if room can be made by evicting organic
   * entries. Returns false when it does not fit; nothing pinned is ever evicted for it.
   */
  put(id: string, page: Page, pinned: boolean): boolean {
    const size = page.bytes.byteLength;
    const existing = this.#entries.get(id);
    if (existing !== undefined) {
      if (pinned && !existing.pinned) this.#setPinned(id, existing, true);
      return true;
    }
    if (size > this.maxBytes) return false;
    while (this.#bytes + size > this.maxBytes) {
      const victim = this.#eviction.victim();
      if (victim === null) return false;
      this.#drop(victim);
    }
    this.#entries.set(id, { page: page.acquire(), pinned });
    this.#bytes += size;
    if (!pinned) this.#eviction.insert(id);
    return true;
  }

  unpin(id: string): void {
    const e = this.#entries.get(id);
    if (e !== undefined && e.pinned) this.#setPinned(id, e, false);
  }

  remove(id: string): void {
    if (this.#entries.has(id)) {
      this.#eviction.remove(id);
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
    this.#bytes = 0;
    return n;
  }

  #setPinned(id: string, e: L1Entry, pinned: boolean): void {
    e.pinned = pinned;
    if (pinned) this.#eviction.remove(id);
    else this.#eviction.insert(id);
  }

  #drop(id: string): void {
    const e = this.#entries.get(id);
    if (e === undefined) return;
    this.#entries.delete(id);
    this.#bytes -= e.page.bytes.byteLength;
    this.#onDrop?.(id);
    e.page.release();
  }
}

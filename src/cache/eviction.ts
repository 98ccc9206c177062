// Organic eviction: usage-weighted LRU ("a chunk read N times survives N eviction rounds", brief §4.6).
//
// Definitions, exactly as implemented:
// - Every cached entry has a recency position and `credits`, the number of hits it has had since
//   insertion (or since it last spent credits; see below).
// - An eviction ROUND is one selection of the least-recently-used entry as the eviction candidate.
//   If the candidate has credits > 0, it spends one credit and moves to most-recently-used: it has
//   survived that round. If it has 0 credits it is the victim.
// - Hence an entry read N times is passed over in N rounds before it can be evicted, and a hit always
//   moves an entry to most-recently-used. Pinned entries are never given to this policy at all.
// Each round is O(1) (a Map keeps insertion order), and victim() terminates because every pass over an
// entry either returns it or spends one of its finitely many credits.

export interface EvictionPolicy {
  insert(key: string): void;
  /** `hits` hits (default one): most-recently-used, that many more credits. */
  touch(key: string, hits?: number): void;
  remove(key: string): void;
  /** Chooses and forgets the next victim, or null when nothing is evictable. */
  victim(): string | null;
  readonly size: number;
  clear(): void;
}

export class UsageWeightedLru implements EvictionPolicy {
  /** key → credits; iteration order is recency, least recent first. */
  readonly #order = new Map<string, number>();

  insert(key: string): void {
    this.#order.delete(key);
    this.#order.set(key, 0);
  }

  touch(key: string, hits = 1): void {
    const credits = this.#order.get(key);
    if (credits === undefined) return;
    this.#order.delete(key);
    this.#order.set(key, credits + hits);
  }

  remove(key: string): void {
    this.#order.delete(key);
  }

  victim(): string | null {
    for (;;) {
      const first = this.#order.entries().next();
      if (first.done === true) return null;
      const [key, credits] = first.value;
      this.#order.delete(key);
      if (credits === 0) return key;
      this.#order.set(key, credits - 1);
    }
  }

  credits(key: string): number | undefined {
    return this.#order.get(key);
  }

  get size(): number {
    return this.#order.size;
  }

  clear(): void {
    this.#order.clear();
  }
}

// Metadata cache: file → chunk list (or any metadata record) with a TTL (brief §4.5).
// I-CC3: an entry is served only while now - fetchedAt ≤ ttl, and inside that window it is
//        authoritative even if the file was modified or deleted elsewhere.
// I-CC5: so the TTL bounds read staleness; ttl 0 caches nothing.
// Own writes are written through (read-your-writes without waiting for the TTL).
// Bounded by maxEntries (least recently stored dropped first) so a huge tree walk cannot grow it forever.
import { systemClock, type Clock } from './clock.js';

export type MetaLookup<V> = { kind: 'hit'; value: V; ageMs: number } | { kind: 'miss' };

export interface MetaCacheCounters { meta_hits: number; meta_misses: number }

export class MetaCache<K, V> {
  readonly ttlMs: number;
  readonly maxEntries: number;
  readonly #clock: Clock;
  readonly #entries = new Map<K, { value: V; fetchedAt: number }>();
  readonly #counters: MetaCacheCounters;

  constructor(opts: { ttlMs: number; clock?: Clock; maxEntries?: number; counters?: MetaCacheCounters }) {
    if (!Number.isFinite(opts.ttlMs) || opts.ttlMs < 0) throw new RangeError(`meta TTL must be >= 0 ms, got ${opts.ttlMs}`);
    this.ttlMs = opts.ttlMs;
    this.maxEntries = opts.maxEntries ?? 100_000;
    this.#clock = opts.clock ?? systemClock;
    this.#counters = opts.counters ?? { meta_hits: 0, meta_misses: 0 };
  }

  get size(): number {
    return this.#entries.size;
  }

  /** I-CC3, I-CC5 */
  get(key: K): MetaLookup<V> {
    const e = this.#entries.get(key);
    if (e !== undefined) {
      const ageMs = this.#clock.now() - e.fetchedAt;
      if (ageMs <= this.ttlMs) {
        this.#counters.meta_hits++;
        return { kind: 'hit', value: e.value, ageMs };
      }
      this.#entries.delete(key);
    }
    this.#counters.meta_misses++;
    return { kind: 'miss' };
  }

  /** Now on this cache's clock: taken before a fetch, it is the fetchedAt to hand to put(). */
  now(): number {
    return this.#clock.now();
  }

  /**
   * Records a value fetched from canonical. `fetchedAt` (default now) is when the fetch started, so
   * that a slow fetch does not extend the staleness bound (I-CC5).
   */
  put(key: K, value: V, fetchedAt = this.#clock.now()): void {
    if (this.ttlMs === 0) return;
    this.#entries.delete(key);
    this.#entries.set(key, { value, fetchedAt });
    if (this.#entries.size > this.maxEntries) this.#entries.delete(this.#entries.keys().next().value as K);
  }

  /**
   * Write-through of this client's own successful write: the new value is served at once. With ttl 0
   * nothing is cached, and the next read goes to canonical, which already has the write.
   */
  writeThrough(key: K, value: V): void {
    this.put(key, value);
  }

  invalidate(key: K): void {
    this.#entries.delete(key);
  }

  /** Drops expired entries (run periodically; get() never serves them anyway). */
  evictExpired(): number {
    const now = this.#clock.now();
    let n = 0;
    for (const [k, e] of this.#entries) {
      if (now - e.fetchedAt > this.ttlMs) {
        this.#entries.delete(k);
        n++;
      }
    }
    return n;
  }

  wipe(): void {
    this.#entries.clear();
  }
}

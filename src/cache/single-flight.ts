// Concurrent requests for one key share one execution (aesthetics rule 10): 16 readers of one cold
// chunk cause one canonical fetch and one decrypt.
export class SingleFlight<K, V> {
  readonly #inflight = new Map<K, Promise<V>>();

  do(key: K, fn: () => Promise<V>): Promise<V> {
    const existing = this.#inflight.get(key);
    if (existing !== undefined) return existing;
    const p = fn().finally(() => { this.#inflight.delete(key); });
    this.#inflight.set(key, p);
    return p;
  }

  get size(): number {
    return this.#inflight.size;
  }
}

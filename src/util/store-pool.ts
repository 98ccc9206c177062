// The free list under every buffer pool of the project: chunk-sized ArrayBuffers kept for reuse
// instead of allocated per chunk. A fresh 4 MiB buffer per chunk is faulted in page by page by the
// kernel and counted by V8 as external memory (full mark-compacts every few dozen chunks); reusing
// stores took a third of the mount daemon's CPU off reads and writes (BENCHMARKS.md). The pools built
// on it own their protocols: when a store may come back, and whether it is zeroed first (plaintext:
// ChunkBuffers, the L2 BufferRecycler) or not (ciphertext: ReceiveBuffers, the node's ChunkReadPool).

export class StorePool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  /** The same stores as a set: a second give of one store must not list it twice (two takers would share it). */
  private readonly freeSet = new Set<ArrayBuffer>();
  /** Every store this pool made: give() ignores any other memory (it may be shared with its owner). */
  private readonly ours = new WeakSet<ArrayBuffer>();
  #freeBytes = 0;

  constructor(readonly maxFreeBytes: number) {}

  get freeBytes(): number {
    return this.#freeBytes;
  }

  get freeCount(): number {
    return this.freeSet.size;
  }

  /** A store of exactly `capacity` bytes: a free one (holding what its last owner left) or a new, zero-filled one. */
  take(capacity: number): { store: ArrayBuffer; reused: boolean } {
    const store = this.free.get(capacity)?.pop();
    if (store === undefined) {
      const fresh = new ArrayBuffer(capacity);
      this.ours.add(fresh);
      return { store: fresh, reused: false };
    }
    this.freeSet.delete(store);
    this.#freeBytes -= capacity;
    return { store, reused: true };
  }

  /** Whether `store` came from this pool and is out with an owner now. */
  isLent(store: ArrayBufferLike): store is ArrayBuffer {
    return store instanceof ArrayBuffer && this.ours.has(store) && !this.freeSet.has(store);
  }

  /** Keeps a lent store for reuse when there is room; anything else is left to the GC. Returns whether it was kept. */
  give(store: ArrayBufferLike): boolean {
    if (!this.isLent(store) || this.#freeBytes + store.byteLength > this.maxFreeBytes) return false;
    let list = this.free.get(store.byteLength);
    if (list === undefined) this.free.set(store.byteLength, (list = []));
    list.push(store);
    this.freeSet.add(store);
    this.#freeBytes += store.byteLength;
    return true;
  }

  /** Drops every free store (unmount, cache wipe, an idle session). */
  clear(): void {
    this.free.clear();
    this.freeSet.clear();
    this.#freeBytes = 0;
  }
}

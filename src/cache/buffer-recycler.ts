// Chunk-sized buffers for L2 reads, reused instead of allocated per read. Every L2 hit needs a buffer
// the size of a chunk file; allocating a fresh one each time makes V8 count megabytes of new external
// memory per chunk and run a full mark-compact every few dozen chunks, which measured as most of the
// daemon's CPU on L2-hit reads (BENCHMARKS.md, "cache at mount level"). A buffer only comes back here
// from a Page's last release, after it was zeroed (I-CC2), so the free list holds no plaintext.

import { StorePool } from '../util/store-pool.js';

export class BufferRecycler {
  readonly #stores: StorePool;

  constructor(maxFreeBytes: number) {
    this.#stores = new StorePool(maxFreeBytes);
  }

  get maxFreeBytes(): number {
    return this.#stores.maxFreeBytes;
  }

  get freeBytes(): number {
    return this.#stores.freeBytes;
  }

  /** A buffer of exactly size bytes: a recycled (zeroed) one if there is one, else a new one. */
  take(size: number): Buffer {
    return Buffer.from(this.#stores.take(size).store);
  }

  /** Takes back a buffer of this recycler that nobody references any more and that holds no plaintext (zeroed). */
  give(b: Buffer): void {
    // Only whole allocations: a view would alias bytes that someone else owns.
    if (b.byteOffset !== 0 || b.byteLength !== b.buffer.byteLength) return;
    this.#stores.give(b.buffer);
  }

  clear(): void {
    this.#stores.clear();
  }
}

// Chunk-sized buffers for L2 reads, reused instead of allocated per read. Every L2 hit needs a buffer
// the size of a chunk file; allocating a fresh one each time makes V8 count megabytes of new external
// memory per chunk and run a full mark-compact every few dozen chunks, which measured as most of the
// daemon's CPU on L2-hit reads (BENCHMARKS.md, "cache at mount level"). A buffer only comes back here
// from a Page's last release, after it was zeroed (I-CC2), so the free list holds no plaintext.

export class BufferRecycler {
  readonly maxFreeBytes: number;
  readonly #free = new Map<number, Buffer[]>();
  #freeBytes = 0;

  constructor(maxFreeBytes: number) {
    this.maxFreeBytes = maxFreeBytes;
  }

  get freeBytes(): number {
    return this.#freeBytes;
  }

  /** A buffer of exactly size bytes: a recycled (zeroed) one if there is one, else a new one. */
  take(size: number): Buffer {
    const list = this.#free.get(size);
    const b = list?.pop();
    if (b === undefined) return Buffer.allocUnsafeSlow(size);
    if (list!.length === 0) this.#free.delete(size);
    this.#freeBytes -= size;
    return b;
  }

  /** Takes back a buffer nobody references any more and that holds no plaintext (zeroed). */
  give(b: Buffer): void {
    // Only whole allocations: a view would alias bytes that someone else owns.
    if (b.byteOffset !== 0 || b.byteLength !== b.buffer.byteLength) return;
    if (this.#freeBytes + b.byteLength > this.maxFreeBytes) return;
    const list = this.#free.get(b.byteLength);
    if (list === undefined) this.#free.set(b.byteLength, [b]);
    else list.push(b);
    this.#freeBytes += b.byteLength;
  }

  clear(): void {
    this.#free.clear();
    this.#freeBytes = 0;
  }
}

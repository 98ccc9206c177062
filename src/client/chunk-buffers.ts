// Reusable chunk-sized buffers for the bytes the read and write paths own for one chunk at a time:
// the plaintext a fetch opens into, the ciphertext a seal writes. Each chunk through the mount used to
// allocate several fresh 4 MiB ArrayBuffers, and V8 counts every one as external memory: a cold read or
// a large write ran one full mark-compact per chunk or so, about a third of the daemon's CPU. A buffer
// goes back zeroed (plaintext never lingers in a free buffer), so a taken buffer is all zeros.
//
// The owner that takes a buffer gives it back exactly once, when nothing else can still read or
// write it; when in doubt (an upload that failed half-way may still be sending) it is simply not
// given back and the GC takes it.

/** Free bytes kept for reuse across all sizes; beyond this, given buffers are left to the GC. */
const DEFAULT_MAX_FREE_BYTES = 64 * 1024 * 1024;
/** Smaller buffers are cheap to allocate and not worth keeping. */
const MIN_POOLED_BYTES = 64 * 1024;

/** Stores come in powers of two, so a file's short last chunk reuses the stores of its full chunks. */
function capacityFor(length: number): number {
  return length <= MIN_POOLED_BYTES ? MIN_POOLED_BYTES : 2 ** Math.ceil(Math.log2(length));
}

export class ChunkBuffers {
  /** Free backing stores by byte length (every one zero-filled). */
  private readonly free = new Map<number, ArrayBuffer[]>();
  /** The same stores as a set, so that a second give of one buffer cannot put it in the list twice. */
  private readonly freeSet = new Set<ArrayBuffer>();
  /** Every store this pool made: give() ignores any other buffer (it may share memory with others). */
  private readonly ours = new WeakSet<ArrayBuffer>();
  private freeBytes = 0;
  readonly stats = { taken: 0, reused: 0 };

  constructor(private readonly maxFreeBytes = DEFAULT_MAX_FREE_BYTES) {}

  /** A zero-filled buffer of `length` bytes (a view of a store of the next power of two). */
  take(length: number): Buffer {
    const capacity = capacityFor(length);
    this.stats.taken++;
    const store = this.free.get(capacity)?.pop();
    if (store === undefined) {
      const fresh = new ArrayBuffer(capacity);
      this.ours.add(fresh);
      return Buffer.from(fresh, 0, length);
    }
    this.freeSet.delete(store);
    this.freeBytes -= capacity;
    this.stats.reused++;
    return Buffer.from(store, 0, length);
  }

  /** Zeroes the buffer's whole backing store and keeps it for reuse (if there is room). */
  give(buf: Buffer): void {
    const store = buf.buffer;
    if (!(store instanceof ArrayBuffer) || !this.ours.has(store) || this.freeSet.has(store)) return;
    new Uint8Array(store).fill(0);
    if (this.freeBytes + store.byteLength > this.maxFreeBytes) return;
    let list = this.free.get(store.byteLength);
    if (list === undefined) this.free.set(store.byteLength, (list = []));
    list.push(store);
    this.freeSet.add(store);
    this.freeBytes += store.byteLength;
  }

  /** Drops every free buffer (unmount, cache wipe). */
  clear(): void {
    this.free.clear();
    this.freeSet.clear();
    this.freeBytes = 0;
  }
}

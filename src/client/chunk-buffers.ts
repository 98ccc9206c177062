// Reusable chunk-sized buffers for the bytes the read and write paths own for one chunk at a time:
// the plaintext a fetch opens into, the ciphertext a seal writes. Each chunk through the mount used to
// allocate several fresh 4 MiB ArrayBuffers, and V8 counts every one as external memory: a cold read or
// a large write ran one full mark-compact per chunk or so, about a third of the daemon's CPU. A buffer
// goes back zeroed (plaintext never lingers in a free buffer), so a taken buffer is all zeros.
//
// The owner that takes a buffer gives it back exactly once, when nothing else can still read or
// write it; when in doubt (an upload that failed half-way may still be sending) it is simply not
// given back and the GC takes it.

import { StorePool } from '../util/store-pool.js';

/** Free bytes kept for reuse across all sizes; beyond this, given buffers are left to the GC. */
const DEFAULT_MAX_FREE_BYTES = 64 * 1024 * 1024;
/** Smaller buffers are cheap to allocate and not worth keeping. */
const MIN_POOLED_BYTES = 64 * 1024;

/** Stores come in powers of two, so a file's short last chunk reuses the stores of its full chunks. */
function capacityFor(length: number): number {
  return length <= MIN_POOLED_BYTES ? MIN_POOLED_BYTES : 2 ** Math.ceil(Math.log2(length));
}

export class ChunkBuffers {
  private readonly stores: StorePool;
  readonly stats = { taken: 0, reused: 0 };

  constructor(maxFreeBytes = DEFAULT_MAX_FREE_BYTES) {
    this.stores = new StorePool(maxFreeBytes);
  }

  /** A zero-filled buffer of `length` bytes (a view of a store of the next power of two). */
  take(length: number): Buffer {
    const { store, reused } = this.stores.take(capacityFor(length));
    this.stats.taken++;
    if (reused) this.stats.reused++;
    return Buffer.from(store, 0, length);
  }

  /** Zeroes the buffer's whole backing store and keeps it for reuse (if there is room). */
  give(buf: Buffer): void {
    // A buffer the pool did not make may share memory with others: left alone.
    if (!this.stores.isLent(buf.buffer)) return;
    new Uint8Array(buf.buffer).fill(0);
    this.stores.give(buf.buffer);
  }

  /** Drops every free buffer (unmount, cache wipe). */
  clear(): void {
    this.stores.clear();
  }
}

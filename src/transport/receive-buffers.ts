// Reusable receive buffers for the ciphertexts the client's transports bring in (the bulk stream's
// CHUNK bodies, the fabric path's fi_read targets). Each 4 MiB chunk used to land in a fresh buffer
// that the kernel faulted in page by page and the GC freed again; the reader, once it has opened a
// chunk, gives its envelope back with recycleEnvelopes() and the next chunk lands in the same memory.
//
// I-RB1: a buffer has one owner at a time. It is lent to exactly one envelope (adopt); only that
//        envelope's first recycle frees it — a second recycle, or a recycle of an envelope from an
//        earlier lending of the same buffer, does nothing (generation check).
// I-RB2: an envelope only ever sees its own bytes: the ciphertext is a view of exactly its length,
//        so the tail of a longer chunk received earlier is never inside it.
// Buffers hold sealed ciphertext only (D2), so a free buffer is not zeroed. A buffer that is never
// recycled (an aborted or failed request, a caller that keeps its envelope) is simply left to the GC.
import type { Envelope } from '../gen/kiseki/v1/chunk.js';
import { StorePool } from '../util/store-pool.js';

/** Capacity of a pooled buffer: a default 4 MiB chunk and its envelope's small fields. */
export const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024 + 64 * 1024;
/** Smaller bodies are cheap to allocate and not worth pooling. */
const MIN_POOLED_BYTES = 64 * 1024;
/** Free buffers kept; beyond this, recycled buffers are left to the GC. */
const DEFAULT_MAX_FREE = 16;

interface Lent { store: ArrayBuffer; generation: number }

export class ReceiveBuffers {
  private readonly stores: StorePool;
  /** Current generation of every store this pool made; bumped each time a store is taken. */
  private readonly generation = new WeakMap<ArrayBuffer, number>();
  /** Stores taken and not yet given to an envelope or back to the pool. */
  private readonly taken = new WeakSet<ArrayBuffer>();
  private readonly lent = new WeakMap<Envelope, Lent>();
  readonly stats = { taken: 0, reused: 0, recycled: 0 };

  constructor(private readonly capacity = RECEIVE_BUFFER_BYTES, maxFree = DEFAULT_MAX_FREE) {
    this.stores = new StorePool(maxFree * capacity);
  }

  /** A buffer of exactly `length` bytes from the pool, or null when that size is not pooled. */
  take(length: number): Buffer | null {
    if (length < MIN_POOLED_BYTES || length > this.capacity) return null;
    const { store, reused } = this.stores.take(this.capacity);
    if (reused) this.stats.reused++;
    this.stats.taken++;
    this.generation.set(store, (this.generation.get(store) ?? 0) + 1);
    this.taken.add(store);
    return Buffer.from(store, 0, length);
  }

  /**
   * `env`'s ciphertext lies in `body`, a buffer take() gave out: the store now belongs to `env` until
   * recycled. Anything else (a view of a socket read, a buffer of another pool) is ignored.
   */
  adopt(env: Envelope, body: Buffer): void {
    const store = body.buffer;
    if (!(store instanceof ArrayBuffer) || !this.taken.has(store) || env.ciphertext.buffer !== store) return;
    this.taken.delete(store);
    this.lent.set(env, { store, generation: this.generation.get(store)! });
  }

  /** The caller no longer reads `env.ciphertext` (nor anything else lies in its store). I-RB1. */
  recycle(env: Envelope): void {
    const l = this.lent.get(env);
    if (l === undefined) return;
    this.lent.delete(env);
    if (this.generation.get(l.store) !== l.generation) return;
    this.generation.set(l.store, l.generation + 1); // no older envelope of this store can free it again
    this.stats.recycled++;
    this.stores.give(l.store);
  }

  /** Free buffers right now (tests). */
  get freeCount(): number {
    return this.stores.freeCount;
  }
}

/** The process's receive pool, shared by every transport. */
export const receiveBuffers = new ReceiveBuffers();

/**
 * Gives envelopes a transport returned back to the receive pool: call only when nothing reads their
 * ciphertext any more (the reader, after opening the chunk into its own plaintext buffer).
 */
export function recycleEnvelopes(envs: readonly Envelope[]): void {
  for (const e of envs) receiveBuffers.recycle(e);
}

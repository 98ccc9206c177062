// Reusable read buffers for chunk files the node sends and then forgets (the bulk stream's GET): each
// GET used to read its chunk into a fresh 4 MiB buffer, which the kernel faults in page by page and
// the GC frees again — about as much CPU per GiB as sending it. A buffer is leased to exactly one
// reply and comes back when the socket has taken its bytes.
//
// I-RP1: a leased buffer has one owner. release() is once-only per lease; a buffer already free is
//        never added twice, so two later leases cannot share it.
// I-RP3: the fabric listener keeps one pool per session (tenant), fed only by the client's RELEASE:
//        a one-sided read still in flight can only ever see that tenant's own ciphertext.
// I-RP2: a reply only ever sees the bytes of its own chunk. The lease is a view of exactly the bytes
//        read (never the buffer's capacity), so the tail of a longer chunk read earlier — another
//        tenant's ciphertext — is never inside it.
import type { Envelope } from '../gen/kiseki/v1/chunk.js';
import { StorePool } from '../util/store-pool.js';

/** Free buffers kept; beyond this, released buffers are left to the GC. */
const DEFAULT_MAX_FREE = 8;
/** Capacity of a pooled buffer: a default 4 MiB chunk plus its envelope's small fields. */
export const READ_BUFFER_BYTES = 4 * 1024 * 1024 + 64 * 1024;

export interface ReadLease {
  /** Exactly the bytes read (a view of the pooled buffer). */
  readonly bytes: Buffer;
  /** Gives the buffer back; call when nothing can read `bytes` any more. Later calls do nothing. */
  release(): void;
}

export class ChunkReadPool {
  private readonly stores: StorePool;
  readonly stats = { leased: 0, reused: 0, unpooled: 0 };

  constructor(private readonly capacity = READ_BUFFER_BYTES, maxFree = DEFAULT_MAX_FREE) {
    this.stores = new StorePool(maxFree * capacity);
  }

  /**
   * A buffer of at least `size` bytes for one read; `fill(buf)` returns how many bytes it read.
   * Sizes above the pooled capacity get a buffer of their own (released to the GC).
   */
  async read(size: number, fill: (buf: Buffer) => Promise<number>): Promise<ReadLease> {
    this.stats.leased++;
    if (size > this.capacity) {
      this.stats.unpooled++;
      const own = Buffer.allocUnsafe(size);
      const n = await fill(own);
      return { bytes: own.subarray(0, n), release: () => undefined };
    }
    const taken = this.stores.take(this.capacity);
    if (taken.reused) this.stats.reused++;
    const store = Buffer.from(taken.store);
    let held = true;
    const release = (): void => {
      if (!held) return; // I-RP1
      held = false;
      this.stores.give(taken.store);
    };
    let n: number;
    try {
      n = await fill(store.subarray(0, size));
    } catch (err) {
      release();
      throw err;
    }
    // I-RP2: the lease covers the bytes this read produced, nothing of the buffer beyond them.
    return { bytes: store.subarray(0, Math.min(n, size)), release };
  }

  /** Drops every free buffer (an idle session's pool). */
  clear(): void {
    this.stores.clear();
  }

  /** Free buffers right now (tests). */
  get freeCount(): number {
    return this.stores.freeCount;
  }
}

/** An envelope whose ciphertext lives in a pooled buffer, valid until release(). */
export interface EnvelopeLease {
  readonly envelope: Envelope;
  release(): void;
}

/** A ChunkStore that can read into pooled buffers (FileChunkStore); others are read with get(). */
export interface LeasingChunkStore {
  getLeased(tenant: string, chunkId: Buffer, pool: ChunkReadPool): Promise<EnvelopeLease | null>;
}

export function canLease(store: object): store is LeasingChunkStore {
  return typeof (store as Partial<LeasingChunkStore>).getLeased === 'function';
}

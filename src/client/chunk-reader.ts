// The read path of one chunk: cache (L1/L2) → single flight per chunk id → the chunk's replicas in
// placement order, failing over to the next replica on any error (unreachable, missing, or a copy
// that fails authentication) → open with content verification (I-CC1) → cache. Sequential readers
// get the next chunks fetched in parallel ahead of them; prefetch is bounded and droppable: its
// failures are forgotten and a real read retries from scratch.
//
// The cache is the only place plaintext is kept (its hits are what stats count). Reads lease the
// bytes: a hit is a view of the cache's page, held (not copied) until the lease is released; a fetch
// is shared by every request that asked for the chunk while it was in flight and zeroed when the
// last of them releases it. Prefetch only warms the cache, so in bypass mode, where the cache keeps
// nothing, no plaintext outlives the requests that use it.
import { type ErrorKind, kerr, KisekiError } from '../errors.js';
import { recycleEnvelopes } from '../transport/receive-buffers.js';
import { ChunkBuffers } from './chunk-buffers.js';
import { FailingNodes, type FailureRun, isPassing, retryWhileUnreachable } from './unreachable-retry.js';
import type { ChunkTransport } from '../transport/transport.js';
import type { ChunkCachePort, ChunkCrypto, ChunkLease, ChunkPlacement } from './fs-ports.js';

export interface ChunkReaderOptions {
  /** Chunks fetched ahead of a sequential reader. */
  readonly prefetchDepth: number;
  /** Most prefetches in flight across all files. */
  readonly maxPrefetchInflight: number;
  /**
   * How long a read keeps trying its replicas again while none can serve it for a passing reason
   * (nodes restarting, connections dropped), before EIO. A definite answer — the chunk is missing,
   * damaged, or not ours — ends it at once.
   */
  readonly unreachableRetryMs: number;
}

export const DEFAULT_READER_OPTIONS: ChunkReaderOptions = { prefetchDepth: 4, maxPrefetchInflight: 8, unreachableRetryMs: 8_000 };

/** Failures that trying again cannot change. */
const DEFINITE: ReadonlySet<ErrorKind> = new Set<ErrorKind>(['NotFound', 'Integrity', 'PermissionDenied', 'InvalidArgument', 'KeyDestroyed']);

/** How many recently warmed chunk ids prefetch remembers, so that it does not ask the cache again on every read. */
const WARMED_MEMORY = 256;

export interface ReaderStats {
  fetched: number;
  failovers: number;
  prefetched: number;
  /** Leases served from the cache (L1 or L2) rather than fetched. */
  cacheHits: number;
}

/** Per-stream read position, used to recognise sequential access. */
export class ReadPattern {
  private nextOffset = -1;
  private streak = 0;
  /**
   * Records a read; true once two reads in a row continued where the last one ended. `resumes`: the
   * reads in between were answered without this reader (from a published chunk,
   * src/fuse/read-mirror.ts), so this one continues the stream too.
   */
  note(offset: number, length: number, resumes = false): boolean {
    this.streak = offset === this.nextOffset || resumes ? this.streak + 1 : 0;
    this.nextOffset = offset + length;
    return this.streak >= 1 || offset === 0;
  }
}

/** One load shared by every request that joined it before it finished; `source` is released by the last lease. */
class Flight {
  waiters = 0;
  private refs = 0;
  private source: ChunkLease | null = null;
  constructor(readonly done: Promise<void>) {}

  settle(source: ChunkLease): void {
    this.source = source;
    this.refs = this.waiters;
  }

  lease(): ChunkLease {
    const source = this.source!;
    let released = false;
    return {
      data: source.data,
      release: () => {
        if (released) return;
        released = true;
        if (--this.refs === 0) source.release();
      },
    };
  }
}

export class ChunkReader {
  private readonly inflight = new Map<string, Flight>();
  /** Insertion-ordered ids prefetch already warmed (oldest first). */
  private readonly warmed = new Set<string>();
  private prefetching = 0;
  readonly stats: ReaderStats = { fetched: 0, failovers: 0, prefetched: 0, cacheHits: 0 };
  /** Since when each node has been failing chunk calls for a passing reason; shared with the writer. */
  readonly failing = new FailingNodes();

  constructor(
    private readonly crypto: ChunkCrypto,
    private readonly cache: ChunkCachePort,
    private readonly placement: ChunkPlacement,
    private readonly options: ChunkReaderOptions = DEFAULT_READER_OPTIONS,
    /** Where fetched chunks are opened into; shared with the writer. */
    readonly buffers: ChunkBuffers = new ChunkBuffers(),
  ) {}

  /** The verified plaintext of a chunk, valid until release() (call it exactly once). */
  lease(chunkId: Buffer): Promise<ChunkLease> {
    // An L1 hit needs no flight: the page is leased at once (the hot read path's per-request cost).
    const hot = this.cache.peek?.(chunkId) ?? null;
    if (hot !== null) {
      this.stats.cacheHits++;
      return Promise.resolve(hot);
    }
    const key = chunkId.toString('hex');
    let flight = this.inflight.get(key);
    if (flight === undefined) {
      const f: Flight = new Flight(this.load(chunkId).then(
        (source) => {
          this.inflight.delete(key);
          f.settle(source);
        },
        (err: unknown) => {
          this.inflight.delete(key);
          throw err;
        },
      ));
      flight = f;
      this.inflight.set(key, f);
    }
    const joined = flight;
    joined.waiters++;
    return joined.done.then(() => joined.lease());
  }

  /** A lease of the chunk's plaintext if the memory cache holds it now, else null (nothing is fetched). */
  peekCached(chunkId: Buffer): ChunkLease | null {
    return this.cache.peek?.(chunkId) ?? null;
  }

  /** A copy of the chunk's plaintext that the caller owns (for read-modify-write, not for the hot path). */
  async read(chunkId: Buffer): Promise<Buffer> {
    const l = await this.lease(chunkId);
    try {
      return Buffer.from(l.data);
    } finally {
      l.release();
    }
  }

  /** Starts warming the cache with these chunks if capacity allows; never throws, never waits. */
  prefetch(chunkIds: readonly Buffer[]): void {
    if (!this.cache.keeps()) return;
    for (const id of chunkIds) {
      const key = id.toString('hex');
      if (this.warmed.has(key) || this.inflight.has(key)) continue;
      if (this.prefetching >= this.options.maxPrefetchInflight) return;
      this.prefetching++;
      this.stats.prefetched++;
      this.warmed.add(key);
      if (this.warmed.size > WARMED_MEMORY) this.warmed.delete(this.warmed.values().next().value as string);
      this.lease(id).then((l) => l.release(), () => { this.warmed.delete(key); }).finally(() => this.prefetching--);
    }
  }

  get prefetchDepth(): number {
    return this.options.prefetchDepth;
  }

  /** This process's own write, just sealed and stored: into the cache, so reading it back is a hit. */
  adopt(chunkId: Buffer, plaintext: Buffer): void {
    this.cache.put(chunkId, plaintext, this.cache.epoch());
  }

  /**
   * Cache wipe or unmount: the reader holds no plaintext of its own (loads in flight are zeroed when
   * their requests release them); forget what prefetch warmed, since the cache no longer has it.
   */
  wipe(): void {
    this.warmed.clear();
    this.buffers.clear();
  }

  private async load(chunkId: Buffer): Promise<ChunkLease> {
    const epoch = this.cache.epoch();
    const cached = await this.cache.get(chunkId);
    if (cached !== null) {
      this.stats.cacheHits++;
      return cached;
    }
    const plaintext = await this.fetch(chunkId, epoch);
    // The cache took its own copy; this one lives only as long as the requests that asked for it, and
    // goes back to the pool zeroed.
    return { data: plaintext, release: () => this.buffers.give(plaintext) };
  }

  private async fetch(chunkId: Buffer, epoch: number): Promise<Buffer> {
    const id = chunkId.toString('hex').slice(0, 16);
    let definite = false;
    let replicas: readonly ChunkTransport[] = [];
    const start = performance.now();
    // Replicas failing for longer than the budget: this read gets the short window only. Nodes that
    // answered otherwise (NotFound from a node the chunk was never placed on) do not count.
    const allReplicas: FailureRun = {
      failed: () => {
        const runs = replicas.map((t) => this.failing.of(t).since).filter((x): x is number => x !== null);
        return runs.length === 0 ? start : Math.max(...runs);
      },
      succeeded: () => undefined,
    };
    return retryWhileUnreachable(this.options.unreachableRetryMs, async () => {
      const route = this.placement.route(chunkId);
      replicas = route.read;
      const placed = route.write;
      if (replicas.length === 0) {
        definite = true;
        throw kerr('Unavailable', `chunk ${id}…: no replica placed (no nodes discovered)`);
      }
      const failures: string[] = [];
      for (const transport of replicas) {
        try {
          const [envelope] = await transport.getChunks([chunkId]);
          if (envelope === undefined) throw kerr('TransportFailed', 'empty reply');
          const out = this.buffers.take(envelope.ciphertext.length);
          let plaintext: Buffer;
          try {
            plaintext = await this.crypto.open(envelope, chunkId, out);
          } catch (err) {
            this.buffers.give(out);
            throw err;
          } finally {
            // Opened (or refused): nothing reads the ciphertext again, its receive buffer is reused.
            recycleEnvelopes([envelope]);
          }
          this.stats.fetched++;
          this.failing.of(transport).succeeded();
          this.cache.put(chunkId, plaintext, epoch);
          return plaintext;
        } catch (err) {
          this.stats.failovers++;
          if (isPassing(err)) this.failing.of(transport).failed();
          // A node the chunk was never placed on says NotFound whatever happens to the others.
          definite ||= KisekiError.is(err) && DEFINITE.has(err.kind) && (err.kind !== 'NotFound' || placed.includes(transport));
          failures.push(`${transport.name}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      throw new KisekiError('TransportFailed', `chunk ${id}…: every replica failed: ${failures.join('; ')}`);
    }, () => !definite, allReplicas);
  }
}

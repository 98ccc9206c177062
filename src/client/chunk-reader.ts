// The read path of one chunk: cache (L1/L2) → single flight per chunk id → the chunk's replicas in
// placement order, failing over to the next replica on any error (unreachable, missing, or a copy
// that fails authentication) → open with content verification (I-CC1) → cache. Sequential readers
// get the next chunks fetched in parallel ahead of them; prefetch is bounded and droppable: its
// failures are forgotten and a real read retries from scratch.
import { kerr, KisekiError } from '../errors.js';
import type { ChunkCachePort, ChunkCrypto, ChunkPlacement } from './fs-ports.js';

export interface ChunkReaderOptions {
  /** Chunks fetched ahead of a sequential reader. */
  readonly prefetchDepth: number;
  /** Most prefetches in flight across all files. */
  readonly maxPrefetchInflight: number;
  /** Bytes of recently used plaintext kept for the many small kernel reads that hit one chunk. */
  readonly windowBytes: number;
}

export const DEFAULT_READER_OPTIONS: ChunkReaderOptions = { prefetchDepth: 4, maxPrefetchInflight: 8, windowBytes: 64 << 20 };

export interface ReaderStats {
  fetched: number;
  failovers: number;
  prefetched: number;
  windowHits: number;
}

/** Per-stream read position, used to recognise sequential access. */
export class ReadPattern {
  private nextOffset = -1;
  private streak = 0;
  /** Records a read; true once two reads in a row continued where the last one ended. */
  note(offset: number, length: number): boolean {
    this.streak = offset === this.nextOffset ? this.streak + 1 : 0;
    this.nextOffset = offset + length;
    return this.streak >= 1 || offset === 0;
  }
}

export class ChunkReader {
  private readonly inflight = new Map<string, Promise<Buffer>>();
  /** Insertion-ordered: the first key is the least recently used. */
  private readonly window = new Map<string, Buffer>();
  private windowUsed = 0;
  private prefetching = 0;
  readonly stats: ReaderStats = { fetched: 0, failovers: 0, prefetched: 0, windowHits: 0 };

  constructor(
    private readonly crypto: ChunkCrypto,
    private readonly cache: ChunkCachePort,
    private readonly placement: ChunkPlacement,
    private readonly options: ChunkReaderOptions = DEFAULT_READER_OPTIONS,
  ) {}

  /** The verified plaintext of a chunk. */
  read(chunkId: Buffer): Promise<Buffer> {
    const key = chunkId.toString('hex');
    const near = this.window.get(key);
    if (near !== undefined) {
      this.stats.windowHits++;
      this.window.delete(key);
      this.window.set(key, near);
      return Promise.resolve(near);
    }
    let p = this.inflight.get(key);
    if (p === undefined) {
      p = this.load(chunkId, key).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  /** Starts fetching these chunks if capacity allows; never throws, never waits. */
  prefetch(chunkIds: readonly Buffer[]): void {
    for (const id of chunkIds) {
      const key = id.toString('hex');
      if (this.window.has(key) || this.inflight.has(key)) continue;
      if (this.prefetching >= this.options.maxPrefetchInflight) return;
      this.prefetching++;
      this.stats.prefetched++;
      this.read(id).catch(() => undefined).finally(() => this.prefetching--);
    }
  }

  get prefetchDepth(): number {
    return this.options.prefetchDepth;
  }

  /** Keeps plaintext this process just sealed and stored (its own write), so reading it back costs nothing. */
  adopt(chunkId: Buffer, plaintext: Buffer): void {
    this.remember(chunkId.toString('hex'), plaintext);
  }

  /** Drops every plaintext held here (cache wipe, unmount). */
  wipe(): void {
    for (const b of this.window.values()) b.fill(0);
    this.window.clear();
    this.windowUsed = 0;
  }

  private async load(chunkId: Buffer, key: string): Promise<Buffer> {
    const epoch = this.cache.epoch();
    const cached = await this.cache.get(chunkId);
    const plaintext = cached ?? (await this.fetch(chunkId, epoch));
    this.remember(key, plaintext);
    return plaintext;
  }

  private async fetch(chunkId: Buffer, epoch: number): Promise<Buffer> {
    const replicas = this.placement.route(chunkId).read;
    const failures: string[] = [];
    for (const transport of replicas) {
      try {
        const [envelope] = await transport.getChunks([chunkId]);
        if (envelope === undefined) throw kerr('TransportFailed', 'empty reply');
        const plaintext = await this.crypto.open(envelope, chunkId);
        this.stats.fetched++;
        this.cache.put(chunkId, plaintext, epoch);
        return plaintext;
      } catch (err) {
        this.stats.failovers++;
        failures.push(`${transport.name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    const id = chunkId.toString('hex').slice(0, 16);
    if (replicas.length === 0) throw kerr('Unavailable', `chunk ${id}…: no replica placed (no nodes discovered)`);
    throw new KisekiError('TransportFailed', `chunk ${id}…: every replica failed: ${failures.join('; ')}`);
  }

  private remember(key: string, plaintext: Buffer): void {
    if (plaintext.length > this.options.windowBytes) return;
    const old = this.window.get(key);
    if (old !== undefined) {
      this.window.delete(key);
      this.windowUsed -= old.length;
    }
    this.window.set(key, plaintext);
    this.windowUsed += plaintext.length;
    while (this.windowUsed > this.options.windowBytes) {
      const [k, b] = this.window.entries().next().value as [string, Buffer];
      this.window.delete(k);
      this.windowUsed -= b.length;
    }
  }
}

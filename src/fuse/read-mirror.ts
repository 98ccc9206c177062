// Clean L1 chunks published to the session's worker threads, which then answer reads of them without
// waking the JS thread (native/fuse/read-cache.h): the L1-hit read path the C ceiling has.
//
// A published chunk is the L1 page itself, held by a cache lease for as long as it is published:
//   published ──changed(ino) │ a layout of another generation │ L1 drops the chunk (eviction, wipe)──▶
//     dropped (native drop returned) ──▶ lease released
// A file's chunks stay published after its last close: the next open keeps them if its layout has
// the same generation (one generation is one content, as for the kernel's keep_cache) and drops them
// otherwise.
// The native drop returns only when no reply still copies from the page, so the page is zeroed (I-CC2)
// or reused only after the last byte of it was sent. Worker-thread hits are counted back into the
// cache's statistics and eviction credits (harvest), as if the JS read path had served them.
import type { ChunkLease, ReadMirrorPort } from '../client/fs-ports.js';
import type { WorkerReads } from './fuse-binding.js';

interface Published {
  readonly ino: number;
  readonly index: number;
  readonly chunkId: string;
  readonly lease: ChunkLease;
}

interface PublishedFile {
  readonly generation: number;
  readonly chunkSize: number;
  readonly fileSize: number;
  readonly chunks: Map<number, Published>;
}

/** Receives the worker threads' hits of a chunk: L1 hits the cache did not see. */
export type HitSink = (chunkId: string, hits: number) => void;

export class ReadMirror implements ReadMirrorPort {
  readonly #files = new Map<number, PublishedFile>();
  /** chunk id → where it is published (a chunk may back several files or places). */
  readonly #byChunk = new Map<string, Set<Published>>();

  constructor(private readonly reads: WorkerReads, private readonly hits: HitSink) {}

  wants(ino: number, index: number): boolean {
    return this.#files.get(ino)?.chunks.has(index) !== true;
  }

  publish(ino: number, generation: number, index: number, chunkSize: number, fileSize: number, chunkId: string, chunk: ChunkLease): void {
    let file = this.#files.get(ino);
    if (file !== undefined && (file.generation !== generation || file.chunkSize !== chunkSize || file.fileSize !== fileSize)) {
      // Another version of the file than what is published: the filesystem drops on every change, so
      // this is only a guard that the two never mix.
      this.changed(ino);
      file = undefined;
    }
    if (!this.wants(ino, index) || !this.reads.put(ino, index, chunkSize, fileSize, chunk.data)) {
      chunk.release();
      return;
    }
    if (file === undefined) {
      file = { generation, chunkSize, fileSize, chunks: new Map() };
      this.#files.set(ino, file);
    }
    const p: Published = { ino, index, chunkId, lease: chunk };
    file.chunks.set(index, p);
    const places = this.#byChunk.get(chunkId);
    if (places === undefined) this.#byChunk.set(chunkId, new Set([p]));
    else places.add(p);
  }

  changed(ino: number): void {
    const file = this.#files.get(ino);
    if (file === undefined) return;
    this.harvest();
    this.reads.dropInode(ino);
    this.#files.delete(ino);
    for (const p of file.chunks.values()) this.#forget(p);
  }

  layoutSeen(ino: number, generation: number): void {
    const file = this.#files.get(ino);
    if (file !== undefined && file.generation !== generation) this.changed(ino);
  }

  /** The cache let the chunk go (eviction, wipe): unpublish it everywhere before its page is released. */
  dropChunk(chunkId: string): void {
    const places = this.#byChunk.get(chunkId);
    if (places === undefined) return;
    this.harvest();
    for (const p of [...places]) {
      this.reads.dropChunk(p.ino, p.index);
      const file = this.#files.get(p.ino)!;
      file.chunks.delete(p.index);
      if (file.chunks.size === 0) this.#files.delete(p.ino);
      this.#forget(p);
    }
  }

  /** Hands the worker threads' hits since the last call to the sink. */
  harvest(): void {
    const t = this.reads.takeHits();
    for (let i = 0; i + 2 < t.length; i += 3) {
      const p = this.#files.get(t[i]!)?.chunks.get(t[i + 1]!);
      if (p !== undefined) this.hits(p.chunkId, t[i + 2]!);
    }
  }

  #forget(p: Published): void {
    const places = this.#byChunk.get(p.chunkId);
    places?.delete(p);
    if (places?.size === 0) this.#byChunk.delete(p.chunkId);
    p.lease.release();
  }
}

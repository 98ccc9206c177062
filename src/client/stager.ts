// Staging (brief §5.3, I-CC11): resolve a namespace path to its files, fetch every chunk the pool does
// not hold yet, verify it (I-CC1), pin it in L2, then write the dataset's manifest.
//
//   resolving ──▶ fetching ──▶ writing-manifest ──▶ staged
//       └────────────┴─────────────────┴──▶ failed (the manifest is never written; chunks already
//                                             pinned stay, so re-running resumes where this stopped)
//
// A dataset whose manifest exists and whose chunks are all in the pool is already staged: re-staging is
// a no-op, and the snapshot is refreshed only by release + stage (I-CC11).
import type { Layout } from '../gen/kiseki/v1/namespace.js';
import type { ChunkCache } from '../cache/chunk-cache.js';
import { listManifests, manifestPath, readManifest, writeManifest, type StagedComposition, type StagingManifest } from '../cache/staging-manifest.js';
import { kerr } from '../errors.js';
import { ChunkReader, DEFAULT_READER_OPTIONS } from './chunk-reader.js';
import { FileKind, type Attr, type KisekiFileSystem } from './filesystem.js';
import type { ChunkCachePort, ChunkCrypto, ChunkPlacement } from './fs-ports.js';

/** Kiseki's max_staging_depth and max_staging_files. */
export interface StageLimits {
  readonly maxDepth: number;
  readonly maxFiles: number;
}

export const DEFAULT_STAGE_LIMITS: StageLimits = { maxDepth: 10, maxFiles: 100_000 };
export const DEFAULT_STAGE_CONCURRENCY = 8;
const ROOT_INO = 1;
/** The L2 file of a chunk is its plaintext plus a CRC32 trailer (I-CC13). */
const TRAILER_BYTES = 4;

export type StagePhase = 'resolving' | 'fetching' | 'writing-manifest' | 'staged' | 'failed';

export interface StageProgress {
  readonly dataset: string;
  readonly phase: StagePhase;
  readonly files: number;
  readonly chunksTotal: number;
  /** Chunks in the pool so far: found there (cached) plus fetched. */
  readonly chunksDone: number;
  readonly chunksCached: number;
  readonly bytesTotal: number;
  readonly bytesDone: number;
}

/** Kiseki's StageResult, plus what this run fetched. */
export interface StageResult {
  readonly namespace_path: string;
  readonly compositions: number;
  readonly chunks_total: number;
  readonly chunks_cached: number;
  readonly chunks_fetched: number;
  readonly bytes_total: number;
  readonly elapsed_ms: number;
  readonly already_staged: boolean;
  readonly manifest: string;
}

export interface StagerDeps {
  readonly fs: KisekiFileSystem;
  readonly layout: (ino: number) => Promise<Layout>;
  /** Fetches and verifies a chunk from canonical (no cache in between). */
  readonly reader: ChunkReader;
  readonly cache: ChunkCache;
  readonly namespace: string;
  readonly limits?: StageLimits;
  readonly concurrency?: number;
  readonly now?: () => number;
}

/** A cache port that caches nothing: the stager pins what it fetches itself, strictly. */
const NO_CACHE: ChunkCachePort = { epoch: () => 0, get: () => Promise.resolve(null), put: () => undefined, keeps: () => false };

/** A chunk reader that goes to canonical every time, with content verification and replica failover. */
export function canonicalReader(crypto: ChunkCrypto, placement: ChunkPlacement): ChunkReader {
  return new ChunkReader(crypto, NO_CACHE, placement, { ...DEFAULT_READER_OPTIONS, prefetchDepth: 0, maxPrefetchInflight: 0 });
}

interface Wanted {
  id: string;
  bytes: number;
}

export class Stager {
  readonly #d: StagerDeps;
  readonly #limits: StageLimits;
  readonly #now: () => number;

  constructor(deps: StagerDeps) {
    if (deps.cache.pool === null) throw kerr('InvalidArgument', 'cannot stage with cache_mode=bypass: bypass has no L2 pool; unset KISEKI_CACHE_MODE or use pinned/organic');
    this.#d = deps;
    this.#limits = deps.limits ?? DEFAULT_STAGE_LIMITS;
    this.#now = deps.now ?? Date.now;
  }

  get poolId(): string {
    return this.#pool.id;
  }

  get #pool() {
    return this.#d.cache.pool!;
  }

  async stage(namespacePath: string, onProgress: (p: StageProgress) => void = () => undefined): Promise<StageResult> {
    const started = this.#now();
    const path = normalizeDatasetPath(namespacePath);
    const l2 = this.#pool.l2;

    const existing = await readManifest(this.#pool.dir, path);
    if (existing !== null && existing.namespace === this.#d.namespace && existing.chunk_ids.every((id) => l2.has(id))) {
      for (const id of existing.chunk_ids) l2.pin(id);
      const n = existing.chunk_ids.length;
      onProgress({ dataset: path, phase: 'staged', files: existing.compositions.length, chunksTotal: n, chunksDone: n, chunksCached: n, bytesTotal: existing.bytes, bytesDone: existing.bytes });
      await this.#publishTotals();
      return {
        namespace_path: path, compositions: existing.compositions.length, chunks_total: n, chunks_cached: n, chunks_fetched: 0,
        bytes_total: existing.bytes, elapsed_ms: this.#now() - started, already_staged: true, manifest: manifestPath(this.#pool.dir, path),
      };
    }

    const progress = { dataset: path, phase: 'resolving' as StagePhase, files: 0, chunksTotal: 0, chunksDone: 0, chunksCached: 0, bytesTotal: 0, bytesDone: 0 };
    onProgress({ ...progress });
    const snapshot = new Date(this.#now()).toISOString();
    const compositions = await this.#resolve(path);
    const wanted = new Map<string, Wanted>();
    for (const c of compositions) for (const w of c.chunks) if (!wanted.has(w.id)) wanted.set(w.id, w);
    const all = [...wanted.values()];
    progress.files = compositions.length;
    progress.chunksTotal = all.length;
    progress.bytesTotal = all.reduce((s, w) => s + w.bytes, 0);

    // Resume: what an earlier (interrupted) run or another dataset already pinned is not fetched again.
    const missing: Wanted[] = [];
    for (const w of all) {
      if (l2.pin(w.id)) {
        progress.chunksCached++;
        progress.chunksDone++;
        progress.bytesDone += w.bytes;
      } else missing.push(w);
    }
    this.#checkCapacity(path, missing);
    progress.phase = 'fetching';
    onProgress({ ...progress });

    let fetched = 0;
    try {
      await boundedEach(missing, this.#d.concurrency ?? DEFAULT_STAGE_CONCURRENCY, async (w) => {
        const plaintext = await this.#d.reader.read(Buffer.from(w.id, 'hex'));
        try {
          // I-CC11: pinned, strictly: a chunk that does not fit fails the stage (CacheCapacityExceeded)
          // and evicts nothing pinned.
          await this.#d.cache.put(w.id, plaintext, { pinned: true });
        } finally {
          plaintext.fill(0); // I-CC2: the pool holds its own copy
        }
        fetched++;
        progress.chunksDone++;
        progress.bytesDone += w.bytes;
        onProgress({ ...progress });
      });
    } catch (err) {
      onProgress({ ...progress, phase: 'failed' });
      throw err;
    }

    progress.phase = 'writing-manifest';
    onProgress({ ...progress });
    const manifest: StagingManifest = {
      version: 1, namespace: this.#d.namespace, namespace_path: path, snapshot_time: snapshot,
      compositions: compositions.map((c) => c.record), chunk_ids: all.map((w) => w.id), bytes: progress.bytesTotal,
    };
    const file = await writeManifest(this.#pool.dir, manifest);
    await this.#publishTotals();
    progress.phase = 'staged';
    onProgress({ ...progress });
    return {
      namespace_path: path, compositions: compositions.length, chunks_total: all.length, chunks_cached: progress.chunksCached,
      chunks_fetched: fetched, bytes_total: progress.bytesTotal, elapsed_ms: this.#now() - started, already_staged: false, manifest: file,
    };
  }

  /** Staged + proposed beyond cache_l2_max fails before anything is fetched (brief §5.3). */
  #checkCapacity(path: string, missing: readonly Wanted[]): void {
    const limit = this.#d.cache.config.l2MaxBytes;
    const need = missing.reduce((s, w) => s + w.bytes + TRAILER_BYTES, 0);
    const pinned = this.#pool.l2.pinnedBytes();
    if (pinned + need > limit) {
      throw kerr('CacheCapacityExceeded', `staging ${path} needs ${need} more bytes of L2 but only ${Math.max(0, limit - pinned)} of cache_l2_max ${limit} are not pinned; release staged datasets or raise cache_l2_max (KISEKI_CACHE_L2_MAX)`);
    }
  }

  async #publishTotals(): Promise<void> {
    const manifests = await listManifests(this.#pool.dir).catch(() => []);
    this.#d.cache.setStaged(manifests.length, manifests.reduce((s, m) => s + m.manifest.bytes, 0));
  }

  /** The dataset's regular files, breadth first, within the depth and file-count limits (I-CC11). */
  async #resolve(path: string): Promise<{ record: StagedComposition; chunks: Wanted[] }[]> {
    const fs = this.#d.fs;
    let attr: Attr = await fs.getattr(ROOT_INO);
    for (const part of path.split('/').filter((p) => p !== '')) {
      if (attr.kind !== FileKind.FILE_KIND_DIRECTORY) throw kerr('NotDirectory', `cannot stage ${path}: a component before ${part} is not a directory`);
      try {
        attr = await fs.lookup(attr.ino, Buffer.from(part));
      } catch (err) {
        throw kerr('NotFound', `cannot stage ${path}: it does not exist in namespace ${this.#d.namespace}`, err);
      }
    }
    const files: { path: string; attr: Attr }[] = [];
    if (attr.kind === FileKind.FILE_KIND_REGULAR) files.push({ path, attr });
    else if (attr.kind === FileKind.FILE_KIND_DIRECTORY) await this.#enumerate(path, attr, files);
    else throw kerr('InvalidArgument', `cannot stage ${path}: it is neither a regular file nor a directory`);

    const out: { record: StagedComposition; chunks: Wanted[] }[] = [];
    for (const f of files) {
      const layout = await this.#d.layout(f.attr.ino);
      const chunks = layout.chunks.map((c) => {
        if (c.chunkId === undefined) throw kerr('Internal', `the node listed a chunk of ${f.path} without an id`);
        return { id: Buffer.from(c.chunkId.value).toString('hex'), bytes: c.length };
      });
      out.push({
        record: { path: f.path, ino: layout.ino, size: layout.size, generation: layout.generation, chunk_ids: chunks.map((c) => c.id) },
        chunks,
      });
    }
    return out;
  }

  async #enumerate(root: string, rootAttr: Attr, files: { path: string; attr: Attr }[]): Promise<void> {
    const { maxDepth, maxFiles } = this.#limits;
    let level: { path: string; attr: Attr }[] = [{ path: root, attr: rootAttr }];
    for (let depth = 1; level.length > 0; depth++) {
      const next: { path: string; attr: Attr }[] = [];
      for (const dir of level) {
        for (const e of await this.#d.fs.readdir(dir.attr.ino)) {
          const name = e.name.toString();
          if (name === '.' || name === '..') continue;
          const child = { path: `${dir.path === '/' ? '' : dir.path}/${name}`, attr: e.attr };
          if (e.attr.kind === FileKind.FILE_KIND_REGULAR) {
            files.push(child);
            if (files.length > maxFiles) {
              throw kerr('InvalidArgument', `cannot stage ${root}: it holds more than max_staging_files = ${maxFiles} files (found ${files.length} so far); stage a smaller directory`);
            }
          } else if (e.attr.kind === FileKind.FILE_KIND_DIRECTORY) {
            if (depth >= maxDepth) {
              throw kerr('InvalidArgument', `cannot stage ${root}: ${child.path} is nested ${depth + 1} levels deep, beyond max_staging_depth = ${maxDepth}; stage a subdirectory`);
            }
            next.push(child);
          }
          // symlinks and special files are not followed: a dataset is the files under its root
        }
      }
      level = next;
    }
  }
}

/** An absolute namespace path without '.', '..' or empty components; the result never ends in '/'. */
export function normalizeDatasetPath(p: string): string {
  if (!p.startsWith('/') || p.includes('\0')) throw kerr('InvalidArgument', `dataset ${JSON.stringify(p)} must be an absolute namespace path, e.g. /training/imagenet`);
  const parts = p.split('/').filter((x) => x !== '');
  if (parts.some((x) => x === '.' || x === '..')) throw kerr('InvalidArgument', `dataset ${JSON.stringify(p)} must not contain '.' or '..'`);
  return `/${parts.join('/')}`;
}

/** Runs fn over items with at most `limit` in flight; the first failure stops new work and is thrown. */
async function boundedEach<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: { err: unknown } | null = null;
  const worker = async (): Promise<void> => {
    while (failed === null && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failed ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== null) throw (failed as { err: unknown }).err;
}

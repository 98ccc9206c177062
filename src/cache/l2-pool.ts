// L2: one pool's chunk files on local disk (brief §4.4). Insert writes a temporary file (0600) with the
// CRC trailer, optionally fsyncs, and renames it into place, so a reader never sees a partial entry
// under the final name. Every read verifies the trailer; anything wrong (short, CRC mismatch, I/O
// error) deletes the entry and reports 'corrupt' so the caller goes to canonical (I-CC7, I-CC13).
// Admission (capacity check and eviction) is serialised; file writes then run concurrently.
import { mkdir, open, readdir, rename, lstat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { kerr } from '../errors.js';
import { BufferRecycler } from './buffer-recycler.js';
import { readCheckedBinding, writeEntryBinding } from './l2-file-binding.js';
import { assertCrcAvailable, checkTrailer, crcTrailer, TRAILER_BYTES } from './crc-trailer.js';
import type { NodeCapacity } from './capacity.js';
import { UsageWeightedLru, type EvictionPolicy } from './eviction.js';
import { Page } from './page.js';
import { CHUNKS_DIR, DIR_MODE, FILE_MODE, chunkRelPath, isChunkId } from './pool-layout.js';
import { shredFile, shredTree, type ShredTally } from './shred.js';

export type L2Read =
  | { kind: 'hit'; page: Page }
  | { kind: 'miss' }
  /** Short file, CRC mismatch, or the file vanished: the entry is deleted. */
  | { kind: 'corrupt'; reason: string }
  /** The read itself failed (EIO, EISDIR, …): the entry is deleted and the disk's health is told. */
  | { kind: 'io-error'; reason: string };

export type L2PutResult =
  | { kind: 'stored'; evicted: number }
  | { kind: 'exists' }
  | { kind: 'skipped'; reason: 'disk-full' | 'over-capacity' | 'wiped' | 'io-error'; detail: string };

export interface L2Options {
  capacity: NodeCapacity;
  /** fsync each entry before rename. Off by default: the pool is ephemeral and the CRC catches torn writes. */
  fsync?: boolean;
  eviction?: EvictionPolicy;
  /** How entries found on disk at open (an adopted pool) are held. */
  loadAsPinned?: boolean;
}

interface L2Entry { fileBytes: number; pinned: boolean }

/** Zeroed read buffers kept for reuse: a few chunks' worth (prefetch keeps about four in flight). */
const RECYCLED_BYTES = 32 << 20;

/** Without the addon: the same entry through fs/promises (three thread-pool hops, the CRC on this thread). */
async function writeEntryPortably(path: string, data: Buffer, sync: boolean): Promise<void> {
  const h = await open(path, 'wx', FILE_MODE);
  try {
    await h.writev([data, crcTrailer(data)]);
    if (sync) await h.datasync();
  } finally {
    await h.close();
  }
}

/** Reads up to buf.length bytes of the file at path into buf; returns how many it got. */
async function readInto(path: string, buf: Buffer): Promise<number> {
  const h = await open(path, 'r');
  try {
    let n = 0;
    while (n < buf.length) {
      const { bytesRead } = await h.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    return n;
  } finally {
    await h.close();
  }
}

export class L2Pool {
  readonly dir: string;
  readonly #opts: L2Options;
  readonly #eviction: EvictionPolicy;
  readonly #index = new Map<string, L2Entry>();
  readonly #writes = new Map<string, Promise<L2PutResult>>();
  #used = 0;
  #reserved = 0;
  #admission: Promise<unknown> = Promise.resolve();
  readonly #buffers = new BufferRecycler(RECYCLED_BYTES);
  /** Page's onFree: the backing is already zeroed. */
  readonly #giveBack = (b: Buffer): void => this.#buffers.give(b);
  #epoch = 0;
  #evictions = 0;

  private constructor(dir: string, opts: L2Options) {
    this.dir = dir;
    this.#opts = opts;
    this.#eviction = opts.eviction ?? new UsageWeightedLru();
  }

  /** Opens the pool rooted at dir (which must exist), indexing whatever chunk files it already holds. */
  static async open(dir: string, opts: L2Options): Promise<L2Pool> {
    assertCrcAvailable();
    const pool = new L2Pool(dir, opts);
    await mkdir(join(dir, CHUNKS_DIR), { mode: DIR_MODE, recursive: true });
    await pool.#loadIndex();
    return pool;
  }

  /** Bytes on disk, trailers included (what capacity is measured in). */
  get usedBytes(): number {
    return this.#used;
  }

  get count(): number {
    return this.#index.size;
  }

  get evictions(): number {
    return this.#evictions;
  }

  has(id: string): boolean {
    return this.#index.has(id);
  }

  pinnedBytes(): number {
    let n = 0;
    for (const e of this.#index.values()) if (e.pinned) n += e.fileBytes;
    return n;
  }

  path(id: string): string {
    return join(this.dir, chunkRelPath(id));
  }

  async get(id: string): Promise<L2Read> {
    const entry = this.#index.get(id);
    if (entry === undefined) return { kind: 'miss' };
    // The index knows the file's size: one read into a recycled buffer of that size (no new
    // allocation per hit; see buffer-recycler.ts). A file shorter than indexed is corrupt.
    const file = this.#buffers.take(entry.fileBytes);
    let got: number;
    let crc: number | undefined;
    try {
      const native = readCheckedBinding();
      if (native !== null) ({ bytes: got, crc } = await native(this.path(id), file));
      else got = await readInto(this.path(id), file);
    } catch (err) {
      this.#recycle(file);
      await this.#discard(id);
      const reason = `read failed: ${(err as Error).message}`;
      return (err as NodeJS.ErrnoException).code === 'ENOENT' ? { kind: 'corrupt', reason } : { kind: 'io-error', reason };
    }
    const check = got < file.length ? { kind: 'corrupt' as const, reason: `short file (${got} of ${file.length} bytes)` } : checkTrailer(file, crc);
    if (check.kind === 'corrupt') {
      this.#recycle(file);
      await this.#discard(id);
      return check;
    }
    if (!entry.pinned) this.#eviction.touch(id);
    return { kind: 'hit', page: new Page(check.data, file, this.#giveBack) };
  }

  /** I-CC2: zeroed before it is kept for reuse. */
  #recycle(b: Buffer): void {
    b.fill(0);
    this.#buffers.give(b);
  }

  /**
   * Stores page under id. Organic entries are best effort: when they cannot fit they are skipped.
   * With strict (explicit pinning, e.g. staging) a capacity shortfall throws CacheCapacityExceeded
   * instead. Only organic entries are ever evicted to make room; pinned data never is.
   */
  put(id: string, page: Page, opts: { pinned: boolean; strict?: boolean }): Promise<L2PutResult> {
    const existing = this.#index.get(id);
    if (existing !== undefined) {
      if (opts.pinned && !existing.pinned) this.#setPinned(id, existing, true);
      return Promise.resolve({ kind: 'exists' });
    }
    const inflight = this.#writes.get(id);
    // Wait for the write in flight, then decide again (it may have been skipped, or stored unpinned).
    // The caller holds its page reference until this settles.
    if (inflight !== undefined) return inflight.then(() => this.put(id, page, opts), () => this.put(id, page, opts));
    const p = this.#admitAndWrite(id, page.acquire(), opts).finally(() => {
      this.#writes.delete(id);
      page.release();
    });
    this.#writes.set(id, p);
    return p;
  }

  pin(id: string): boolean {
    const e = this.#index.get(id);
    if (e === undefined) return false;
    if (!e.pinned) this.#setPinned(id, e, true);
    return true;
  }

  unpin(id: string): void {
    const e = this.#index.get(id);
    if (e !== undefined && e.pinned) this.#setPinned(id, e, false);
  }

  async remove(id: string): Promise<void> {
    await this.#discard(id);
  }

  /** I-CC2, I-CC12: zero-overwrites and unlinks every chunk file (in-flight writes included). */
  async wipe(): Promise<ShredTally> {
    this.#epoch++;
    await Promise.allSettled([...this.#writes.values()]);
    this.#index.clear();
    this.#eviction.clear();
    this.#buffers.clear();
    this.#used = 0;
    return shredTree(join(this.dir, CHUNKS_DIR), { keepRoot: true });
  }

  async #admitAndWrite(id: string, page: Page, opts: { pinned: boolean; strict?: boolean }): Promise<L2PutResult> {
    const fileBytes = page.bytes.byteLength + TRAILER_BYTES;
    const epoch = this.#epoch;
    const admitted = this.#admission.then(() => this.#admit(id, fileBytes, opts));
    this.#admission = admitted.catch(() => undefined);
    let evicted: number;
    try {
      evicted = await admitted;
    } catch (err) {
      if (err instanceof SkipInsert) return { kind: 'skipped', reason: err.reason, detail: err.detail };
      if (opts.strict === true) throw err;
      return { kind: 'skipped', reason: 'io-error', detail: (err as Error).message };
    }
    return this.#write(id, page, fileBytes, opts.pinned, epoch, evicted);
  }

  /** Under the admission chain: makes room (evicting organic entries) and reserves fileBytes. */
  async #admit(id: string, fileBytes: number, opts: { pinned: boolean; strict?: boolean }): Promise<number> {
    let evicted = 0;
    for (;;) {
      const verdict = await this.#opts.capacity.check(this.#used + this.#reserved, fileBytes);
      if (verdict.kind === 'fits') break;
      if (verdict.kind !== 'disk-full') {
        const freed = await this.#evict(verdict.need);
        evicted += freed.count;
        if (freed.bytes >= verdict.need) continue;
      }
      const detail = verdict.kind === 'disk-full'
        ? `the cache filesystem would be ${(verdict.usedFraction * 100).toFixed(1)} % full (backstop 90 %)`
        : `${verdict.kind === 'over-process' ? 'cache_l2_max' : 'max_node_cache_bytes'} ${verdict.limit} bytes reached and only pinned entries remain`;
      if (opts.strict === true) {
        throw kerr('CacheCapacityExceeded', `cannot pin chunk ${id.slice(0, 16)}… (${fileBytes} bytes): ${detail}; release staged datasets or raise the limit`);
      }
      throw new SkipInsert(verdict.kind === 'disk-full' ? 'disk-full' : 'over-capacity', detail);
    }
    this.#reserved += fileBytes;
    return evicted;
  }

  async #write(id: string, page: Page, fileBytes: number, pinned: boolean, epoch: number, evicted: number): Promise<L2PutResult> {
    const final = this.path(id);
    const tmp = join(final, '..', `.tmp-${id}-${randomBytes(4).toString('hex')}`);
    let renamed = false;
    try {
      await mkdir(join(final, '..'), { mode: DIR_MODE, recursive: true });
      const native = writeEntryBinding();
      if (native !== null) await native(tmp, page.bytes, this.#opts.fsync === true);
      else await writeEntryPortably(tmp, page.bytes, this.#opts.fsync === true);
      await rename(tmp, final);
      renamed = true;
      if (epoch !== this.#epoch) {
        await shredFile(final);
        return { kind: 'skipped', reason: 'wiped', detail: 'the cache was wiped while this entry was being written' };
      }
      this.#index.set(id, { fileBytes, pinned });
      this.#used += fileBytes;
      if (!pinned) this.#eviction.insert(id);
      return { kind: 'stored', evicted };
    } catch (err) {
      await shredFile(renamed ? final : tmp).catch(() => undefined);
      return { kind: 'skipped', reason: 'io-error', detail: (err as Error).message };
    } finally {
      this.#reserved -= fileBytes;
    }
  }

  async #evict(need: number): Promise<{ bytes: number; count: number }> {
    let bytes = 0;
    let count = 0;
    while (bytes < need) {
      const victim = this.#eviction.victim();
      if (victim === null) break;
      bytes += await this.#discard(victim);
      count++;
      this.#evictions++;
    }
    return { bytes, count };
  }

  /** Forgets and shreds one entry; returns the bytes it accounted for. */
  async #discard(id: string): Promise<number> {
    const e = this.#index.get(id);
    if (e === undefined) return 0;
    this.#index.delete(id);
    this.#eviction.remove(id);
    this.#used -= e.fileBytes;
    await shredFile(this.path(id)).catch(() => undefined);
    return e.fileBytes;
  }

  #setPinned(id: string, e: L2Entry, pinned: boolean): void {
    e.pinned = pinned;
    if (pinned) this.#eviction.remove(id);
    else this.#eviction.insert(id);
  }

  async #loadIndex(): Promise<void> {
    const root = join(this.dir, CHUNKS_DIR);
    for (const prefix of await readdir(root)) {
      const sub = join(root, prefix);
      if (!(await lstat(sub)).isDirectory()) continue;
      for (const name of await readdir(sub)) {
        const p = join(sub, name);
        const st = await lstat(p);
        if (isChunkId(name) && name.startsWith(prefix) && st.isFile()) {
          const pinned = this.#opts.loadAsPinned === true;
          this.#index.set(name, { fileBytes: st.size, pinned });
          this.#used += st.size;
          if (!pinned) this.#eviction.insert(name);
        } else if (st.isFile()) {
          await shredFile(p);
        }
      }
    }
  }
}

/** Internal: an organic insert that does not fit. Turned into a 'skipped' result by put(). */
class SkipInsert extends Error {
  constructor(readonly reason: 'disk-full' | 'over-capacity', readonly detail: string) {
    super(detail);
  }
}


// Per-INODE file content state: the committed layout plus the dirty chunk slots of every handle of
// the inode, so a read through any handle sees every write (read-your-writes). A slot that a write
// fills to its end is sealed and uploaded in the background right away (bounded by the mount's
// UploadLimiter, which is the writer's backpressure); flush/fsync seals the rest, waits for every
// upload to reach all R replicas, then commits the new chunk list under the generation guard.
//
// Slot states:  filling ──seal──▶ sealing ──uploaded to R replicas──▶ stored ──commit──▶ (layout)
//                  ▲                 │ upload failed                      │ written again
//                  └─────────────────┴────────────────────────────────────┘ (copy / read-modify-write)
import type { Envelope } from '../gen/kiseki/v1/chunk.js';
import type { Attr, ChunkRef, CommitLayoutRequest, Layout, Timespec } from '../gen/kiseki/v1/namespace.js';
import { KisekiError, kerr } from '../errors.js';
import { addExtent, copySpan, slotLength, spansOf, truncatePlan, type Extent } from './chunk-layout.js';
import type { ChunkBuffers } from './chunk-buffers.js';
import type { ChunkReader } from './chunk-reader.js';
import type { ChunkLease } from './fs-ports.js';
import type { ChunkCrypto, ChunkPlacement, Clock, NamespaceCalls } from './fs-ports.js';
import type { SealedNames } from './sealed-names.js';
import type { UploadLimiter } from './upload-limiter.js';
import { type FailingNodes, isPassing, retryWhileUnreachable } from './unreachable-retry.js';

export interface FileIo {
  readonly ns: NamespaceCalls;
  readonly namespaceId: string;
  readonly reader: ChunkReader;
  readonly crypto: ChunkCrypto;
  readonly placement: ChunkPlacement;
  readonly names: SealedNames;
  readonly limiter: UploadLimiter;
  /** Slot buffers come from here and go back once stored and no longer read. */
  readonly buffers: ChunkBuffers;
  readonly inlineThreshold: number;
  /** Whether full chunks this mount writes are cached (L1 and L2); partial chunks always are (ADR 0046). */
  readonly cacheLargeWrite: boolean;
  readonly clock: Clock;
  /** How long an upload keeps trying a replica that cannot take it for a passing reason, before EIO. */
  readonly unreachableRetryMs: number;
  /** Since when each replica has been failing uploads, shared by every file of the mount. */
  readonly failing: FailingNodes;
  /** Told synchronously before any change to a file's content becomes visible to its readers. */
  readonly contentChanged: (ino: number) => void;
  /** Told synchronously whenever a file state takes a committed layout (fetched, refreshed or its own commit). */
  readonly layoutIndexed: (ino: number, generation: number) => void;
}

type Slot =
  | { readonly state: 'filling'; readonly buf: Buffer; readonly written: Extent[] }
  | { readonly state: 'sealing'; readonly buf: Buffer; readonly done: Promise<ChunkRef>; readonly written: Extent[] }
  | { readonly state: 'stored'; readonly ref: ChunkRef; readonly written: Extent[] };
type FillingSlot = Extract<Slot, { state: 'filling' }>;

/** Commit attempts under a moving generation before giving up with EAGAIN. */
const MAX_COMMIT_ATTEMPTS = 16;

export function timespecOf(ms: number): Timespec {
  return { sec: Math.floor(ms / 1000), nsec: Math.round((ms % 1000) * 1e6) };
}

export class FileState {
  private layout: Layout;
  private chunkAt = new Map<number, ChunkRef>();
  private inlinePlain: Promise<Buffer> | null = null;
  private readonly dirty = new Map<number, Slot>();
  private readonly slotInit = new Map<number, Promise<FillingSlot>>();
  /** Chunks at or past this offset are dropped at the next commit (a pending shrink). */
  private dropFrom: number | null = null;
  private changed = false;
  private pendingMtime: Timespec | null = null;
  /** Size before the first append since the last commit, while only appends happened (O_APPEND rebase). */
  private appendFrom: number | null = null;
  private onlyAppends = true;
  private commitTail: Promise<unknown> = Promise.resolve();
  /** Bumped by every change; a commit keeps filling slots that changed while it ran. */
  private writeSeq = 0;
  /** Outstanding leases of slot buffers (reads being answered from them, rebases copying them). */
  private readonly bufLeases = new Map<Buffer, number>();
  /** Slot buffers that left the dirty map as stored chunks: back to the pool at their last lease. */
  private readonly retired = new Set<Buffer>();
  /** Uploads that failed so far, and the last failure: a commit that sees one during its run fails. */
  private uploadFailures = 0;
  private lastUploadFailure: unknown = null;
  /** The logical size, including dirty data. */
  size: number;
  fetchedAt: number;
  openCount = 0;

  constructor(private readonly io: FileIo, readonly ino: number, layout: Layout) {
    this.layout = layout;
    this.size = layout.size;
    this.fetchedAt = io.clock();
    this.indexLayout();
  }

  get chunkSize(): number {
    return this.layout.chunkSize;
  }

  /** Generation of the committed layout this state holds. */
  get generation(): number {
    return this.layout.generation;
  }

  get isDirty(): boolean {
    return this.changed;
  }

  get mtimeOverride(): Timespec | null {
    return this.changed ? this.pendingMtime : null;
  }

  /** Replaces the committed layout when nothing is dirty (close-to-open refresh). */
  refresh(layout: Layout): void {
    if (this.changed) return;
    this.layout = layout;
    this.size = layout.size;
    this.fetchedAt = this.io.clock();
    this.indexLayout();
  }

  /** A copy of the bytes at [offset, offset + length) that the caller owns. */
  async read(offset: number, length: number): Promise<Buffer> {
    const l = await this.lease(offset, length);
    try {
      return Buffer.from(l.data);
    } finally {
      l.release();
    }
  }

  /** The bytes at [offset, offset + length), valid until release(): a view of the cached chunk when one chunk holds them. */
  async lease(offset: number, length: number): Promise<ChunkLease> {
    const end = Math.min(offset + length, this.size);
    if (offset >= end) return unowned(Buffer.alloc(0));
    const spans = spansOf(offset, end - offset, this.chunkSize);
    if (spans.length === 1) {
      // The common kernel read (≤ 1 MiB inside one chunk): answer with a view, no copy.
      const span = spans[0]!;
      const content = await this.contentOf(span.index);
      if (content !== null && content.data.length >= span.inChunk + span.length) {
        return { data: content.data.subarray(span.inChunk, span.inChunk + span.length), release: content.release };
      }
      content?.release();
    }
    const out = Buffer.allocUnsafe(end - offset);
    await Promise.all(spans.map(async (span) => {
      const content = await this.contentOf(span.index);
      try {
        copySpan(content?.data ?? null, span, out, span.inRange);
      } finally {
        content?.release();
      }
    }));
    return unowned(out);
  }

  /**
   * Chunk `index`'s id in the committed layout while nothing is pending (no dirty data, truncation or
   * inline content): reads of it may be answered from that chunk's cached bytes until
   * contentChanged() is next called.
   */
  committedChunk(index: number): Buffer | null {
    if (this.changed || this.dirty.size > 0 || this.dropFrom !== null || this.layout.inlineData !== undefined) return null;
    return this.chunkAt.get(index)?.chunkId?.value ?? null;
  }

  /** committedChunk() of the one chunk that holds all of [offset, offset + length), if one does. */
  committedChunkOf(offset: number, length: number): { index: number; chunkId: Buffer } | null {
    const end = Math.min(offset + length, this.size);
    if (offset >= end) return null;
    const index = Math.floor(offset / this.chunkSize);
    if (Math.floor((end - 1) / this.chunkSize) !== index) return null;
    const chunkId = this.committedChunk(index);
    return chunkId === null ? null : { index, chunkId };
  }

  /** Chunk ids of committed chunks after `index`, for prefetch. */
  committedAfter(index: number, count: number): Buffer[] {
    const ids: Buffer[] = [];
    for (let i = index + 1; i <= index + count; i++) {
      const ref = this.dirty.has(i) ? undefined : this.baseRef(i);
      if (ref?.chunkId !== undefined) ids.push(ref.chunkId.value);
    }
    return ids;
  }

  /** Writes at `offset` (or at the end for O_APPEND, atomically within this mount). Returns bytes written. */
  async write(offset: number, data: Buffer, append: boolean): Promise<number> {
    if (append) {
      offset = this.size;
      if (this.appendFrom === null && this.onlyAppends) this.appendFrom = offset;
    } else {
      this.onlyAppends = false;
      this.appendFrom = null;
    }
    const end = offset + data.length;
    // Claim the range before the first await so that concurrent appends cannot overlap.
    this.size = Math.max(this.size, end);
    this.markChanged();
    const full: number[] = [];
    for (const span of spansOf(offset, data.length, this.chunkSize)) {
      const slot = await this.writableSlot(span.index, span.inChunk === 0 && span.length === this.chunkSize);
      data.copy(slot.buf, span.inChunk, span.inRange, span.inRange + span.length);
      addExtent(slot.written, span.inChunk, span.inChunk + span.length);
      if (span.inChunk + span.length === this.chunkSize) full.push(span.index);
    }
    // A slot written to its end is done with: seal and upload it now, waiting only for a free upload
    // slot, never for the upload itself.
    for (const index of full) {
      const slot = this.dirty.get(index);
      if (slot?.state === 'filling') await this.seal(index, slot);
    }
    return data.length;
  }

  /** Sets the size; a shrink rewrites the straddling chunk (I-FS1). Commits before returning. */
  async truncate(newSize: number): Promise<Attr | null> {
    this.onlyAppends = false;
    this.appendFrom = null;
    if (newSize < this.size) {
      const plan = truncatePlan(this.size, newSize, this.chunkSize);
      // Only slots wholly past the new size go; the straddling slot keeps its unflushed writes below
      // newSize (dropping it too would rebuild it from the committed chunk and lose them).
      const gone = plan.partial === null ? plan.dropFrom : (plan.partial.index + 1) * this.chunkSize;
      for (const index of [...this.dirty.keys()]) if (index * this.chunkSize >= gone) this.dirty.delete(index);
      if (plan.partial !== null) {
        const slot = await this.writableSlot(plan.partial.index, false);
        slot.buf.fill(0, plan.partial.keep);
      }
      this.dropFrom = Math.min(this.dropFrom ?? Infinity, plan.dropFrom);
    }
    this.size = newSize;
    this.markChanged();
    return this.flush();
  }

  /** Uploads and commits everything dirty. Serialised per inode; returns the committed attr, or null if clean. */
  flush(): Promise<Attr | null> {
    const run = this.commitTail.then(() => this.commitWithRetry());
    this.commitTail = run.catch(() => undefined);
    return run;
  }

  private markChanged(): void {
    this.io.contentChanged(this.ino);
    this.changed = true;
    this.writeSeq++;
    this.pendingMtime = timespecOf(Date.now());
  }

  private indexLayout(): void {
    this.io.layoutIndexed(this.ino, this.layout.generation);
    this.chunkAt = new Map(this.layout.chunks.map((c) => [Math.floor(c.offset / this.layout.chunkSize), c]));
    this.inlinePlain = null;
  }

  private baseRef(index: number): ChunkRef | undefined {
    if (this.dropFrom !== null && index * this.chunkSize >= this.dropFrom) return undefined;
    return this.chunkAt.get(index);
  }

  private async baseContent(index: number): Promise<ChunkLease | null> {
    if (this.layout.inlineData !== undefined) {
      if (index !== 0 || this.dropFrom === 0) return null;
      this.inlinePlain ??= this.io.names.openInline(this.ino, this.layout.inlineData);
      return unowned(await this.inlinePlain);
    }
    const ref = this.baseRef(index);
    return ref?.chunkId === undefined ? null : this.io.reader.lease(ref.chunkId.value);
  }

  private async contentOf(index: number): Promise<ChunkLease | null> {
    const slot = this.dirty.get(index);
    if (slot === undefined) return this.baseContent(index);
    if (slot.state === 'stored') return this.io.reader.lease(slot.ref.chunkId!.value);
    return this.leaseBuf(slot.buf);
  }

  /** A lease of a slot buffer: the buffer is not reused while it is held. */
  private leaseBuf(buf: Buffer): ChunkLease {
    this.bufLeases.set(buf, (this.bufLeases.get(buf) ?? 0) + 1);
    let released = false;
    return {
      data: buf,
      release: () => {
        if (released) return;
        released = true;
        const left = this.bufLeases.get(buf)! - 1;
        if (left > 0) {
          this.bufLeases.set(buf, left);
          return;
        }
        this.bufLeases.delete(buf);
        if (this.retired.delete(buf)) this.io.buffers.give(buf);
      },
    };
  }

  /** A slot buffer whose chunk is stored and that no slot holds any more: reused once unleased. */
  private retire(buf: Buffer): void {
    if (this.bufLeases.has(buf)) this.retired.add(buf);
    else this.io.buffers.give(buf);
  }

  /** A filling slot for `index`, created by copy or read-modify-write; at most one creation in flight per slot. */
  private async writableSlot(index: number, wholeChunk: boolean): Promise<FillingSlot> {
    for (;;) {
      const slot = this.dirty.get(index);
      if (slot?.state === 'filling') return slot;
      const pending = this.slotInit.get(index);
      if (pending !== undefined) {
        await pending;
        continue;
      }
      const init = this.createSlot(index, slot, wholeChunk).finally(() => this.slotInit.delete(index));
      this.slotInit.set(index, init);
      return init;
    }
  }

  private async createSlot(index: number, previous: Slot | undefined, wholeChunk: boolean): Promise<FillingSlot> {
    const buf = this.io.buffers.take(this.chunkSize);
    if (!wholeChunk) {
      const content = previous === undefined ? await this.baseContent(index)
        : previous.state === 'stored' ? await this.io.reader.lease(previous.ref.chunkId!.value) : this.leaseBuf(previous.buf);
      // Only bytes below the size are real; anything past it must read back as zeros (I-FS1).
      const valid = slotLength(index, this.size, this.chunkSize);
      if (content !== null) {
        content.data.copy(buf, 0, 0, Math.min(content.data.length, valid));
        content.release();
      }
    }
    // The byte ranges this client wrote: what a rebase re-applies over another client's newer chunk.
    const written = previous === undefined ? [] : previous.written.map(([a, b]): Extent => [a, b]);
    const slot: FillingSlot = { state: 'filling', buf, written };
    this.dirty.set(index, slot);
    return slot;
  }

  private async seal(index: number, slot: FillingSlot): Promise<void> {
    await this.io.limiter.acquire();
    if (this.dirty.get(index) !== slot) {
      this.io.limiter.release();
      return;
    }
    const length = slotLength(index, this.size, this.chunkSize);
    const done = this.upload(index, slot.buf.subarray(0, length)).finally(() => this.io.limiter.release());
    const sealing: Slot = { state: 'sealing', buf: slot.buf, done, written: slot.written };
    this.dirty.set(index, sealing);
    done.then(
      (ref) => {
        // A full chunk is most likely part of a large sequential write (a checkpoint), which is
        // rarely read back on this node: it is not cached (and evicts nothing that was read or
        // staged) unless cache_large_write asks for it; reading it back fetches it (ADR 0046).
        // Partial chunks (small files, a file's tail) are cached in L1 and L2, as JuiceFS does.
        if (this.io.cacheLargeWrite || ref.length !== this.chunkSize) this.io.reader.adopt(ref.chunkId!.value, slot.buf.subarray(0, ref.length));
        if (this.dirty.get(index) === sealing) {
          this.dirty.set(index, { state: 'stored', ref, written: slot.written });
          // Reads of this chunk now go to the cache (or the node); the buffer is free once unleased.
          // (If a write copied the sealing slot into a new one first, its buffer is left to the GC.)
          this.retire(slot.buf);
        }
      },
      (err: unknown) => {
        // A later write or a truncate replaced the slot: its own data is where it belongs.
        if (this.dirty.get(index) !== sealing) return;
        // Keep the data: the next flush seals it again and reports the failure if it persists.
        this.dirty.set(index, slot);
        this.uploadFailures++;
        this.lastUploadFailure = err;
      },
    );
  }

  private async upload(index: number, plaintext: Buffer): Promise<ChunkRef> {
    const out = this.io.buffers.take(plaintext.length);
    let sealed: { chunkId: Buffer; envelope: Envelope };
    try {
      sealed = await this.io.crypto.seal(plaintext, out);
    } catch (err) {
      this.io.buffers.give(out);
      throw err;
    }
    const { chunkId, envelope } = sealed;
    const replicas = this.io.placement.route(chunkId).write;
    if (replicas.length === 0) throw kerr('Unavailable', 'no storage node to write to (discovery found none)');
    // Ack rule (ADR 0081): a chunk counts as written once every placed replica stored it. A replica
    // restarting or being redialled is waited for, as reads wait for theirs.
    await Promise.all(replicas.map((t) => retryWhileUnreachable(this.io.unreachableRetryMs, () => t.putChunks([envelope]), isPassing, this.io.failing.of(t))));
    // The ciphertext buffer is reused only now, once every replica has the chunk: a transport attempt
    // that failed over and still sends these bytes can only reach a node that already stores this
    // chunk id, which keeps its copy (dedup). After a failure it is left to the GC: another replica's
    // put may still be reading it.
    this.io.buffers.give(out);
    return { chunkId: { value: chunkId }, offset: index * this.chunkSize, length: plaintext.length };
  }

  private async commitWithRetry(): Promise<Attr | null> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.commitOnce();
      } catch (err) {
        if (!KisekiError.is(err, 'StaleGeneration') || attempt >= MAX_COMMIT_ATTEMPTS) throw err;
        await this.rebase();
      }
    }
  }

  private async commitOnce(): Promise<Attr | null> {
    if (!this.changed) return null;
    // Uploads started before this commit settle first: one that failed (a node restarting meanwhile)
    // is sealed again below. Any upload that fails from here on fails the commit.
    await Promise.allSettled([...this.dirty.values()].flatMap((slot) => (slot.state === 'sealing' ? [slot.done] : [])));
    const failures = this.uploadFailures;
    const size = this.size;
    const threshold = this.io.inlineThreshold;
    const toInline = size <= threshold;
    // Leaving inline storage: chunk 0 must carry the former inline bytes.
    if (!toInline && this.layout.inlineData !== undefined && !this.dirty.has(0)) await this.writableSlot(0, false);
    if (!toInline) {
      for (const [index, slot] of this.dirty) {
        if (slot.state !== 'filling') continue;
        await this.seal(index, slot);
        // Fail fast: starting more uploads towards a replica that just failed one only delays the EIO.
        this.throwIfUploadFailedSince(failures);
      }
    }
    const seq = this.writeSeq;
    // Sealing and stored slots are immutable (a later write copies them); filling slots are not.
    const snapshot = new Map([...this.dirty].filter(([, slot]) => toInline || slot.state !== 'filling'));
    // A slot whose upload failed after the loop sealed it is filling again and missing from the
    // snapshot: committing without it would let fsync succeed without those bytes on the node.
    if (!toInline) this.throwIfUploadFailedSince(failures);
    const dropFrom = this.dropFrom;
    const mtime = this.pendingMtime ?? timespecOf(Date.now());
    const req: CommitLayoutRequest = {
      namespaceId: { value: this.io.namespaceId }, ino: this.ino, expectedGeneration: this.layout.generation,
      newSize: size, setChunks: [], dropFrom: 0, dropFromSet: false, inlineData: undefined, clearInline: false, mtime,
    };
    let inlinePlain: Buffer | null = null;
    if (toInline) {
      // A copy: read() may return a view of a slot that later writes change.
      inlinePlain = Buffer.from(await this.read(0, size));
      req.dropFrom = 0;
      req.dropFromSet = true;
      if (size > 0) req.inlineData = await this.io.names.sealInline(this.ino, inlinePlain);
      else req.clearInline = true;
    } else {
      for (const slot of snapshot.values()) {
        req.setChunks.push(slot.state === 'stored' ? slot.ref : await (slot as Extract<Slot, { state: 'sealing' }>).done);
      }
      req.setChunks.sort((a, b) => a.offset - b.offset);
      if (dropFrom !== null) {
        req.dropFrom = dropFrom;
        req.dropFromSet = true;
      }
      req.clearInline = this.layout.inlineData !== undefined;
    }
    const res = await this.io.ns.commitLayout(req);
    const attr = res.attr;
    if (attr === undefined) throw kerr('Internal', `inode ${this.ino}: CommitLayout answered without attributes`);
    this.applyCommitted(req, attr, inlinePlain);
    const untouched = this.writeSeq === seq;
    for (const [index, slot] of snapshot) {
      if (this.dirty.get(index) === slot && (slot.state !== 'filling' || untouched)) this.dirty.delete(index);
    }
    if (this.dropFrom === dropFrom) this.dropFrom = null;
    this.changed = this.dirty.size > 0 || this.dropFrom !== null || !untouched;
    if (!this.changed) {
      this.appendFrom = null;
      this.onlyAppends = true;
    }
    return attr;
  }

  private throwIfUploadFailedSince(failures: number): void {
    if (this.uploadFailures !== failures) throw this.lastUploadFailure;
  }

  private applyCommitted(req: CommitLayoutRequest, attr: Attr, inlinePlain: Buffer | null): void {
    const chunks = req.dropFromSet ? this.layout.chunks.filter((c) => c.offset < req.dropFrom) : [...this.layout.chunks];
    const byOffset = new Map(chunks.map((c) => [c.offset, c]));
    for (const c of req.setChunks) byOffset.set(c.offset, c);
    this.layout = {
      ino: this.ino, generation: attr.generation, size: req.newSize, chunkSize: this.layout.chunkSize,
      chunks: [...byOffset.values()].sort((a, b) => a.offset - b.offset),
      inlineData: req.inlineData ?? (req.clearInline || req.dropFromSet ? undefined : this.layout.inlineData),
    };
    this.indexLayout();
    if (inlinePlain !== null && req.inlineData !== undefined) this.inlinePlain = Promise.resolve(inlinePlain);
    this.fetchedAt = this.io.clock();
  }

  /**
   * Another writer committed first. Appends are replayed at the new end of file (O_APPEND stays
   * atomic across mounts). Other dirty slots are rebuilt from the new layout's chunk with only the
   * byte ranges this client wrote laid over it, so writers of different ranges of one chunk on two
   * mounts both keep their bytes (overlapping ranges: the later commit wins, nothing torn). With a
   * truncation pending, the slots replace whole chunks (the truncation wins).
   */
  private async rebase(): Promise<void> {
    const fresh = await this.io.ns.getLayout({ namespaceId: { value: this.io.namespaceId }, ino: this.ino });
    if (this.appendFrom !== null && this.onlyAppends && this.dropFrom === null) {
      const appended = Buffer.from(await this.read(this.appendFrom, this.size - this.appendFrom));
      this.dirty.clear();
      this.layout = fresh;
      this.size = fresh.size;
      this.indexLayout();
      this.appendFrom = null;
      await this.write(this.size, appended, true);
      return;
    }
    this.layout = fresh;
    this.indexLayout();
    if (this.dropFrom !== null) return;
    this.size = Math.max(this.size, fresh.size);
    for (;;) {
      const seq = this.writeSeq;
      const rebuilt = new Map<number, { old: Slot; slot: FillingSlot }>();
      for (const [index, old] of this.dirty) {
        const mine = old.state === 'stored' ? unowned(await this.io.reader.read(old.ref.chunkId!.value)) : this.leaseBuf(old.buf);
        const buf = this.io.buffers.take(this.chunkSize);
        try {
          const theirs = await this.baseContent(index);
          if (theirs !== null) {
            theirs.data.copy(buf, 0, 0, Math.min(theirs.data.length, slotLength(index, fresh.size, this.chunkSize)));
            theirs.release();
          }
          for (const [a, b] of old.written) mine.data.copy(buf, a, a, Math.min(b, mine.data.length));
        } finally {
          mine.release();
        }
        rebuilt.set(index, { old, slot: { state: 'filling', buf, written: old.written.map(([a, b]): Extent => [a, b]) } });
      }
      // Install only if no write slipped in while the chunks were being read; else rebuild again.
      if (this.writeSeq !== seq) continue;
      for (const [index, { old, slot }] of rebuilt) if (this.dirty.get(index) === old) this.dirty.set(index, slot);
      return;
    }
  }
}

/** Bytes this file state owns outright (dirty slots, inline data, assembled copies): nothing to release. */
function unowned(data: Buffer): ChunkLease {
  return { data, release: () => undefined };
}

// KisekiFileSystem: the POSIX operations by inode over the namespace service, sealed metadata and
// the chunk read/write paths. Returns typed results or throws KisekiError carrying the errno the
// user should see; the FUSE adapter only translates. Inode numbers are the node's (root = 1).
import { constants as fsc } from 'node:fs';
import { constants } from 'node:os';
import { FileKind, type Attr, type Layout, type ReadDirPlusResponse, type StatFsResponse, type Timespec } from '../gen/kiseki/v1/namespace.js';
import { KisekiError, kerr } from '../errors.js';
import { DEFAULT_CHUNK_SIZE, DEFAULT_INLINE_THRESHOLD } from './chunk-layout.js';
import { listDirectory, type PageFetch } from './dir-listing.js';
import { ListingProgress } from './listing-progress.js';
import { ChunkReader, DEFAULT_READER_OPTIONS, type ChunkReaderOptions } from './chunk-reader.js';
import { PinnedMap, PREFETCH_MAX_ENTRIES, type DentryCache, type DentryMirror } from './dentry-cache.js';
import { FileState, timespecOf, type FileIo } from './file-writer.js';
import type { ChunkCachePort, ChunkCrypto, ChunkLease, ChunkPlacement, Clock, MetaCrypto, NamespaceCalls, ReadMirrorPort } from './fs-ports.js';
import { O_ACCMODE, OpenFiles, type OpenFile } from './open-files.js';
import { SealedNames } from './sealed-names.js';
import { UploadLimiter } from './upload-limiter.js';

export { FileKind, type Attr } from '../gen/kiseki/v1/namespace.js';

export interface FsDeps {
  readonly ns: NamespaceCalls;
  readonly chunkCrypto: ChunkCrypto;
  readonly metaCrypto: MetaCrypto;
  readonly cache: ChunkCachePort;
  readonly placement: ChunkPlacement;
  readonly namespaceId: string;
  readonly readOnly: boolean;
  readonly clock?: Clock;
  /** Names and attributes cached for meta_ttl_ms (I-CC3); absent = every lookup asks the node. */
  readonly dentries?: DentryCache;
}

export interface FsOptions {
  /** Chunk size of new files. */
  readonly chunkSize: number;
  readonly inlineThreshold: number;
  /** Layouts older than this are re-read on open (close-to-open coherence between mounts). */
  readonly metaTtlMs: number;
  /** Chunks sealed/uploading at once (write pipeline depth). */
  readonly uploadConcurrency: number;
  readonly reader: ChunkReaderOptions;
  /** Full chunks written by this mount are cached too (L1 and L2), not only partial ones (mount option cache_large_write). */
  readonly cacheLargeWrite: boolean;
}

export const DEFAULT_FS_OPTIONS: FsOptions = {
  chunkSize: DEFAULT_CHUNK_SIZE, inlineThreshold: DEFAULT_INLINE_THRESHOLD, metaTtlMs: 5000,
  uploadConcurrency: 8, reader: DEFAULT_READER_OPTIONS, cacheLargeWrite: false,
};

export interface Caller {
  readonly uid: number;
  readonly gid: number;
}

export interface DirEntryPlus {
  readonly name: Buffer;
  readonly attr: Attr;
}

/** A lookup or getattr answer with the age of what it is based on (0 = just fetched), or null = no such name. */
export interface AgedAttr<A = Attr> {
  readonly attr: A;
  readonly ageMs: number;
}

/** ReadDirPlus page size (the node's maximum): fewer round trips per large directory. */
const READDIR_PAGE = 4096;

/** First page of a listing ahead of lookups: small, so that the lookup waiting for it goes on soon (ADR 0085). */
const PREFETCH_FIRST_PAGE = 256;

/** Key ranges of a large directory listed at once after its first page (dir-listing.ts). */
const LIST_RANGES = 4;

type ReaddirPage = ReadDirPlusResponse['entries'];

export type TimeSet = Timespec | 'now';

export interface SetAttrInput {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  atime?: TimeSet;
  mtime?: TimeSet;
}

export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;
export const XATTR_CREATE = 1;
export const XATTR_REPLACE = 2;

const SET_MODE = 1, SET_UID = 2, SET_GID = 4, SET_ATIME = 8, SET_MTIME = 16;

export class KisekiFileSystem {
  readonly names: SealedNames;
  readonly reader: ChunkReader;
  readonly files = new OpenFiles();
  /** Open (or dirty) files' content state; their inodes are pinned out of the dentry mirror. */
  private readonly states: Map<number, FileState>;
  private readonly io: FileIo;
  private readonly clock: Clock;
  private readonly dentries: DentryCache | null;
  /** Directories being listed ahead of lookups: a lookup that misses waits for its name's page or the end. */
  private readonly prefetching = new Map<number, ListingProgress>();
  private closed = false;
  private readMirror: ReadMirrorPort | null = null;

  constructor(private readonly deps: FsDeps, readonly options: FsOptions = DEFAULT_FS_OPTIONS) {
    this.clock = deps.clock ?? (() => performance.now());
    this.dentries = deps.dentries ?? null;
    this.states = new PinnedMap<FileState>(this.dentries);
    this.names = new SealedNames(deps.metaCrypto, deps.namespaceId);
    this.reader = new ChunkReader(deps.chunkCrypto, deps.cache, deps.placement, options.reader);
    this.io = {
      ns: deps.ns, namespaceId: deps.namespaceId, reader: this.reader, crypto: deps.chunkCrypto,
      placement: deps.placement, names: this.names, limiter: new UploadLimiter(options.uploadConcurrency),
      buffers: this.reader.buffers,
      inlineThreshold: options.inlineThreshold, clock: this.clock, cacheLargeWrite: options.cacheLargeWrite,
      unreachableRetryMs: options.reader.unreachableRetryMs, failing: this.reader.failing,
      contentChanged: (ino) => this.readMirror?.changed(ino),
      layoutIndexed: (ino, generation) => this.readMirror?.layoutSeen(ino, generation),
    };
  }

  /** Mirrors the dentry cache to the kernel-facing layer (which then answers from it itself). */
  attachMirror(m: DentryMirror): void {
    this.dentries?.attachMirror(m, this.states.keys());
  }

  /** Publishes clean cached chunks of read files to the kernel-facing layer, which then answers reads of them itself. */
  attachReadMirror(m: ReadMirrorPort): void {
    this.readMirror = m;
  }

  get readOnly(): boolean {
    return this.deps.readOnly;
  }

  private get nsId() {
    return { value: this.deps.namespaceId };
  }

  private writable(what: string): void {
    if (this.closed) throw kerr('Closed', 'the filesystem is shutting down');
    if (this.deps.readOnly) throw kerr('ReadOnly', `${what}: the namespace is read-only`);
  }

  private static attrOf(res: { attr?: Attr | undefined }, what: string): Attr {
    if (res.attr === undefined) throw kerr('Internal', `${what}: the node answered without attributes`);
    return res.attr;
  }

  /** Attributes with this client's unflushed size and mtime laid over them (read-your-writes). */
  private overlay(attr: Attr): Attr {
    const state = this.states.get(attr.ino);
    if (state === undefined || !state.isDirty) return attr;
    return { ...attr, size: state.size, mtime: state.mtimeOverride ?? attr.mtime };
  }

  async lookup(parent: number, name: Buffer): Promise<Attr> {
    const e = await this.lookupAged(parent, name);
    if (e.attr === null) throw kerr('NotFound', `no entry named '${name.toString()}' in directory ${parent}`);
    return e.attr;
  }

  /**
   * lookup with the age of the answer (I-CC5: the kernel may cache it only for the rest of the TTL).
   * Served from the dentry cache within meta_ttl_ms (I-CC3), except for files this client has open
   * (their size and mtime move with its own writes). After a few names found in one directory by
   * asking the node, the whole directory is listed once, so a walk over its names costs one ReadDirPlus instead of one RPC each.
   */
  async lookupAged(parent: number, name: Buffer): Promise<AgedAttr<Attr | null>> {
    const nameKey = await this.names.nameKey(parent, name);
    const d = this.dentries;
    if (d !== null) {
      let c = d.lookup(parent, nameKey);
      const listing = c.kind === 'miss' ? this.prefetching.get(parent) : undefined;
      // I-CC3: pages are stored as they arrive, so the name may be found before the listing ends;
      // only the end of a complete listing can make it absent. After an own change no page of it is
      // stored: asking the node is then quicker than waiting.
      while (listing !== undefined && c.kind === 'miss' && !listing.ended && d.current(listing.ticket)) {
        await listing.advanced();
        c = d.lookup(parent, nameKey);
      }
      if (c.kind !== 'miss' && d.refreshDue(parent, c.ageMs)) this.prefetch(parent, d);
      if (c.kind === 'entry' && !this.states.has(c.attr.ino)) {
        d.served(parent, nameKey, c.attr, c.ageMs);
        return { attr: c.attr, ageMs: c.ageMs };
      }
      if (c.kind === 'absent') return { attr: null, ageMs: c.ageMs };
    }
    const ticket = d?.begin();
    let attr: Attr;
    try {
      attr = KisekiFileSystem.attrOf(await this.deps.ns.lookup({ namespaceId: this.nsId, parent, nameKey }), 'lookup');
    } catch (err) {
      if (KisekiError.is(err, 'NotFound')) return { attr: null, ageMs: 0 };
      throw err;
    }
    if (d !== null && ticket !== undefined && !this.states.has(attr.ino)) d.fetched(parent, nameKey, attr, ticket);
    // Only names that exist count: a walk over a directory lists it, a writer creating new names does
    // not (listing a directory that keeps changing under its own creates would be wasted, again and again).
    if (d !== null && d.noteMiss(parent)) this.prefetch(parent, d);
    return { attr: this.overlay(attr), ageMs: 0 };
  }

  async getattr(ino: number): Promise<Attr> {
    return (await this.getattrAged(ino)).attr;
  }

  /** getattr with the age of the answer; cached attributes as for lookupAged (I-CC3, I-CC5). */
  async getattrAged(ino: number): Promise<AgedAttr> {
    const d = this.dentries;
    if (d !== null && !this.states.has(ino)) {
      const hit = d.attr(ino);
      if (hit !== null) {
        d.servedAttr(hit.attr, hit.ageMs);
        return hit;
      }
    }
    const ticket = d?.begin();
    const attr = KisekiFileSystem.attrOf(await this.deps.ns.getAttr({ namespaceId: this.nsId, ino }), 'getattr');
    if (d !== null && ticket !== undefined && !this.states.has(ino)) d.fetchedAttr(attr, ticket);
    return { attr: this.overlay(attr), ageMs: 0 };
  }

  /** Every entry of a directory with its attributes (paged from the node; names opened and checked). */
  async readdir(ino: number): Promise<DirEntryPlus[]> {
    return (await this.readdirAged(ino)).entries;
  }

  /**
   * readdir with the age of the answer: a complete listing still within meta_ttl_ms whose names are
   * all known is answered from the dentry cache (I-CC3; the kernel gets only the rest of the TTL, I-CC5).
   */
  async readdirAged(ino: number): Promise<{ entries: DirEntryPlus[]; ageMs: number }> {
    const d = this.dentries;
    // A listing made ahead of lookups left its names sealed (ADR 0086): they are opened now, and the
    // listing is looked up again for its age after that.
    const pending = d?.cachedListing(ino) ?? null;
    const opened = pending !== null && await this.names.openKept(ino, pending.entries.map((e) => e.hex)).catch(() => false);
    const cached = opened ? d?.cachedListing(ino) ?? null : null;
    if (cached !== null) {
      const entries: DirEntryPlus[] = [];
      for (const e of cached.entries) {
        const name = this.names.knownName(e.hex);
        if (name === undefined) break;
        entries.push({ name, attr: this.states.has(e.attr.ino) ? this.overlay(e.attr) : e.attr });
      }
      if (entries.length === cached.entries.length) return { entries, ageMs: cached.ageMs };
    }
    const started = this.clock();
    const ticket = d?.begin();
    // Each page's names are opened as it arrives; the final pass finds them all known.
    const opening: Array<Promise<unknown>> = [];
    const { entries: listed } = await listDirectory(this.pageFetch(ino), {
      pageSize: READDIR_PAGE, maxEntries: Infinity, maxRanges: LIST_RANGES, onPage: (page) => {
        const names = this.names.openNames(ino, page);
        names.catch(() => undefined); // awaited below, unless the listing itself fails first
        opening.push(names);
      },
    });
    await Promise.all(opening);
    const names = await this.names.openNames(ino, listed);
    const keys = listed.map((e) => e.nameKey);
    const out: DirEntryPlus[] = listed.map((e, i) => ({ name: names[i]!, attr: KisekiFileSystem.attrOf(e, 'readdir') }));
    // Not mirrored by name: the kernel keeps what READDIRPLUS hands it for the same TTL.
    if (d !== null && ticket !== undefined) d.listing(ino, out.map((e, i) => ({ nameKey: keys[i]!, attr: e.attr })), true, ticket);
    const entries = out.map((e) => (this.states.has(e.attr.ino) ? { name: e.name, attr: this.overlay(e.attr) } : e));
    return { entries, ageMs: this.clock() - started };
  }

  /**
   * Lists a directory's name_keys and attributes into the dentry cache and its mirror, page by page
   * as they arrive: lookups waiting for it go on as soon as their name's page is stored, and the names
   * after it are answered by the mirror (ADR 0085). No name is opened: both are keyed by name_key
   * (ADR 0086).
   */
  private prefetch(dir: number, d: DentryCache): void {
    if (this.prefetching.has(dir)) return;
    const ticket = d.begin();
    const progress = new ListingProgress(ticket);
    const hexes: string[] = [];
    const onPage = (page: ReaddirPage): void => {
      const list = page.map((e) => ({ nameKey: e.nameKey, attr: KisekiFileSystem.attrOf(e, 'readdir') }));
      for (const h of d.listingPage(dir, list, ticket)) hexes.push(h);
      this.names.keepSealed(page);
      progress.page();
    };
    this.prefetching.set(dir, progress);
    void listDirectory(this.pageFetch(dir), { pageSize: READDIR_PAGE, firstPage: PREFETCH_FIRST_PAGE, maxEntries: PREFETCH_MAX_ENTRIES, maxRanges: LIST_RANGES, onPage })
      .then(({ complete }) => d.listingEnd(dir, hexes, complete, ticket))
      // A failed listing only means the lookups keep asking the node one by one.
      .catch(() => d.listingEnd(dir, hexes, false, ticket))
      .finally(() => {
        this.prefetching.delete(dir);
        progress.end();
      });
  }

  private pageFetch(dir: number): PageFetch {
    return (cursor, limit) => this.deps.ns.readDirPlus({ namespaceId: this.nsId, ino: dir, cursor, limit });
  }

  async mkdir(parent: number, name: Buffer, mode: number, who: Caller): Promise<Attr> {
    this.writable('mkdir');
    const nameKey = await this.names.nameKey(parent, name);
    const sealedName = await this.names.sealName(nameKey, name);
    const res = await this.deps.ns.mkDir({ namespaceId: this.nsId, parent, nameKey, sealedName, mode: mode & 0o7777, uid: who.uid, gid: who.gid });
    const attr = KisekiFileSystem.attrOf(res, 'mkdir');
    this.dentries?.added(parent, nameKey, attr);
    return attr;
  }

  async rmdir(parent: number, name: Buffer): Promise<void> {
    this.writable('rmdir');
    const nameKey = await this.names.nameKey(parent, name);
    try {
      await this.deps.ns.rmDir({ namespaceId: this.nsId, parent, nameKey });
    } finally {
      this.dentries?.removed(parent, nameKey);
    }
  }

  async unlink(parent: number, name: Buffer): Promise<void> {
    this.writable('unlink');
    const nameKey = await this.names.nameKey(parent, name);
    try {
      await this.deps.ns.unlink({ namespaceId: this.nsId, parent, nameKey });
    } finally {
      this.dentries?.removed(parent, nameKey);
    }
  }

  async rename(parent: number, name: Buffer, newParent: number, newName: Buffer, flags: number): Promise<void> {
    this.writable('rename');
    if ((flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) !== 0 || flags === (RENAME_NOREPLACE | RENAME_EXCHANGE)) {
      throw kerr('InvalidArgument', `rename: unsupported flags ${flags}`);
    }
    const [nameKey, newNameKey] = await Promise.all([this.names.nameKey(parent, name), this.names.nameKey(newParent, newName)]);
    const newSealedName = await this.names.sealName(newNameKey, newName);
    const exchangedSealedName = (flags & RENAME_EXCHANGE) !== 0 ? await this.names.sealName(nameKey, name) : undefined;
    try {
      await this.deps.ns.rename({
        namespaceId: this.nsId, parent, nameKey, newNamespaceId: this.nsId, newParent, newNameKey, newSealedName,
        flags, exchangedSealedName,
      });
    } finally {
      this.dentries?.renamed(parent, nameKey, newParent, newNameKey);
    }
  }

  async symlink(parent: number, name: Buffer, target: Buffer, who: Caller): Promise<Attr> {
    this.writable('symlink');
    if (target.length === 0 || target.length > 4095) throw kerr('InvalidArgument', 'symlink target must be 1–4095 bytes');
    const nameKey = await this.names.nameKey(parent, name);
    const [sealedName, sealedTarget] = await Promise.all([this.names.sealName(nameKey, name), this.names.sealTarget(target)]);
    const res = await this.deps.ns.symlink({
      namespaceId: this.nsId, parent, nameKey, sealedName, sealedTarget, uid: who.uid, gid: who.gid, targetLength: target.length,
    });
    const attr = KisekiFileSystem.attrOf(res, 'symlink');
    this.dentries?.added(parent, nameKey, attr);
    return attr;
  }

  async readlink(ino: number): Promise<Buffer> {
    const res = await this.deps.ns.readLink({ namespaceId: this.nsId, ino });
    return this.names.openTarget(res.sealedTarget);
  }

  async link(ino: number, newParent: number, newName: Buffer): Promise<Attr> {
    this.writable('link');
    const nameKey = await this.names.nameKey(newParent, newName);
    const sealedName = await this.names.sealName(nameKey, newName);
    const res = await this.deps.ns.link({ namespaceId: this.nsId, ino, newParent, nameKey, sealedName });
    const attr = KisekiFileSystem.attrOf(res, 'link');
    this.dentries?.added(newParent, nameKey, attr);
    return this.overlay(attr);
  }

  /** Creates (or with exclusive = false opens an existing) regular file and opens it. */
  async create(parent: number, name: Buffer, mode: number, flags: number, who: Caller): Promise<{ attr: Attr; file: OpenFile }> {
    this.writable('create');
    const nameKey = await this.names.nameKey(parent, name);
    const sealedName = await this.names.sealName(nameKey, name);
    const res = await this.deps.ns.create({
      namespaceId: this.nsId, parent, nameKey, sealedName, mode: mode & 0o7777, uid: who.uid, gid: who.gid,
      exclusive: (flags & fsc.O_EXCL) !== 0, chunkSize: this.options.chunkSize,
    });
    const attr = KisekiFileSystem.attrOf(res, 'create');
    this.dentries?.added(parent, nameKey, attr);
    if (attr.kind !== FileKind.FILE_KIND_REGULAR) throw kerr('IsDirectory', 'create: the name exists and is not a regular file');
    // An empty file's layout follows from its attributes (no chunks, no inline data): no GetLayout.
    if (attr.size === 0 && !this.states.has(attr.ino)) {
      this.states.set(attr.ino, new FileState(this.io, attr.ino, {
        ino: attr.ino, generation: attr.generation, size: 0, chunkSize: attr.chunkSize, chunks: [], inlineData: undefined,
      }));
    }
    // A file this call made is already empty: O_TRUNC would only commit an empty layout again.
    const openFlags = flags & ~fsc.O_EXCL & ~(res.created ? fsc.O_TRUNC : 0);
    const file = await this.openState(attr.ino, openFlags, !this.states.has(attr.ino));
    return { attr: this.overlay(file.state.size === attr.size ? attr : { ...attr, size: file.state.size }), file };
  }

  async open(ino: number, flags: number): Promise<OpenFile> {
    return this.openState(ino, flags, true);
  }

  private async openState(ino: number, flags: number, refresh: boolean): Promise<OpenFile> {
    const access = flags & O_ACCMODE;
    if (access !== fsc.O_RDONLY || (flags & fsc.O_TRUNC) !== 0) this.writable('open for writing');
    const state = await this.stateFor(ino, refresh);
    const file = this.files.add(state, flags);
    try {
      if ((flags & fsc.O_TRUNC) !== 0 && access !== fsc.O_RDONLY) await state.truncate(0);
    } catch (err) {
      this.files.remove(file.fh);
      throw err;
    }
    return file;
  }

  /** A copy of the bytes read that the caller owns. */
  async read(fh: number, offset: number, length: number): Promise<Buffer> {
    const l = await this.readLease(fh, offset, length);
    try {
      return Buffer.from(l.data);
    } finally {
      l.release();
    }
  }

  /** The bytes read, usually a view of the cached chunk, valid until release() (the FUSE read path). */
  async readLease(fh: number, offset: number, length: number): Promise<ChunkLease> {
    const { state, pattern } = this.files.get(fh);
    const lease = state.lease(offset, length);
    const mirror = this.readMirror;
    const cs = state.chunkSize;
    // Reads of a published chunk never come here: one at the start of the chunk after a published
    // chunk continues the stream.
    const resumes = mirror !== null && offset > 0 && offset % cs === 0 && !mirror.wants(state.ino, offset / cs - 1);
    const sequential = pattern.note(offset, length, resumes);
    // Prefetch is asked for before this read is waited for (the read's own chunk was asked for first,
    // so it goes out first): a cold sequential reader has the next chunks in flight while its first
    // chunk is still being fetched and opened.
    if (sequential && length > 0) {
      const last = Math.floor((offset + length - 1) / cs);
      this.reader.prefetch(state.committedAfter(last, this.reader.prefetchDepth));
    }
    if (mirror === null) return lease;
    return lease.then((l) => {
      const c = state.committedChunkOf(offset, length);
      if (c !== null) this.publishChunk(mirror, state, c.index, c.chunkId);
      return l;
    });
  }

  /** Publishes chunk `index` if it is still `chunkId` in the inode's current, clean state and in L1. */
  private publishChunk(mirror: ReadMirrorPort, state: FileState, index: number, chunkId: Buffer): void {
    // A state already forgotten (last close) must not publish over its successor's layout.
    if (this.states.get(state.ino) !== state || !mirror.wants(state.ino, index)) return;
    if (state.committedChunk(index)?.equals(chunkId) !== true) return;
    const chunk = this.reader.peekCached(chunkId);
    if (chunk !== null) mirror.publish(state.ino, state.generation, index, state.chunkSize, state.size, chunkId.toString('hex'), chunk);
  }

  async write(fh: number, offset: number, data: Buffer): Promise<number> {
    const file = this.files.get(fh);
    if (!file.writable) throw new KisekiError('PermissionDenied', 'file not open for writing', { errno: constants.errno.EBADF });
    this.writable('write');
    return file.state.write(offset, data, file.append);
  }

  /** close(2) of one descriptor: everything written becomes visible to other clients. */
  async flush(fh: number): Promise<void> {
    await this.files.get(fh).state.flush();
  }

  /** Data durable on all replicas and committed before return (datasync commits too: size is data). */
  async fsync(fh: number): Promise<void> {
    await this.files.get(fh).state.flush();
  }

  async release(fh: number): Promise<void> {
    const state = this.files.remove(fh);
    try {
      await state.flush();
    } finally {
      if (state.openCount === 0 && !state.isDirty) this.forgetState(state.ino);
    }
  }

  async setattr(ino: number, set: SetAttrInput): Promise<Attr> {
    this.writable('setattr');
    let attr: Attr | null = null;
    const state = this.states.get(ino);
    if (set.size !== undefined) {
      const s = state ?? (await this.stateFor(ino, false));
      attr = await s.truncate(set.size);
      if (s.openCount === 0 && !s.isDirty) this.forgetState(ino);
    } else if (state?.isDirty === true && set.mtime !== undefined) {
      // Pending data would stamp its own mtime at commit, after (and over) the one asked for now.
      await state.flush();
    }
    let valid = 0;
    if (set.mode !== undefined) valid |= SET_MODE;
    if (set.uid !== undefined) valid |= SET_UID;
    if (set.gid !== undefined) valid |= SET_GID;
    if (set.atime !== undefined) valid |= SET_ATIME;
    if (set.mtime !== undefined) valid |= SET_MTIME;
    if (valid !== 0) {
      const now = timespecOf(Date.now());
      const res = await this.deps.ns.setAttr({
        namespaceId: this.nsId, ino, valid, mode: (set.mode ?? 0) & 0o7777, uid: set.uid ?? 0, gid: set.gid ?? 0,
        atime: set.atime === 'now' ? now : set.atime, mtime: set.mtime === 'now' ? now : set.mtime, ctime: undefined,
      });
      attr = KisekiFileSystem.attrOf(res, 'setattr');
    }
    if (attr !== null) this.dentries?.changed(ino, attr);
    return this.overlay(attr ?? (await this.getattr(ino)));
  }

  /** Drops a file's content state; its committed size and mtime may differ from anything cached. */
  private forgetState(ino: number): void {
    // What the read mirror published stays: the next state of this inode keeps it only if its layout
    // has the same generation (ReadMirrorPort.layoutSeen), as the kernel keeps its pages (keep_cache).
    this.states.delete(ino);
    this.dentries?.changed(ino);
  }

  async setxattr(ino: number, name: string, value: Buffer, flags: number): Promise<void> {
    this.writable('setxattr');
    const nameKey = await this.names.xattrKey(ino, name);
    const [sealedName, sealedValue] = await Promise.all([this.names.sealXattrName(nameKey, name), this.names.sealXattrValue(ino, nameKey, value)]);
    await this.deps.ns.setXattr({ namespaceId: this.nsId, ino, nameKey, sealedName, sealedValue, flags });
    this.dentries?.changed(ino);
  }

  async getxattr(ino: number, name: string): Promise<Buffer> {
    const nameKey = await this.names.xattrKey(ino, name);
    const res = await this.deps.ns.getXattr({ namespaceId: this.nsId, ino, nameKey });
    return this.names.openXattrValue(ino, nameKey, res.sealedValue);
  }

  async listxattr(ino: number): Promise<string[]> {
    const res = await this.deps.ns.listXattr({ namespaceId: this.nsId, ino });
    return Promise.all(res.sealedNames.map((env) => this.names.openXattrName(ino, env)));
  }

  async removexattr(ino: number, name: string): Promise<void> {
    this.writable('removexattr');
    const nameKey = await this.names.xattrKey(ino, name);
    await this.deps.ns.removeXattr({ namespaceId: this.nsId, ino, nameKey });
    this.dentries?.changed(ino);
  }

  statfs(): Promise<StatFsResponse> {
    return this.deps.ns.statFs({ namespaceId: this.nsId });
  }

  /** Flushes every dirty file (unmount, signals). Returns the failures, one per file. */
  async flushAll(): Promise<Error[]> {
    const results = await Promise.allSettled([...this.states.values()].map((s) => s.flush()));
    return results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
  }

  /** Stops accepting writes, flushes everything, forgets plaintext. */
  async close(): Promise<Error[]> {
    const failures = await this.flushAll();
    this.closed = true;
    this.reader.wipe();
    return failures;
  }

  private async stateFor(ino: number, opening: boolean): Promise<FileState> {
    const existing = this.states.get(ino);
    const fresh = existing === undefined || (!existing.isDirty && (opening || this.clock() - existing.fetchedAt > this.options.metaTtlMs));
    if (!fresh) return existing;
    const layout = await this.layoutOf(ino);
    const again = this.states.get(ino);
    if (again !== undefined) {
      again.refresh(layout);
      return again;
    }
    const state = new FileState(this.io, ino, layout);
    this.states.set(ino, state);
    return state;
  }

  private async layoutOf(ino: number): Promise<Layout> {
    const layout = await this.deps.ns.getLayout({ namespaceId: this.nsId, ino });
    if (layout.chunkSize === 0) throw kerr('IsDirectory', `inode ${ino} is not a regular file`);
    return layout;
  }
}

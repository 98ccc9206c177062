// The kernel-facing adapter: FuseOperations over KisekiFileSystem. It only translates (names,
// attributes, timeouts, directory packing) and never decides filesystem semantics; errors are
// KisekiErrors whose errno the binding replies with. Each request is answered once by the binding.
import { constants as fsc } from 'node:fs';
import { constants } from 'node:os';
import { FileKind, type Attr as KAttr } from '../gen/kiseki/v1/namespace.js';
import { KisekiError, kerr } from '../errors.js';
import type { KisekiFileSystem } from '../client/filesystem.js';
import type { DentryMirror } from '../client/dentry-cache.js';
import type { WorkerAnswers } from './fuse-binding.js';
import type {
  Attr, AttrReply, CreateReply, DirEntry, Entry, FuseOperations, NegativeEntry, OpenReply, ReaddirplusResult, ReadReply,
  RequestContext, SetattrChanges, Statfs,
} from './fuse-ops.js';

/** st_blksize: tools size their buffers from it (cp uses max(128 KiB, st_blksize)); 1 MiB = max_write. */
const BLKSIZE = 1 << 20;
const O_ACCMODE = 3;
/**
 * Smallest packed directory entry (struct fuse_dirent 24 bytes + a name padded to 8), and the same
 * with the fuse_entry_out (128 bytes) of readdirplus: no reply of `size` bytes holds more entries than
 * size / this, so only those are handed to the binding (each reply would otherwise convert the whole
 * rest of the directory: quadratic in its length).
 */
const MIN_DIRENT = 32;
const MIN_DIRENT_PLUS = 160;

export interface KisekiFuseOptions {
  /** Attribute and entry timeouts given to the kernel (meta_ttl_ms / 1000; 0 = no kernel caching). */
  readonly ttlSeconds: number;
}

interface DirHandle {
  entries: Array<{ name: Buffer | string; attr: KAttr | null; ino: number }> | null;
  /** performance.now() when the listing was asked for: later replies age its attributes (I-CC5). */
  listedAt: number;
}

function typeBits(kind: FileKind): number {
  switch (kind) {
    case FileKind.FILE_KIND_DIRECTORY: return fsc.S_IFDIR;
    case FileKind.FILE_KIND_SYMLINK: return fsc.S_IFLNK;
    default: return fsc.S_IFREG;
  }
}

export function toFuseAttr(a: KAttr): Attr {
  const zero = { sec: 0, nsec: 0 };
  return {
    ino: a.ino, mode: typeBits(a.kind) | (a.mode & 0o7777), nlink: a.nlink, uid: a.uid, gid: a.gid, size: a.size,
    blocks: Math.ceil(a.size / 512), blksize: BLKSIZE,
    atime: a.atime ?? zero, mtime: a.mtime ?? zero, ctime: a.ctime ?? zero,
  };
}

/**
 * The client's dentry cache mirrored into the session's worker-thread answers: a lookup or getattr it
 * holds is answered without waking the JS thread, for what remains of its TTL (I-CC5). The worker
 * threads get the index key (to hash the names they are asked for) with the first put after the
 * mirror starts or is cleared, and only while `indexKey` gives one: after a crypto-shred the keyring
 * throws, so no key material reaches them again.
 */
export function dentryMirror(answers: WorkerAnswers, indexKey: () => Buffer): DentryMirror & { clear(): void } {
  let keyed = false;
  return {
    put(parent, entries, validMs) {
      if (validMs <= 0) return;
      if (!keyed) {
        try {
          keyed = answers.indexKey(indexKey());
        } catch {
          return;
        }
      }
      const t = validMs / 1000;
      answers.put(parent, entries.map((e) => ({
        nameKey: e.nameKey, entry: { ino: e.attr.ino, generation: 0, attr: toFuseAttr(e.attr), attrTimeout: t, entryTimeout: t },
      })));
    },
    dropName: (parent, nameKey) => answers.dropName(parent, nameKey),
    dropAttr: (ino) => answers.dropAttr(ino),
    pin: (ino, on) => answers.pin(ino, on),
    clear() {
      keyed = false;
      answers.clear();
    },
  };
}

export class KisekiFuse implements FuseOperations {
  private readonly dirs = new Map<number, DirHandle>();
  private nextDirFh = 1;
  /** Layout generation each inode had at its last open: unchanged → the kernel may keep its pages. */
  private readonly openedGeneration = new Map<number, number>();

  constructor(private readonly fs: KisekiFileSystem, private readonly options: KisekiFuseOptions) {}

  /** Inodes opened since the mount started: the ones whose pages the kernel may be caching. */
  openedInodes(): IterableIterator<number> {
    return this.openedGeneration.keys();
  }

  /** I-CC5: what the client cached for ageMs may stay in the kernel only for the rest of the TTL. */
  private timeout(ageMs: number): number {
    return Math.max(0, this.options.ttlSeconds - ageMs / 1000);
  }

  private entry(a: KAttr, ageMs = 0): Entry {
    const t = this.timeout(ageMs);
    return { ino: a.ino, generation: 0, attr: toFuseAttr(a), attrTimeout: t, entryTimeout: t };
  }

  async lookup(_ctx: RequestContext, parent: number, name: Buffer): Promise<Entry | NegativeEntry> {
    const e = await this.fs.lookupAged(parent, name);
    if (e.attr === null) return { ino: 0, entryTimeout: this.timeout(e.ageMs) };
    return this.entry(e.attr, e.ageMs);
  }

  forget(): void {
    // The core keeps no per-lookup state: inodes are the node's, file state lives with open handles.
  }

  async getattr(_ctx: RequestContext, ino: number): Promise<AttrReply> {
    const a = await this.fs.getattrAged(ino);
    return { attr: toFuseAttr(a.attr), timeout: this.timeout(a.ageMs) };
  }

  async setattr(_ctx: RequestContext, ino: number, c: SetattrChanges): Promise<AttrReply> {
    const a = await this.fs.setattr(ino, {
      ...(c.mode !== undefined ? { mode: c.mode } : {}), ...(c.uid !== undefined ? { uid: c.uid } : {}),
      ...(c.gid !== undefined ? { gid: c.gid } : {}), ...(c.size !== undefined ? { size: c.size } : {}),
      ...(c.atime !== undefined ? { atime: c.atime } : {}), ...(c.mtime !== undefined ? { mtime: c.mtime } : {}),
    });
    return { attr: toFuseAttr(a), timeout: this.options.ttlSeconds };
  }

  readlink(_ctx: RequestContext, ino: number): Promise<Buffer> {
    return this.fs.readlink(ino);
  }

  async mknod(ctx: RequestContext, parent: number, name: Buffer, mode: number, _rdev: number, umask: number): Promise<Entry> {
    if ((mode & fsc.S_IFMT) !== fsc.S_IFREG) throw new KisekiError('NotSupported', 'only regular files, directories and symlinks exist here', { errno: constants.errno.EPERM });
    const { attr, file } = await this.fs.create(parent, name, mode & ~umask, fsc.O_RDWR | fsc.O_EXCL, ctx);
    await this.fs.release(file.fh);
    return this.entry(attr);
  }

  async mkdir(ctx: RequestContext, parent: number, name: Buffer, mode: number, umask: number): Promise<Entry> {
    return this.entry(await this.fs.mkdir(parent, name, mode & ~umask, ctx));
  }

  unlink(_ctx: RequestContext, parent: number, name: Buffer): Promise<void> {
    return this.fs.unlink(parent, name);
  }

  rmdir(_ctx: RequestContext, parent: number, name: Buffer): Promise<void> {
    return this.fs.rmdir(parent, name);
  }

  async symlink(ctx: RequestContext, parent: number, name: Buffer, target: Buffer): Promise<Entry> {
    return this.entry(await this.fs.symlink(parent, name, target, ctx));
  }

  rename(_ctx: RequestContext, parent: number, name: Buffer, newParent: number, newName: Buffer, flags: number): Promise<void> {
    return this.fs.rename(parent, name, newParent, newName, flags);
  }

  async link(_ctx: RequestContext, ino: number, newParent: number, newName: Buffer): Promise<Entry> {
    return this.entry(await this.fs.link(ino, newParent, newName));
  }

  private openReply(fh: number, ino: number, generation: number, flags: number): OpenReply {
    const writable = (flags & O_ACCMODE) !== fsc.O_RDONLY;
    const keepCache = !writable && this.openedGeneration.get(ino) === generation;
    this.openedGeneration.set(ino, generation);
    // Writable opens bypass the page cache: the kernel then refuses MAP_SHARED mmap of them (ENODEV,
    // ADR 0082), which is how writable shared mmap is kept out; read-only mmap keeps working.
    return { fh, directIo: writable, keepCache };
  }

  async open(_ctx: RequestContext, ino: number, flags: number): Promise<OpenReply> {
    const file = await this.fs.open(ino, flags);
    return this.openReply(file.fh, ino, file.state.generation, flags);
  }

  async create(ctx: RequestContext, parent: number, name: Buffer, mode: number, flags: number, umask: number): Promise<CreateReply> {
    const { attr, file } = await this.fs.create(parent, name, mode & ~umask, flags, ctx);
    return { ...this.openReply(file.fh, attr.ino, file.state.generation, flags), entry: this.entry(attr) };
  }

  // A lease of the cached chunk: the binding sends the view and releases it once the kernel has the bytes.
  read(_ctx: RequestContext, _ino: number, fh: number, size: number, offset: number): Promise<ReadReply> {
    return this.fs.readLease(fh, offset, size);
  }

  write(_ctx: RequestContext, _ino: number, fh: number, data: Buffer, offset: number): Promise<number> {
    return this.fs.write(fh, offset, data);
  }

  flush(_ctx: RequestContext, _ino: number, fh: number): Promise<void> {
    return this.fs.flush(fh);
  }

  release(_ctx: RequestContext, _ino: number, fh: number): Promise<void> {
    return this.fs.release(fh);
  }

  fsync(_ctx: RequestContext, _ino: number, fh: number): Promise<void> {
    return this.fs.fsync(fh);
  }

  opendir(): OpenReply {
    const fh = this.nextDirFh++;
    this.dirs.set(fh, { entries: null, listedAt: 0 });
    return { fh };
  }

  /** The directory listing, read once per opendir (offset 0) and served by index afterwards. */
  private async listing(ino: number, fh: number, offset: number): Promise<NonNullable<DirHandle['entries']>> {
    const h = this.dirs.get(fh);
    if (h === undefined) throw kerr('InvalidArgument', `no open directory with handle ${fh}`);
    if (h.entries === null || offset === 0) {
      const { entries: list, ageMs } = await this.fs.readdirAged(ino);
      h.listedAt = performance.now() - ageMs;
      h.entries = [
        { name: '.', attr: null, ino },
        { name: '..', attr: null, ino: 1 },
        ...list.map((e) => ({ name: e.name, attr: e.attr, ino: e.attr.ino })),
      ];
    }
    return h.entries;
  }

  async readdir(_ctx: RequestContext, ino: number, fh: number, size: number, offset: number): Promise<DirEntry[]> {
    const list = await this.listing(ino, fh, offset);
    return list.slice(offset, offset + Math.ceil(size / MIN_DIRENT)).map((e, i) => ({
      name: e.name, ino: e.ino, mode: e.attr === null ? fsc.S_IFDIR : typeBits(e.attr.kind), off: offset + i + 1,
    }));
  }

  async readdirplus(_ctx: RequestContext, ino: number, fh: number, size: number, offset: number): Promise<ReaddirplusResult> {
    const list = await this.listing(ino, fh, offset);
    const ageMs = performance.now() - (this.dirs.get(fh)?.listedAt ?? 0);
    return {
      entries: list.slice(offset, offset + Math.ceil(size / MIN_DIRENT_PLUS)).map((e, i) => ({
        name: e.name, off: offset + i + 1,
        entry: e.attr === null ? { ino: 0, entryTimeout: 0 } : this.entry(e.attr, ageMs),
      })),
    };
  }

  releasedir(_ctx: RequestContext, _ino: number, fh: number): void {
    this.dirs.delete(fh);
  }

  fsyncdir(): void {
    // Namespace changes are committed on the node before each operation returns.
  }

  async statfs(): Promise<Statfs> {
    const s = await this.fs.statfs();
    const bsize = s.blockSize || 4096;
    return {
      bsize, frsize: bsize, blocks: Math.floor(s.totalBytes / bsize), bfree: Math.floor(s.freeBytes / bsize),
      bavail: Math.floor(s.availableBytes / bsize), files: s.totalInodes, ffree: s.freeInodes, favail: s.freeInodes,
      namemax: s.maxNameLength || 255,
    };
  }

  setxattr(_ctx: RequestContext, ino: number, name: string, value: Buffer, flags: number): Promise<void> {
    return this.fs.setxattr(ino, name, value, flags);
  }

  getxattr(_ctx: RequestContext, ino: number, name: string): Promise<Uint8Array> {
    return this.fs.getxattr(ino, name);
  }

  listxattr(_ctx: RequestContext, ino: number): Promise<string[]> {
    return this.fs.listxattr(ino);
  }

  removexattr(_ctx: RequestContext, ino: number, name: string): Promise<void> {
    return this.fs.removexattr(ino, name);
  }

  fallocate(): void {
    throw kerr('NotSupported', 'fallocate is not supported; write the data instead');
  }
}

// The one interface between the kernel-facing binding (fuse-binding.ts) and a filesystem (D7).
// A filesystem implements FuseOperations; every method may return a value or a promise of one. Throw a
// KisekiError (src/errors.ts) to answer with its errno; anything else thrown answers EIO. A method left
// undefined answers ENOSYS, except open/opendir (succeed with fh 0), release/releasedir (succeed) and the
// notifications init, forget and destroy (nothing to answer; destroy runs when unmount() completes). Inode numbers, sizes and file handles are JS numbers (exact below 2^53).

export interface RequestContext {
  readonly uid: number;
  readonly gid: number;
  readonly pid: number;
  /** Aborted when the kernel interrupts the request (the caller got a signal); reason carries EINTR. */
  readonly signal: AbortSignal;
}

export interface Timespec {
  sec: number;
  nsec: number;
}

export interface Attr {
  ino: number;
  /** File type and permission bits (S_IFREG | 0o644, ...). */
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  size: number;
  rdev?: number;
  /** 512-byte blocks; defaults to ceil(size / 512). */
  blocks?: number;
  blksize?: number;
  atime: Timespec;
  mtime: Timespec;
  ctime: Timespec;
}

/** A positive lookup answer. Every one the kernel receives counts one lookup until forget. */
export interface Entry {
  ino: number;
  generation?: number;
  attr: Attr;
  /** Seconds the kernel may cache attr / the name → ino binding. 0 disables caching. */
  attrTimeout: number;
  entryTimeout: number;
}

/** "No such entry", cached by the kernel for entryTimeout seconds (lookup only). */
export interface NegativeEntry {
  ino: 0;
  entryTimeout: number;
}

export interface AttrReply {
  attr: Attr;
  timeout: number;
}

export interface OpenReply {
  fh: number;
  directIo?: boolean;
  keepCache?: boolean;
  nonSeekable?: boolean;
  cacheReaddir?: boolean;
  noFlush?: boolean;
}

export interface CreateReply extends OpenReply {
  entry: Entry;
}

/** setattr: only the fields present are to change. UTIME_NOW is already resolved to the current time. */
export interface SetattrChanges {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  atime?: Timespec;
  mtime?: Timespec;
  ctime?: Timespec;
  /** Set when the change comes through an open file (ftruncate, fchmod...). */
  fh?: number;
}

/** readdir entry; `off` is the cookie the kernel passes back to continue after this entry. */
export interface DirEntry {
  name: Buffer | string;
  ino: number;
  /** Only the file-type bits are used. */
  mode: number;
  off: number;
}

export interface DirEntryPlus {
  name: Buffer | string;
  off: number;
  entry: Entry | NegativeEntry;
}

export interface ReaddirplusResult {
  entries: DirEntryPlus[];
  /**
   * Called after the reply with how many entries (from the start) fit into the kernel's buffer. The kernel
   * counts one lookup for each packed entry with ino != 0 other than "." and ".."; entries after `count`
   * were not sent, so the filesystem must not count them.
   */
  packed?(count: number): void;
}

/**
 * A read result the binding may send from a reply thread, so the kernel's copy of large replies runs in
 * parallel instead of on the JS thread. `data` must stay unchanged (not recycled, zeroed or written)
 * until `release` is called; release is called exactly once, also when the reply was refused.
 */
export interface ReadReply {
  data: Uint8Array;
  release?(): void;
}

export interface Statfs {
  bsize: number;
  frsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  favail: number;
  namemax: number;
}

/** What INIT negotiated (FuseSession.negotiated). */
export interface ConnectionInfo {
  protoMajor: number;
  protoMinor: number;
  /** FUSE_CAP_* bit sets (FuseCap). */
  capable: number;
  want: number;
  maxWrite: number;
  maxRead: number;
  maxReadahead: number;
  maxBackground: number;
  congestionThreshold: number;
  devMajor: number;
  devMinor: number;
  /** The bdi read_ahead_kb actually in force, when the binding could set it (root only); else null. */
  readaheadKb: number | null;
}

type R<T> = T | Promise<T>;

/**
 * Entry names and symlink targets are bytes as the kernel passed them (Buffers), never decoded: a name
 * that is not valid UTF-8 must come back byte for byte in readdir and lookups. Names returned by
 * readdir may be Buffers (sent as they are) or strings (sent as UTF-8).
 */
export interface FuseOperations {
  init?(conn: ConnectionInfo): void;
  destroy?(): R<void>;
  lookup?(ctx: RequestContext, parent: number, name: Buffer): R<Entry | NegativeEntry>;
  /** The kernel dropped `nlookup` lookups of `ino` (already answered; batches arrive as several calls). */
  forget?(ino: number, nlookup: number): void;
  getattr?(ctx: RequestContext, ino: number, fh: number | undefined): R<AttrReply>;
  setattr?(ctx: RequestContext, ino: number, changes: SetattrChanges): R<AttrReply>;
  readlink?(ctx: RequestContext, ino: number): R<Buffer | string>;
  mknod?(ctx: RequestContext, parent: number, name: Buffer, mode: number, rdev: number, umask: number): R<Entry>;
  mkdir?(ctx: RequestContext, parent: number, name: Buffer, mode: number, umask: number): R<Entry>;
  unlink?(ctx: RequestContext, parent: number, name: Buffer): R<void>;
  rmdir?(ctx: RequestContext, parent: number, name: Buffer): R<void>;
  symlink?(ctx: RequestContext, parent: number, name: Buffer, target: Buffer): R<Entry>;
  /** flags: RENAME_NOREPLACE (1) / RENAME_EXCHANGE (2) from renameat2. */
  rename?(ctx: RequestContext, parent: number, name: Buffer, newParent: number, newName: Buffer, flags: number): R<void>;
  link?(ctx: RequestContext, ino: number, newParent: number, newName: Buffer): R<Entry>;
  open?(ctx: RequestContext, ino: number, flags: number): R<OpenReply>;
  /**
   * Return at most `size` bytes; fewer means end of file. A subarray of a larger buffer is sent without a
   * copy. A plain Uint8Array is sent before read's reply returns; a ReadReply may be sent later from a
   * reply thread (mount option replyThreads), with `release` called once the kernel has the bytes.
   */
  read?(ctx: RequestContext, ino: number, fh: number, size: number, offset: number): R<Uint8Array | ReadReply>;
  /** `data` is owned by the callee (one copy from the kernel buffer was made). Return the bytes written. */
  write?(ctx: RequestContext, ino: number, fh: number, data: Buffer, offset: number, flags: number): R<number>;
  flush?(ctx: RequestContext, ino: number, fh: number): R<void>;
  release?(ctx: RequestContext, ino: number, fh: number, flags: number): R<void>;
  fsync?(ctx: RequestContext, ino: number, fh: number, datasync: boolean): R<void>;
  opendir?(ctx: RequestContext, ino: number, flags: number): R<OpenReply>;
  /**
   * Entries after cookie `offset`; the binding packs as many as fit in `size` bytes (a plain entry takes
   * 24 bytes + the name rounded up to 8, a readdirplus entry 128 more). Offer about what fits, not the
   * whole directory: every entry offered is converted even if it does not fit.
   */
  readdir?(ctx: RequestContext, ino: number, fh: number, size: number, offset: number): R<DirEntry[]>;
  readdirplus?(ctx: RequestContext, ino: number, fh: number, size: number, offset: number): R<ReaddirplusResult>;
  releasedir?(ctx: RequestContext, ino: number, fh: number): R<void>;
  fsyncdir?(ctx: RequestContext, ino: number, fh: number, datasync: boolean): R<void>;
  statfs?(ctx: RequestContext, ino: number): R<Statfs>;
  /** flags: XATTR_CREATE (1) / XATTR_REPLACE (2). */
  setxattr?(ctx: RequestContext, ino: number, name: string, value: Buffer, flags: number): R<void>;
  /** The whole value; the binding answers size probes and ERANGE itself. Throw NoData when absent. */
  getxattr?(ctx: RequestContext, ino: number, name: string): R<Uint8Array>;
  listxattr?(ctx: RequestContext, ino: number): R<string[]>;
  removexattr?(ctx: RequestContext, ino: number, name: string): R<void>;
  access?(ctx: RequestContext, ino: number, mask: number): R<void>;
  create?(ctx: RequestContext, parent: number, name: Buffer, mode: number, flags: number, umask: number): R<CreateReply>;
  /** May throw NotSupported (EOPNOTSUPP) for modes it does not implement. */
  fallocate?(ctx: RequestContext, ino: number, fh: number, mode: number, offset: number, length: number): R<void>;
}

/** FUSE_CAP_* bits as libfuse3 numbers them (ConnectionInfo.capable / want). */
export const FuseCap = {
  ASYNC_READ: 1 << 0,
  POSIX_LOCKS: 1 << 1,
  ATOMIC_O_TRUNC: 1 << 3,
  EXPORT_SUPPORT: 1 << 4,
  DONT_MASK: 1 << 6,
  SPLICE_WRITE: 1 << 7,
  SPLICE_MOVE: 1 << 8,
  SPLICE_READ: 1 << 9,
  FLOCK_LOCKS: 1 << 10,
  IOCTL_DIR: 1 << 11,
  AUTO_INVAL_DATA: 1 << 12,
  READDIRPLUS: 1 << 13,
  READDIRPLUS_AUTO: 1 << 14,
  ASYNC_DIO: 1 << 15,
  WRITEBACK_CACHE: 1 << 16,
  PARALLEL_DIROPS: 1 << 18,
  POSIX_ACL: 1 << 19,
  HANDLE_KILLPRIV: 1 << 20,
} as const;

export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;

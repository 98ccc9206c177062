// Typed wrapper of loadNative().fuse (native/fuse): mount a FuseOperations implementation and answer every
// kernel request exactly once.
//
//   mounting ──INIT──▶ mounted ──unmount()──▶ unmounting ──loop joined──▶ unmounted
//        └──────────── mount failed / INIT timeout ──────────────────────────┘
//
// Requests reach dispatch() on the JS thread as positional arguments (layout in native/fuse/dispatch.cc).
// Replies are fuse_reply_* called from here; the request id is taken out of the native request table by
// the reply, so a second reply is refused natively and counted here (I-FB1).
import { promises as fsp } from 'node:fs';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import { errnoOf, kerr, KisekiError } from '../errors.js';
import { loadNative } from '../util/native.js';
import type {
  Attr, ConnectionInfo, DirEntry, Entry, FuseOperations, NegativeEntry, OpenReply, ReaddirplusResult, ReadReply,
  RequestContext, SetattrChanges, Statfs, Timespec,
} from './fuse-ops.js';
import { resolveMountOptions, type MountOptions } from './mount-options.js';
import { readAheadFileOf } from './read-ahead.js';

const E = osConstants.errno;
/** Read replies at least this large go to the reply threads when the filesystem returns a ReadReply. */
const ASYNC_REPLY_MIN = 64 * 1024;

/** Mirrors enum OpType in native/fuse/op.h. */
export const enum OpCode {
  INIT = 0, DESTROY = 1, LOOKUP = 2, FORGET = 3, GETATTR = 4, SETATTR = 5, READLINK = 6, MKNOD = 7, MKDIR = 8,
  UNLINK = 9, RMDIR = 10, SYMLINK = 11, RENAME = 12, LINK = 13, OPEN = 14, READ = 15, WRITE = 16, FLUSH = 17,
  RELEASE = 18, FSYNC = 19, OPENDIR = 20, READDIR = 21, READDIRPLUS = 22, RELEASEDIR = 23, FSYNCDIR = 24,
  STATFS = 25, SETXATTR = 26, GETXATTR = 27, LISTXATTR = 28, REMOVEXATTR = 29, ACCESS = 30, CREATE = 31,
  FALLOCATE = 32, INTERRUPT = 33,
}

/** Mirrors native/fuse/attr-layout.h. */
const enum Slot {
  INO = 0, MODE, NLINK, UID, GID, RDEV, SIZE, BLOCKS, BLKSIZE, ATIME_SEC, ATIME_NSEC, MTIME_SEC, MTIME_NSEC,
  CTIME_SEC, CTIME_NSEC, GENERATION, ATTR_TIMEOUT, ENTRY_TIMEOUT, DIR_OFF, STRIDE,
}
const OPEN_DIRECT_IO = 1, OPEN_KEEP_CACHE = 2, OPEN_NONSEEKABLE = 4, OPEN_CACHE_READDIR = 8, OPEN_NOFLUSH = 16;

// libfuse FUSE_SET_ATTR_* bits.
const SET_MODE = 1 << 0, SET_UID = 1 << 1, SET_GID = 1 << 2, SET_SIZE = 1 << 3, SET_ATIME = 1 << 4,
  SET_MTIME = 1 << 5, SET_ATIME_NOW = 1 << 7, SET_MTIME_NOW = 1 << 8, SET_CTIME = 1 << 10;

type Handle = object & { readonly __fuseSession: unique symbol };
type Dispatch = (type: number, id: number, ino: number, uid: number, gid: number, pid: number, interrupted: boolean,
  ...args: unknown[]) => void;

interface NativeFuse {
  mount(mountpoint: string, options: string[], config: object, dispatch: Dispatch): Handle;
  unmount(h: Handle): number;
  negotiated(h: Handle): Omit<ConnectionInfo, 'readaheadKb'> | null;
  inFlight(h: Handle): number;
  replyBufAsync(h: Handle, id: number, data: Uint8Array, token: number): boolean;
  notifyInvalInode(h: Handle, ino: number, off: number, len: number): void;
  notifyInvalEntry(h: Handle, parent: number, name: Buffer | string): void;
  cachePut(h: Handle, parent: number, nameKeys: Array<Buffer | null>, entries: Float64Array): void;
  cacheDrop(h: Handle, kind: number, ino: number, nameKey?: Buffer): void;
  cacheIndexKey(h: Handle, key: Buffer): boolean;
  cacheStats(h: Handle): WorkerAnswerStats;
  readPut(h: Handle, ino: number, index: number, chunkSize: number, fileSize: number, chunk: Uint8Array): void;
  readDrop(h: Handle, kind: number, ino: number, index: number): void;
  readHits(h: Handle): Float64Array;
  readStats(h: Handle): WorkerReadStats;
  replyErr(id: number, errno: number): boolean;
  replyEntry(id: number, attr: Float64Array): boolean;
  replyCreate(id: number, attr: Float64Array, fh: number, openBits: number): boolean;
  replyAttr(id: number, attr: Float64Array): boolean;
  replyOpen(id: number, fh: number, openBits: number): boolean;
  replyBuf(id: number, data: Uint8Array | undefined): boolean;
  replyWrite(id: number, count: number): boolean;
  replyStatfs(id: number, statfs: Float64Array): boolean;
  replyXattr(id: number, size: number): boolean;
  replyReadlink(id: number, target: Buffer | string): boolean;
  replyDir(id: number, size: number, plus: boolean, names: Array<Buffer | string>, entries: Float64Array): number;
}

let nativeFuse: NativeFuse | null = null;
/** The addon's fuse namespace, typed. Exported for the binding's own tests. */
export function fuseNative(): NativeFuse {
  if (nativeFuse === null) nativeFuse = loadNative().fuse as unknown as NativeFuse;
  return nativeFuse;
}

/** Lookups and getattrs answered on the worker threads from the answer cache (FuseSession.answers). */
export interface WorkerAnswerStats {
  hits: number;
  misses: number;
  names: number;
  attrs: number;
  /** Of the hits, LOOKUPs: a name hashed on a worker thread and found. */
  nameHits: number;
}

/**
 * Answers the worker threads give themselves, without the filesystem: (parent, name key) → entry and
 * ino → attributes, each only for the timeout it was put with (counted from the put). The filesystem
 * must drop what its own changes make wrong before answering them. Names are kept by name key, the
 * HMAC of (parent, name) under the index key (src/crypto/metadata-seal.ts): a worker thread hashes
 * the name of each LOOKUP itself, once it was given the key.
 */
export interface WorkerAnswers {
  /** The index key the worker threads hash names with; false if it could not be taken (no LOOKUP answered). */
  indexKey(key: Buffer): boolean;
  /** Entries with nameKey null store their attributes alone (getattr). */
  put(parent: number, entries: ReadonlyArray<{ nameKey: Buffer | null; entry: Entry }>): void;
  /** (parent, name key) is gone or replaced: the name, parent's attributes and the named inode's (all, if unknown). */
  dropName(parent: number, nameKey: Buffer): void;
  dropAttr(ino: number): void;
  /** A pinned inode's attributes are never stored or answered (the filesystem answers those itself). */
  pin(ino: number, on: boolean): void;
  /** Everything goes, the index key too. */
  clear(): void;
  stats(): WorkerAnswerStats;
}

/** Reads answered on the worker threads from published chunks (FuseSession.reads). */
export interface WorkerReadStats {
  hits: number;
  misses: number;
  entries: number;
}

/**
 * Reads the worker threads answer themselves: bytes of chunk `index` of `ino`, for as long as it stays
 * published. The caller keeps `chunk` alive and unchanged until a drop covering it has returned; drops
 * return only once no reply still copies from what they dropped.
 */
export interface WorkerReads {
  /** False, and nothing published, when the session is not mounted. */
  put(ino: number, index: number, chunkSize: number, fileSize: number, chunk: Uint8Array): boolean;
  dropInode(ino: number): void;
  dropChunk(ino: number, index: number): void;
  /** (ino, index, hits) triples of the chunks answered since the last call. */
  takeHits(): Float64Array;
  stats(): WorkerReadStats;
}

const DROP_NAME = 0, DROP_ATTR = 1, PIN = 2, UNPIN = 3, CLEAR = 4;
const READS_INODE = 0, READS_CHUNK = 1;

export type SessionState = 'mounting' | 'mounted' | 'unmounting' | 'unmounted';

export interface SessionStats {
  requests: number;
  /** Replies refused because the request was already answered (late or double reply). */
  refusedReplies: number;
  /** Requests answered EIO by unmount because their handler had not replied. */
  abandoned: number;
  interrupts: number;
  /** Read replies sent by the reply threads (mount option replyThreads). */
  asyncReplies: number;
}

export type FuseLog = (msg: string) => void;

const interruptedError = (): KisekiError =>
  new KisekiError('Unavailable', 'the calling process was interrupted by a signal; request abandoned', { errno: E.EINTR });

/** I-FB4: a kernel INTERRUPT for a request aborts its ctx.signal (with EINTR), even if it came first. */
class Ctx implements RequestContext {
  private ctl: AbortController | null = null;
  constructor(readonly uid: number, readonly gid: number, readonly pid: number, public interrupted: boolean) {}
  // Created on first use: most handlers never look at the signal and should not pay for a controller.
  get signal(): AbortSignal {
    if (this.ctl === null) {
      this.ctl = new AbortController();
      if (this.interrupted) this.ctl.abort(interruptedError());
    }
    return this.ctl.signal;
  }
  interrupt(): void {
    this.interrupted = true;
    this.ctl?.abort(interruptedError());
  }
}

function isThenable<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

const now = (): Timespec => {
  const ms = Date.now();
  return { sec: Math.floor(ms / 1000), nsec: (ms % 1000) * 1e6 };
};

function packAttr(out: Float64Array, base: number, a: Attr): void {
  out[base + Slot.INO] = a.ino;
  out[base + Slot.MODE] = a.mode;
  out[base + Slot.NLINK] = a.nlink;
  out[base + Slot.UID] = a.uid;
  out[base + Slot.GID] = a.gid;
  out[base + Slot.RDEV] = a.rdev ?? 0;
  out[base + Slot.SIZE] = a.size;
  out[base + Slot.BLOCKS] = a.blocks ?? Math.ceil(a.size / 512);
  out[base + Slot.BLKSIZE] = a.blksize ?? 4096;
  out[base + Slot.ATIME_SEC] = a.atime.sec;
  out[base + Slot.ATIME_NSEC] = a.atime.nsec;
  out[base + Slot.MTIME_SEC] = a.mtime.sec;
  out[base + Slot.MTIME_NSEC] = a.mtime.nsec;
  out[base + Slot.CTIME_SEC] = a.ctime.sec;
  out[base + Slot.CTIME_NSEC] = a.ctime.nsec;
}

function packEntry(out: Float64Array, base: number, e: Entry | NegativeEntry): void {
  if (e.ino === 0) {
    out.fill(0, base, base + Slot.DIR_OFF);
    out[base + Slot.ENTRY_TIMEOUT] = e.entryTimeout;
    return;
  }
  const full = e as Entry;
  if (full.attr === undefined || full.attr.ino !== full.ino) {
    throw kerr('Internal', `entry for ino ${full.ino} needs attr with the same ino`);
  }
  packAttr(out, base, full.attr);
  out[base + Slot.GENERATION] = full.generation ?? 0;
  out[base + Slot.ATTR_TIMEOUT] = full.attrTimeout;
  out[base + Slot.ENTRY_TIMEOUT] = full.entryTimeout;
}

function openBits(r: OpenReply): number {
  return (r.directIo ? OPEN_DIRECT_IO : 0) | (r.keepCache ? OPEN_KEEP_CACHE : 0) |
    (r.nonSeekable ? OPEN_NONSEEKABLE : 0) | (r.cacheReaddir ? OPEN_CACHE_READDIR : 0) | (r.noFlush ? OPEN_NOFLUSH : 0);
}

export class FuseSession {
  private state_: SessionState = 'mounting';
  private handle: Handle | null = null;
  private readonly pending = new Map<number, Ctx>();
  private readonly scratch = new Float64Array(Slot.STRIDE);
  private negotiated_: ConnectionInfo | null = null;
  private initWaiter: ((info: ConnectionInfo) => void) | null = null;
  private unmounting: Promise<void> | null = null;
  private drainWaiter: (() => void) | null = null;
  private readonly signalHandlers: Array<[NodeJS.Signals, () => void]> = [];
  /** ReadReply releases waiting for their reply thread to send (token → release). */
  private readonly releases = new Map<number, (() => void) | undefined>();
  private nextToken = 1;
  private replyThreads = 0;
  readonly stats: SessionStats = { requests: 0, refusedReplies: 0, abandoned: 0, interrupts: 0, asyncReplies: 0 };

  /** @internal use mount() */
  constructor(
    readonly mountpoint: string,
    private readonly ops: FuseOperations,
    private readonly options: MountOptions,
    private readonly log: FuseLog,
  ) {}

  get state(): SessionState {
    return this.state_;
  }

  /** What INIT negotiated; set once mount() has resolved. */
  get negotiated(): ConnectionInfo {
    if (this.negotiated_ === null) throw kerr('InvalidArgument', 'the session has not completed INIT yet');
    return this.negotiated_;
  }

  /** Requests handed to the filesystem and not answered yet. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Drop the kernel's cached data (and attributes) of `ino`; off/len 0/0 = whole file; off -1 = attributes only. */
  invalidateInode(ino: number, off = 0, len = 0): void {
    if (this.state_ !== 'mounted' || this.handle === null) return;
    fuseNative().notifyInvalInode(this.handle, ino, off, len);
  }

  /** Drop the kernel's cached name → inode binding `name` in `parent`. */
  invalidateEntry(parent: number, name: Buffer | string): void {
    if (this.state_ !== 'mounted' || this.handle === null) return;
    fuseNative().notifyInvalEntry(this.handle, parent, name);
  }

  /** The worker threads' own answers for this session (no-ops once it is not mounted). */
  readonly answers: WorkerAnswers = {
    indexKey: (key) => this.handle !== null && this.state_ === 'mounted' && fuseNative().cacheIndexKey(this.handle, key),
    put: (parent, entries) => {
      if (this.handle === null || this.state_ !== 'mounted' || entries.length === 0) return;
      const packed = new Float64Array(entries.length * Slot.STRIDE);
      const keys = entries.map((e, i) => {
        packEntry(packed, i * Slot.STRIDE, e.entry);
        return e.nameKey;
      });
      fuseNative().cachePut(this.handle, parent, keys, packed);
    },
    dropName: (parent, nameKey) => this.drop(DROP_NAME, parent, nameKey),
    dropAttr: (ino) => this.drop(DROP_ATTR, ino),
    pin: (ino, on) => this.drop(on ? PIN : UNPIN, ino),
    clear: () => this.drop(CLEAR, 0),
    stats: () => (this.handle === null ? { hits: 0, misses: 0, names: 0, attrs: 0, nameHits: 0 } : fuseNative().cacheStats(this.handle)),
  };

  /** The worker threads' own read answers (put is refused once the session is not mounted). */
  readonly reads: WorkerReads = {
    put: (ino, index, chunkSize, fileSize, chunk) => {
      if (this.handle === null || this.state_ !== 'mounted') return false;
      fuseNative().readPut(this.handle, ino, index, chunkSize, fileSize, chunk);
      return true;
    },
    dropInode: (ino) => this.dropReads(READS_INODE, ino, 0),
    dropChunk: (ino, index) => this.dropReads(READS_CHUNK, ino, index),
    takeHits: () => (this.handle === null ? new Float64Array(0) : fuseNative().readHits(this.handle)),
    stats: () => (this.handle === null ? { hits: 0, misses: 0, entries: 0 } : fuseNative().readStats(this.handle)),
  };

  private dropReads(kind: number, ino: number, index: number): void {
    if (this.handle !== null) fuseNative().readDrop(this.handle, kind, ino, index);
  }

  private drop(kind: number, ino: number, nameKey?: Buffer): void {
    if (this.handle !== null) fuseNative().cacheDrop(this.handle, kind, ino, nameKey);
  }

  /** @internal */
  start(): Promise<ConnectionInfo> {
    const { kernelOptions, config } = resolveMountOptions(this.options);
    const init = new Promise<ConnectionInfo>((resolve) => { this.initWaiter = resolve; });
    this.replyThreads = config.replyThreads;
    try {
      this.handle = fuseNative().mount(this.mountpoint, kernelOptions, { ...config, onReplied: this.onReplied },
        this.dispatch);
    } catch (err) {
      this.transition(['mounting'], 'unmounted');
      throw kerr('InvalidArgument', `cannot mount ${this.mountpoint}: ${(err as Error).message}`, err);
    }
    if (this.options.unmountOnSignals === true) this.installSignalHandlers();
    return init;
  }

  /** @internal */
  async afterInit(info: ConnectionInfo): Promise<void> {
    if (this.options.readaheadKb !== undefined) {
      // The kernel caps read-ahead at the bdi's read_ahead_kb (128 by default) whatever INIT said.
      const file = readAheadFileOf(info.devMajor, info.devMinor);
      try {
        await fsp.writeFile(file, `${this.options.readaheadKb}\n`);
        info.readaheadKb = parseInt(await fsp.readFile(file, 'utf8'), 10);
      } catch (err) {
        this.log(`read_ahead_kb not set (${(err as Error).message}); the kernel default applies`);
      }
    }
    this.negotiated_ = info;
    if (this.transition(['mounting'], 'mounted')) this.ops.init?.(info);
  }

  /**
   * Waits up to unmountGraceMs for in-flight requests, answers the rest EIO, unmounts, joins the loop and
   * destroys the session. Idempotent: every call returns the same promise.
   */
  unmount(): Promise<void> {
    if (this.unmounting === null) this.unmounting = this.doUnmount();
    return this.unmounting;
  }

  private async doUnmount(): Promise<void> {
    if (this.handle === null) {
      this.transition(['mounting'], 'unmounted');
      return;
    }
    this.transition(['mounting', 'mounted'], 'unmounting');
    const grace = this.options.unmountGraceMs ?? 5000;
    if (this.pending.size > 0 && grace > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, grace);
        this.drainWaiter = () => { clearTimeout(timer); resolve(); };
      });
      this.drainWaiter = null;
    }
    this.stats.abandoned += fuseNative().unmount(this.handle);
    // Releases of replies still queued at unmount arrive through onReplied before the TSFN closes; any
    // left (process teardown) are called here so that no buffer stays pinned.
    for (const token of [...this.releases.keys()]) this.onReplied(token);
    for (const ctx of this.pending.values()) ctx.interrupt();
    this.pending.clear();
    this.transition(['unmounting'], 'unmounted');
    this.removeSignalHandlers();
    try {
      await this.ops.destroy?.();
    } catch (err) {
      this.log(`destroy failed: ${(err as Error).message}`);
    }
  }

  private readonly onReplied = (token: number): void => {
    if (!this.releases.has(token)) return;
    const release = this.releases.get(token);
    this.releases.delete(token);
    try {
      release?.();
    } catch (err) {
      this.log(`read release threw: ${(err as Error).message}`);
    }
  };

  private replyRead(id: number, size: number, r: Uint8Array | ReadReply): boolean {
    if (r instanceof Uint8Array) {
      if (r.length > size) throw kerr('Internal', `read returned ${r.length} bytes for a ${size}-byte request`);
      return fuseNative().replyBuf(id, r);
    }
    const { data, release } = r;
    if (!(data instanceof Uint8Array) || data.length > size) {
      release?.();
      throw kerr('Internal', `read returned ${String(data?.length)} bytes for a ${size}-byte request`);
    }
    if (data.length < ASYNC_REPLY_MIN || this.replyThreads === 0) {
      try {
        return fuseNative().replyBuf(id, data);
      } finally {
        release?.();
      }
    }
    const token = this.nextToken++;
    this.releases.set(token, release);
    const ok = fuseNative().replyBufAsync(this.handle!, id, data, token);
    if (ok) this.stats.asyncReplies++;
    else this.onReplied(token);
    return ok;
  }

  /** The only place the state changes; a transition from a state not in `from` is refused. */
  private transition(from: SessionState[], to: SessionState): boolean {
    if (!from.includes(this.state_)) return false;
    this.state_ = to;
    return true;
  }

  private installSignalHandlers(): void {
    for (const sig of ['SIGINT', 'SIGTERM'] as NodeJS.Signals[]) {
      const handler = (): void => {
        this.unmount().then(
          () => { if (process.listenerCount(sig) === 0) process.kill(process.pid, sig); },
          (err: unknown) => { this.log(`unmount on ${sig} failed: ${(err as Error).message}`); process.exit(1); },
        );
        this.removeSignalHandlers();
      };
      process.on(sig, handler);
      this.signalHandlers.push([sig, handler]);
    }
  }

  private removeSignalHandlers(): void {
    for (const [sig, h] of this.signalHandlers) process.removeListener(sig, h);
    this.signalHandlers.length = 0;
  }

  // ---- replies ---------------------------------------------------------------------------------------

  private settle(id: number, ok: boolean): void {
    this.pending.delete(id);
    if (!ok) {
      this.stats.refusedReplies++;
      if (this.state_ === 'mounted') this.log(`reply to request ${id} refused: it was already answered`);
    }
    if (this.pending.size === 0 && this.drainWaiter !== null) this.drainWaiter();
  }

  private fail(id: number, err: unknown): void {
    const errno = errnoOf(err);
    if (errno === E.EIO && !KisekiError.is(err)) this.log(`request ${id} failed: ${(err as Error)?.stack ?? String(err)}`);
    this.settle(id, fuseNative().replyErr(id, errno));
  }

  /** Run a handler and reply exactly once, whether it returns, resolves, throws or rejects (I-FB1). */
  private run<T>(id: number, call: () => T | Promise<T>, reply: (v: T) => boolean): void {
    const done = (v: T): void => {
      let ok: boolean;
      try {
        ok = reply(v);
      } catch (err) {
        this.fail(id, err);
        return;
      }
      this.settle(id, ok);
    };
    let result: T | Promise<T>;
    try {
      result = call();
    } catch (err) {
      this.fail(id, err);
      return;
    }
    if (isThenable(result)) result.then(done, (err: unknown) => this.fail(id, err));
    else done(result);
  }

  private enosys(id: number): void {
    this.settle(id, fuseNative().replyErr(id, E.ENOSYS));
  }

  private replyEntry(id: number, e: Entry | NegativeEntry): boolean {
    packEntry(this.scratch, 0, e);
    return fuseNative().replyEntry(id, this.scratch);
  }

  private replyAttr(id: number, r: { attr: Attr; timeout: number }): boolean {
    packAttr(this.scratch, 0, r.attr);
    this.scratch[Slot.ATTR_TIMEOUT] = r.timeout;
    return fuseNative().replyAttr(id, this.scratch);
  }

  private replyDir(id: number, size: number, entries: DirEntry[]): boolean {
    const names = new Array<Buffer | string>(entries.length);
    const packed = new Float64Array(entries.length * Slot.STRIDE);
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      names[i] = e.name;
      packed[i * Slot.STRIDE + Slot.INO] = e.ino;
      packed[i * Slot.STRIDE + Slot.MODE] = e.mode;
      packed[i * Slot.STRIDE + Slot.DIR_OFF] = e.off;
    }
    return fuseNative().replyDir(id, size, false, names, packed) >= 0;
  }

  private replyDirPlus(id: number, size: number, r: ReaddirplusResult): boolean {
    const { entries } = r;
    const names = new Array<Buffer | string>(entries.length);
    const packed = new Float64Array(entries.length * Slot.STRIDE);
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      names[i] = e.name;
      packEntry(packed, i * Slot.STRIDE, e.entry);
      packed[i * Slot.STRIDE + Slot.DIR_OFF] = e.off;
    }
    const count = fuseNative().replyDir(id, size, true, names, packed);
    if (count < 0) return false;
    r.packed?.(count);
    return true;
  }

  private replyXattrValue(id: number, size: number, value: Uint8Array): boolean {
    if (size === 0) return fuseNative().replyXattr(id, value.length);
    if (value.length > size) return fuseNative().replyErr(id, E.ERANGE);
    return fuseNative().replyBuf(id, value);
  }

  // ---- dispatch (JS thread) ---------------------------------------------------------------------------

  private readonly dispatch: Dispatch = (type, id, ino, uid, gid, pid, interrupted, ...a) => {
    const ops = this.ops;
    switch (type) {
      case OpCode.INIT: {
        const n = fuseNative().negotiated(this.handle!);
        if (n !== null && this.initWaiter !== null) this.initWaiter({ ...n, readaheadKb: null });
        this.initWaiter = null;
        return;
      }
      case OpCode.FORGET: {
        const pairs = a[0] as Float64Array;
        if (ops.forget === undefined) return;
        for (let i = 0; i < pairs.length; i += 2) {
          try {
            ops.forget(pairs[i]!, pairs[i + 1]!);
          } catch (err) {
            this.log(`forget(${pairs[i]}) threw: ${(err as Error).message}`);
          }
        }
        return;
      }
      case OpCode.INTERRUPT: {
        this.stats.interrupts++;
        this.pending.get(id)?.interrupt();
        return;
      }
      default:
        break;
    }
    this.stats.requests++;
    const ctx = new Ctx(uid, gid, pid, interrupted);
    this.pending.set(id, ctx);
    const n = fuseNative();
    switch (type) {
      case OpCode.LOOKUP: {
        if (ops.lookup === undefined) return this.enosys(id);
        const f = ops.lookup;
        return this.run(id, () => f.call(ops, ctx, ino, a[0] as Buffer), (e) => this.replyEntry(id, e));
      }
      case OpCode.GETATTR: {
        if (ops.getattr === undefined) return this.enosys(id);
        const f = ops.getattr;
        return this.run(id, () => f.call(ops, ctx, ino, a[0] as number | undefined), (r) => this.replyAttr(id, r));
      }
      case OpCode.SETATTR: {
        if (ops.setattr === undefined) return this.enosys(id);
        const f = ops.setattr;
        const changes = setattrChanges(a);
        return this.run(id, () => f.call(ops, ctx, ino, changes), (r) => this.replyAttr(id, r));
      }
      case OpCode.READLINK: {
        if (ops.readlink === undefined) return this.enosys(id);
        const f = ops.readlink;
        return this.run(id, () => f.call(ops, ctx, ino), (t) => n.replyReadlink(id, t));
      }
      case OpCode.MKNOD: {
        if (ops.mknod === undefined) return this.enosys(id);
        const f = ops.mknod;
        return this.run(id, () => f.call(ops, ctx, ino, a[0] as Buffer, a[1] as number, a[2] as number, a[3] as number),
          (e) => this.replyEntry(id, e));
      }
      case OpCode.MKDIR: {
        if (ops.mkdir === undefined) return this.enosys(id);
        const f = ops.mkdir;
        return this.run(id, () => f.call(ops, ctx, ino, a[0] as Buffer, a[1] as number, a[2] as number),
          (e) => this.replyEntry(id, e));
      }
      case OpCode.UNLINK: {
        if (ops.unlink === undefined) return this.enosys(id);
        const f = ops.unlink;
        return this.run(id, () => f.call(ops, ctx, ino, a[0] as Buffer), () => n.replyErr(id, 0));
      }
      case OpCode.RMDIR: {
        if (ops.rmdir === undefined) return this.enosys(id);
        const f = ops.rmdir;
        return this.run(id, () => f.call(ops, ctx, ino, a[0] as Buffer), () => n.replyErr(id, 0));
      }
      case OpCode.SYMLINK: {
        if (ops.symlink === undefined) return this.enosys(id);
        const f = ops.symlink;
        return this.run(id, () => f.call(ops, ctx, ino, a[0] as Buffer, a[1] as Buffer), (e) => this.replyEntry(id, e));
      }
      case OpCode.RENAME: {
        if (ops.rename === undefined) return this.enosys(id);
        const f = ops.rename;
        return this.run(id, () => f.call(ops, ctx, ino, a[0] as Buffer, a[1] as number, a[2] as Buffer, a[3] as number),
          () => n.replyErr(id, 0));
      }
      case OpCode.LINK: {
        if (ops.link === undefined) return this.enosys(id);
        const f = ops.link;
        return this.run(id, () => f.call(ops, ctx, ino, a[0] as number, a[1] as Buffer), (e) => this.replyEntry(id, e));
      }
      case OpCode.OPEN:
      case OpCode.OPENDIR: {
        const f = type === OpCode.OPEN ? ops.open : ops.opendir;
        if (f === undefined) return this.settle(id, n.replyOpen(id, 0, 0));
        return this.run(id, () => f.call(ops, ctx, ino, a[0] as number), (r) => n.replyOpen(id, r.fh, openBits(r)));
      }
      case OpCode.READ: {
        if (ops.read === undefined) return this.enosys(id);
        const f = ops.read;
        const size = a[1] as number;
        return this.run(id, () => f.call(ops, ctx, ino, a[0] as number, size, a[2] as number),
          (r) => this.replyRead(id, size, r));
      }
      case OpCode.WRITE: {
        if (ops.write === undefined) return this.enosys(id);
        const f = ops.write;
        const data = a[1] as Buffer;
        return this.run(id, () => f.call(ops, ctx, ino, a[0] as number, data, a[2] as number, a[3] as number), (count) => {
          if (!Number.isInteger(count) || count < 0 || count > data.length) {
            throw kerr('Internal', `write returned ${count} for ${data.length} bytes`);
          }
          return n.replyWrite(id, count);
        });
      }
      case OpCode.FLUSH: {
        if (ops.flush === undefined) return this.enosys(id);
        const f = ops.flush;
        return this.run(id, () => f.call(ops, ctx, ino, a[0] as number), () => n.replyErr(id, 0));
      }
      case OpCode.RELEASE:
      case OpCode.RELEASEDIR: {
        if (type === OpCode.RELEASE ? ops.release === undefined : ops.releasedir === undefined) {
          return this.settle(id, n.replyErr(id, 0));
        }
        const call = type === OpCode.RELEASE
          ? () => ops.release!(ctx, ino, a[0] as number, a[1] as number)
          : () => ops.releasedir!(ctx, ino, a[0] as number);
        return this.run(id, call, () => n.replyErr(id, 0));
      }
      case OpCode.FSYNC:
      case OpCode.FSYNCDIR: {
        const f = type === OpCode.FSYNC ? ops.fsync : ops.fsyncdir;
        if (f === undefined) return this.enosys(id);
        return this.run(id, () => f.call(ops, ctx, ino, a[0] as number, a[1] as boolean), () => n.replyErr(id, 0));
      }
      case OpCode.READDIR: {
        if (ops.readdir === undefined) return this.enosys(id);
        const f = ops.readdir;
        const size = a[1] as number;
        return this.run(id, () => f.call(ops, ctx, ino, a[0] as number, size, a[2] as number),
          (entries) => this.replyDir(id, size, entries));
      }
      case OpCode.READDIRPLUS: {
        const size = a[1] as number;
        if (ops.readdirplus === undefined) {
          // The kernel only sends READDIRPLUS when negotiated; fall back to plain entries with no lookups.
          if (ops.readdir === undefined) return this.enosys(id);
          const f = ops.readdir;
          return this.run(id, () => f.call(ops, ctx, ino, a[0] as number, size, a[2] as number),
            (entries) => this.replyDirPlus(id, size, {
              entries: entries.map((e) => ({ name: e.name, off: e.off, entry: { ino: 0, entryTimeout: 0 } })),
            }));
        }
        const f = ops.readdirplus;
        return this.run(id, () => f.call(ops, ctx, ino, a[0] as number, size, a[2] as number),
          (r) => this.replyDirPlus(id, size, r));
      }
      case OpCode.STATFS: {
        if (ops.statfs === undefined) return this.enosys(id);
        const f = ops.statfs;
        return this.run(id, () => f.call(ops, ctx, ino), (s) => n.replyStatfs(id, packStatfs(s)));
      }
      case OpCode.SETXATTR: {
        if (ops.setxattr === undefined) return this.enosys(id);
        const f = ops.setxattr;
        return this.run(id, () => f.call(ops, ctx, ino, a[0] as string, a[1] as Buffer, a[2] as number),
          () => n.replyErr(id, 0));
      }
      case OpCode.GETXATTR: {
        if (ops.getxattr === undefined) return this.enosys(id);
        const f = ops.getxattr;
        const size = a[1] as number;
        return this.run(id, () => f.call(ops, ctx, ino, a[0] as string), (v) => this.replyXattrValue(id, size, v));
      }
      case OpCode.LISTXATTR: {
        if (ops.listxattr === undefined) return this.enosys(id);
        const f = ops.listxattr;
        const size = a[0] as number;
        return this.run(id, () => f.call(ops, ctx, ino),
          (names) => this.replyXattrValue(id, size, Buffer.from(names.map((x) => `${x}\0`).join(''), 'utf8')));
      }
      case OpCode.REMOVEXATTR: {
        if (ops.removexattr === undefined) return this.enosys(id);
        const f = ops.removexattr;
        return this.run(id, () => f.call(ops, ctx, ino, a[0] as string), () => n.replyErr(id, 0));
      }
      case OpCode.ACCESS: {
        if (ops.access === undefined) return this.enosys(id);
        const f = ops.access;
        return this.run(id, () => f.call(ops, ctx, ino, a[0] as number), () => n.replyErr(id, 0));
      }
      case OpCode.CREATE: {
        if (ops.create === undefined) return this.enosys(id);
        const f = ops.create;
        return this.run(id, () => f.call(ops, ctx, ino, a[0] as Buffer, a[1] as number, a[2] as number, a[3] as number),
          (r) => {
            packEntry(this.scratch, 0, r.entry);
            return n.replyCreate(id, this.scratch, r.fh, openBits(r));
          });
      }
      case OpCode.FALLOCATE: {
        if (ops.fallocate === undefined) return this.enosys(id);
        const f = ops.fallocate;
        return this.run(id, () => f.call(ops, ctx, ino, a[0] as number, a[1] as number, a[2] as number, a[3] as number),
          () => n.replyErr(id, 0));
      }
      default:
        this.log(`unknown request type ${type}`);
        return this.enosys(id);
    }
  };
}

function setattrChanges(a: unknown[]): SetattrChanges {
  const toSet = a[0] as number;
  const c: SetattrChanges = {};
  if (toSet & SET_MODE) c.mode = a[1] as number;
  if (toSet & SET_UID) c.uid = a[2] as number;
  if (toSet & SET_GID) c.gid = a[3] as number;
  if (toSet & SET_SIZE) c.size = a[4] as number;
  if (toSet & SET_ATIME_NOW) c.atime = now();
  else if (toSet & SET_ATIME) c.atime = { sec: a[5] as number, nsec: a[6] as number };
  if (toSet & SET_MTIME_NOW) c.mtime = now();
  else if (toSet & SET_MTIME) c.mtime = { sec: a[7] as number, nsec: a[8] as number };
  if (toSet & SET_CTIME) c.ctime = { sec: a[9] as number, nsec: a[10] as number };
  if (a[11] !== undefined) c.fh = a[11] as number;
  return c;
}

function packStatfs(s: Statfs): Float64Array {
  return Float64Array.of(s.bsize, s.frsize, s.blocks, s.bfree, s.bavail, s.files, s.ffree, s.favail, s.namemax);
}

const defaultLog: FuseLog = (msg) => { process.stderr.write(`kiseki-fuse: ${msg}\n`); };

/**
 * Mount `ops` at `mountpoint`. Resolves once the kernel's INIT has been answered, with the session whose
 * `negotiated` says what was agreed. A bad option or mountpoint rejects with InvalidArgument and leaves
 * nothing mounted. Never touch the mount synchronously from this process (it would hang unkillably).
 */
export async function mount(mountpoint: string, options: MountOptions, ops: FuseOperations,
  log: FuseLog = defaultLog): Promise<FuseSession> {
  if (typeof mountpoint !== 'string' || mountpoint.length === 0) {
    throw kerr('InvalidArgument', 'mountpoint must be a non-empty path');
  }
  if (typeof ops !== 'object' || ops === null) throw kerr('InvalidArgument', 'ops must be a FuseOperations object');
  const mnt = path.resolve(mountpoint);
  resolveMountOptions(options);
  try {
    const st = await fsp.stat(mnt);
    if (!st.isDirectory()) throw kerr('NotDirectory', `mountpoint ${mnt} is not a directory`);
  } catch (err) {
    if (KisekiError.is(err)) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const hint = code === 'ENOTCONN' ? ' (a dead FUSE mount is there: run `fusermount3 -u` on it)' : '';
    throw kerr('InvalidArgument', `mountpoint ${mnt} is not usable: ${code ?? String(err)}${hint}`, err);
  }
  const session = new FuseSession(mnt, ops, options, log);
  const init = session.start();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), 10_000); });
  const info = await Promise.race([init, timeout]);
  clearTimeout(timer);
  if (info === null) {
    await session.unmount();
    throw kerr('Unavailable', `the kernel did not send INIT for ${mnt} within 10 s; unmounted again`);
  }
  await session.afterInit(info);
  return session;
}

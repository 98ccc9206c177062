// The flock(LOCK_EX) on <pool>/pool.lock that marks a pool as live. The FileHandle stays open for as
// long as the lock is held: the kernel drops the lock when the descriptor closes or the process dies,
// which is exactly what lets the scrubber tell orphans from live pools (I-CC8).
import { randomBytes } from 'node:crypto';
import { open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { kerr } from '../errors.js';
import { flockBinding } from './flock-binding.js';
import { FILE_MODE } from './pool-layout.js';

export type TryLockResult =
  | { kind: 'locked'; lock: PoolLock }
  | { kind: 'held' }
  | { kind: 'missing' };

export class PoolLock {
  #path: string;
  #handle: FileHandle | null;

  private constructor(path: string, handle: FileHandle) {
    this.#path = path;
    this.#handle = handle;
  }

  /** Where the lock file is now (follows renames of the pool directory made through moved()). */
  get path(): string {
    return this.#path;
  }

  /**
   * Creates a new lock file and locks it atomically as seen by others: the file is created under a
   * temporary name, flocked, and only then renamed to `path` (the lock follows the inode). Nobody can
   * ever open `path` and find it unlocked before we hold it.
   */
  static async create(path: string): Promise<PoolLock> {
    const tmp = `${path}.${randomBytes(6).toString('hex')}`;
    const handle = await open(tmp, 'wx', FILE_MODE);
    try {
      if (!flockBinding().tryLockExclusive(handle.fd)) throw kerr('Internal', `freshly created ${tmp} is locked by someone else`);
      await rename(tmp, path);
    } catch (err) {
      await handle.close();
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    return new PoolLock(path, handle);
  }

  /** One non-blocking attempt on an existing lock file. Never waits. */
  static async tryOpen(path: string): Promise<TryLockResult> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
      throw err;
    }
    let locked = false;
    try {
      locked = flockBinding().tryLockExclusive(handle.fd);
    } finally {
      if (!locked) await handle.close();
    }
    return locked ? { kind: 'locked', lock: new PoolLock(path, handle) } : { kind: 'held' };
  }

  /**
   * Waits up to timeoutMs for the lock by polling non-blockingly (cancellable, and parks no thread-pool
   * thread), then checks that the file locked is still the one at `path`: a scrubber may have removed
   * the pool between our open() and the lock.
   */
  static async acquire(path: string, opts: { timeoutMs: number; pollMs?: number }): Promise<PoolLock> {
    const deadline = Date.now() + opts.timeoutMs;
    for (;;) {
      const r = await PoolLock.tryOpen(path);
      if (r.kind === 'missing') throw kerr('NotFound', `cache pool lock ${path} does not exist: the pool was removed or never created`);
      if (r.kind === 'locked') {
        if (await r.lock.isStillAtPath()) return r.lock;
        await r.lock.release();
        throw kerr('NotFound', `cache pool at ${path} was removed while waiting for its lock`);
      }
      if (Date.now() >= deadline) throw kerr('Unavailable', `cache pool lock ${path} is still held by another process after ${opts.timeoutMs} ms`);
      await sleep(opts.pollMs ?? 50);
    }
  }

  /** Blocking acquisition (native LOCK_EX on the thread pool) for callers that must wait indefinitely. */
  static async acquireBlocking(path: string): Promise<PoolLock> {
    const handle = await open(path, 'r');
    try {
      await flockBinding().lockExclusive(handle.fd);
    } catch (err) {
      await handle.close();
      throw err;
    }
    const lock = new PoolLock(path, handle);
    if (await lock.isStillAtPath()) return lock;
    await lock.release();
    throw kerr('NotFound', `cache pool at ${path} was removed while waiting for its lock`);
  }

  get held(): boolean {
    return this.#handle !== null;
  }

  /** True when path still names the inode we hold locked. */
  async isStillAtPath(): Promise<boolean> {
    if (this.#handle === null) return false;
    const [mine, there] = await Promise.all([this.#handle.stat(), stat(this.path).catch(() => null)]);
    return there !== null && mine.ino === there.ino && mine.dev === there.dev;
  }

  /** Records a rename of the pool directory: the lock belongs to the inode and is unaffected. */
  moved(newPath: string): void {
    this.#path = newPath;
  }

  /** Releases the lock by closing the descriptor. Idempotent. */
  async release(): Promise<void> {
    const handle = this.#handle;
    this.#handle = null;
    if (handle !== null) await handle.close();
  }
}

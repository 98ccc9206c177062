// Typed view of native/sys/flock.cc. The fd stays owned by the caller's FileHandle.
import { loadNative } from '../util/native.js';

export interface FlockBinding {
  /** LOCK_EX|LOCK_NB: true when acquired, false when another open file description holds it. */
  tryLockExclusive(fd: number): boolean;
  /** Blocking LOCK_EX on the libuv thread pool. */
  lockExclusive(fd: number): Promise<void>;
  unlock(fd: number): void;
}

let binding: FlockBinding | null = null;

export function flockBinding(): FlockBinding {
  if (binding === null) {
    const sys = loadNative().sys;
    for (const name of ['tryLockExclusive', 'lockExclusive', 'unlock']) {
      if (typeof sys[name] !== 'function') throw new Error(`native addon lacks sys.${name}: rebuild it (npm run build:native)`);
    }
    binding = sys as unknown as FlockBinding;
  }
  return binding;
}

// glibc malloc settings for the two long-running daemons, kiseki-node and the FUSE mount process
// (native/sys/malloc-tuning.cc says why): buffers up to 32 MiB come from the heap, and up to 512 MiB
// of freed heap is kept for the next buffer instead of going back to the kernel. A 256 MiB write
// through a mount took half the daemon's page faults and a quarter less CPU with this
// (docs/adr/0098). The cost: the daemon's resident size stays at its peak.
import { loadNative } from './native.js';

/** Above the largest buffers the daemons churn (4 MiB chunks, 1 MiB FUSE writes, 16 MiB read windows). */
const MMAP_THRESHOLD = 32 * 1024 * 1024;
const TRIM_THRESHOLD = 512 * 1024 * 1024;

/** Applies the settings to this process (call it first thing in a daemon). False where glibc refused them. */
export function keepFreedMemory(): boolean {
  const sys = loadNative().sys as { keepFreedMemory?: (mmap: number, trim: number) => boolean };
  if (typeof sys.keepFreedMemory !== 'function') throw new Error('native addon lacks sys.keepFreedMemory: rebuild it (npm run build:native)');
  return sys.keepFreedMemory(MMAP_THRESHOLD, TRIM_THRESHOLD);
}

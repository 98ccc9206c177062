// IEEE CRC-32 (brief §4.4: reflected 0xEDB88320, init and final XOR 0xFFFFFFFF; CRC("123456789") =
// 0xcbf43926), used by the L2 cache's 4-byte trailer. Both paths run the same zlib code that the node
// binary carries: zlib.crc32 on the calling thread, or the addon on the thread pool for large buffers.
import { crc32Sync } from './crc32-sync.js';
import type { CryptoBackend } from './crypto-backend.js';
import { defaultBackend } from './crypto-select.js';

/** Synchronous; fast enough for the main thread up to a few hundred KiB. */
export function crc32(data: Buffer, prev = 0): number {
  return crc32Sync(data, prev);
}

/** Off the main thread with the native backend (for whole chunks); inline with the portable one. */
export async function crc32Async(data: Buffer, prev = 0, opts?: { backend?: CryptoBackend }): Promise<number> {
  const backend = opts?.backend ?? await defaultBackend();
  return backend.crc32Async(data, prev);
}

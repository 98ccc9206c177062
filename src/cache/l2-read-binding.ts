// Typed view of native/sys/read-checked.cc: an L2 entry read whole and its CRC computed in one
// thread-pool job. Null when the addon is not built (the pool then reads through fs/promises).
import { loadNative } from '../util/native.js';

/** Bytes read into buf (fewer than buf.length = a short file) and the CRC-32 of all but the last 4. */
export type ReadChecked = (path: string, buf: Buffer) => Promise<{ bytes: number; crc: number }>;

let cached: ReadChecked | null | undefined;

export function readCheckedBinding(): ReadChecked | null {
  if (cached === undefined) {
    try {
      const fn = loadNative().sys.readChecked;
      cached = typeof fn === 'function' ? (fn as ReadChecked) : null;
    } catch {
      cached = null;
    }
  }
  return cached;
}

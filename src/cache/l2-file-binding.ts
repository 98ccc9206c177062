// Typed view of the addon's L2 entry I/O (native/sys): a hit read whole with its CRC computed in one
// thread-pool job (read-checked.cc), and an insert written with its CRC trailer in one job
// (write-entry.cc, ADR 0047). Null when the addon is not built: the pool then uses fs/promises.
import { loadNative } from '../util/native.js';

/** Bytes read into buf (fewer than buf.length = a short file) and the CRC-32 of all but the last 4. */
export type ReadChecked = (path: string, buf: Buffer) => Promise<{ bytes: number; crc: number }>;
/** Creates path (O_EXCL, 0600) holding exactly data ‖ CRC32(data) LE; fdatasync when sync. */
export type WriteEntry = (path: string, data: Buffer, sync: boolean) => Promise<void>;

interface L2FileIo {
  readChecked: ReadChecked;
  writeEntry: WriteEntry;
}

let cached: L2FileIo | null | undefined;

function io(): L2FileIo | null {
  if (cached === undefined) {
    try {
      const sys = loadNative().sys as Partial<L2FileIo>;
      cached = typeof sys.readChecked === 'function' && typeof sys.writeEntry === 'function' ? (sys as L2FileIo) : null;
    } catch {
      cached = null;
    }
  }
  return cached;
}

export function readCheckedBinding(): ReadChecked | null {
  return io()?.readChecked ?? null;
}

export function writeEntryBinding(): WriteEntry | null {
  return io()?.writeEntry ?? null;
}

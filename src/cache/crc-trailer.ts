// I-CC13: every L2 entry is plaintext ‖ CRC32 (IEEE, zlib's) as 4 bytes little-endian. The CRC guards
// against local corruption only; authenticity was established by the content address at fetch (I-CC1).
import { crc32 as zlibCrc32 } from 'node:zlib';
import { loadCryptoBinding } from '../crypto/crypto-binding.js';
import { kerr } from '../errors.js';

export const TRAILER_BYTES = 4;

/**
 * The addon's crc32 (PCLMULQDQ folding, about 2× zlib per CPU-second; every L2 hit checks a whole
 * chunk) when it is built, else zlib's. Both compute the same IEEE CRC-32.
 */
const native = loadCryptoBinding();
const crc32: (data: Uint8Array) => number = native.kind === 'loaded'
  ? (data) => native.binding.crc32(data as Buffer)
  : (data) => zlibCrc32(data);

/** Which implementation checks L2 entries in this process. */
export const crcImplementation: 'native' | 'zlib' = native.kind === 'loaded' ? 'native' : 'zlib';

/** zlib.crc32 arrived in Node 20.15; older releases cannot run an L2 pool. */
export function assertCrcAvailable(): void {
  if (native.kind !== 'loaded' && typeof zlibCrc32 !== 'function') {
    throw kerr('NotSupported', `the L2 cache needs Node.js >= 20.15 (zlib.crc32), this is ${process.version}: upgrade Node or mount with -o cache_mode=bypass`);
  }
}

export function crcTrailer(data: Uint8Array): Buffer {
  const t = Buffer.allocUnsafe(TRAILER_BYTES);
  t.writeUInt32LE(crc32(data), 0);
  return t;
}

export type TrailerCheck = { kind: 'ok'; data: Buffer } | { kind: 'corrupt'; reason: string };

/**
 * Splits a whole L2 file into plaintext (a view, no copy) after verifying the trailer. `crc` is the
 * plaintext's CRC when already computed (native/sys/read-checked.cc does it while reading).
 */
export function checkTrailer(file: Buffer, crc?: number): TrailerCheck {
  if (file.length < TRAILER_BYTES) return { kind: 'corrupt', reason: `short file (${file.length} bytes)` };
  const data = file.subarray(0, file.length - TRAILER_BYTES);
  const want = file.readUInt32LE(file.length - TRAILER_BYTES);
  const got = crc ?? crc32(data);
  return got === want ? { kind: 'ok', data } : { kind: 'corrupt', reason: `CRC32 ${got.toString(16)} != trailer ${want.toString(16)}` };
}

// ReadDirPlusResponse written straight from the readdir rows, in the bytes ts-proto would produce
// (test/unit/readdir-encoder.test.ts compares the two). The stored sealed name already is an encoded
// Envelope (NamespaceStore keeps what encodeEnv made of the validated request), so it is copied in as
// it is: no Envelope.decode, no DirEntry objects, no second encode — a large listing is the node's
// costliest read, and those three were most of it (ADR 0085).
import { invalid } from './validate.js';

/**
 * A listing runs in inode order (creation order: a walk over names in the order they were made finds
 * them in the first pages, ADR 0085), names of one inode (hard links) by name_key. The cookie is
 * where it resumes: the inode number (8 bytes, big-endian) then the name_key.
 */
export const READDIR_COOKIE_BYTES = 40;

/** The (ino, name_key) after which a listing resumes; an empty cursor starts before everything. */
export function readdirCursor(cursor: Buffer): { ino: number; nameKey: Buffer } {
  if (cursor.length === 0) return { ino: 0, nameKey: Buffer.alloc(0) };
  if (cursor.length !== READDIR_COOKIE_BYTES) throw invalid('cursor', `must be empty or a cookie of this node's listing (${READDIR_COOKIE_BYTES} bytes); list again from the start`);
  const ino = cursor.readUIntBE(0, 8 - 2) * 2 ** 16 + cursor.readUInt16BE(6);
  if (!Number.isSafeInteger(ino)) throw invalid('cursor', 'names an inode number past 2^53; list again from the start');
  return { ino, nameKey: cursor.subarray(8) };
}

/** One row of the readdir query: name_key, sealed_name, then the Attr columns in proto field order 1–7, 8–10 as (sec, nsec) pairs, 11, 12. */
export type ReaddirRow = [Buffer, Buffer, ...number[]];

const TWO32 = 2 ** 32;

/** Bytes of the varint of a safe integer (negative: 10, as int64 two's complement). */
function varintSize(v: number): number {
  if (v < 0) return 10;
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Writes the varint of a safe integer at `pos`, returns the position after it. */
function putVarint(b: Buffer, pos: number, v: number): number {
  if (v < 0) {
    // int64 two's complement in two 32-bit halves: the high half of a negative safe integer is negative.
    const hi = Math.floor(v / TWO32);
    let lo = v - hi * TWO32;
    let h = hi >>> 0;
    for (let i = 0; i < 9; i++) {
      b[pos++] = (lo & 0x7f) | 0x80;
      lo = (lo >>> 7) | ((h & 0x7f) << 25);
      h >>>= 7;
    }
    b[pos++] = lo & 0x01;
    return pos;
  }
  while (v >= 128) {
    b[pos++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  b[pos++] = v;
  return pos;
}

/** Field 8–10: a Timespec, always present (ts-proto writes a set message field even when empty). */
function timespecSize(sec: number, nsec: number): number {
  return (sec !== 0 ? 1 + varintSize(sec) : 0) + (nsec !== 0 ? 1 + varintSize(nsec) : 0);
}

/** The scalar Attr fields in order: field number and column index in the row. */
const SCALARS_BEFORE = [[1, 2], [2, 3], [3, 4], [4, 5], [5, 6], [6, 7], [7, 8]] as const;
const TIMES = [[8, 9], [9, 11], [10, 13]] as const;
const SCALARS_AFTER = [[11, 15], [12, 16]] as const;

function attrSize(r: ReaddirRow): number {
  let n = 0;
  for (const [, c] of SCALARS_BEFORE) if (r[c] !== 0) n += 1 + varintSize(r[c] as number);
  for (const [, c] of TIMES) {
    const t = timespecSize(r[c] as number, r[c + 1] as number);
    n += 1 + varintSize(t) + t;
  }
  for (const [, c] of SCALARS_AFTER) if (r[c] !== 0) n += 1 + varintSize(r[c] as number);
  return n;
}

function putAttr(b: Buffer, pos: number, r: ReaddirRow): number {
  for (const [f, c] of SCALARS_BEFORE) {
    if (r[c] === 0) continue;
    b[pos++] = f << 3;
    pos = putVarint(b, pos, r[c] as number);
  }
  for (const [f, c] of TIMES) {
    const sec = r[c] as number, nsec = r[c + 1] as number;
    b[pos++] = (f << 3) | 2;
    pos = putVarint(b, pos, timespecSize(sec, nsec));
    if (sec !== 0) {
      b[pos++] = 8;
      pos = putVarint(b, pos, sec);
    }
    if (nsec !== 0) {
      b[pos++] = 16;
      pos = putVarint(b, pos, nsec);
    }
  }
  for (const [f, c] of SCALARS_AFTER) {
    if (r[c] === 0) continue;
    b[pos++] = f << 3;
    pos = putVarint(b, pos, r[c] as number);
  }
  return pos;
}

/** The cookie of a row: where a listing resumes after it. */
function putCookie(b: Buffer, pos: number, r: ReaddirRow): number {
  b.writeUIntBE(Math.floor((r[2] as number) / TWO32), pos, 4);
  b.writeUInt32BE((r[2] as number) >>> 0, pos + 4);
  r[0].copy(b, pos + 8);
  return pos + READDIR_COOKIE_BYTES;
}

/** The encoded ReadDirPlusResponse of the first `n` rows. */
export function encodeReadDirPlus(rows: readonly ReaddirRow[], n: number, eof: boolean): Buffer {
  const sizes = new Array<number>(n);
  const attrSizes = new Array<number>(n);
  let total = eof ? 2 : 0;
  for (let i = 0; i < n; i++) {
    const r = rows[i]!;
    const a = attrSize(r);
    const key = r[0].length, sealed = r[1].length;
    const s = (key !== 0 ? 1 + varintSize(key) + key : 0) + 1 + varintSize(sealed) + sealed + 1 + varintSize(a) + a
      + 1 + varintSize(READDIR_COOKIE_BYTES) + READDIR_COOKIE_BYTES;
    attrSizes[i] = a;
    sizes[i] = s;
    total += 1 + varintSize(s) + s;
  }
  const b = Buffer.allocUnsafe(total);
  let pos = 0;
  for (let i = 0; i < n; i++) {
    const r = rows[i]!;
    b[pos++] = (1 << 3) | 2;
    pos = putVarint(b, pos, sizes[i]!);
    if (r[0].length !== 0) {
      b[pos++] = (1 << 3) | 2;
      pos = putVarint(b, pos, r[0].length);
      pos += r[0].copy(b, pos);
    }
    b[pos++] = (2 << 3) | 2;
    pos = putVarint(b, pos, r[1].length);
    pos += r[1].copy(b, pos);
    b[pos++] = (3 << 3) | 2;
    pos = putVarint(b, pos, attrSizes[i]!);
    pos = putAttr(b, pos, r);
    b[pos++] = (4 << 3) | 2;
    pos = putVarint(b, pos, READDIR_COOKIE_BYTES);
    pos = putCookie(b, pos, r);
  }
  if (eof) {
    b[pos++] = 2 << 3;
    b[pos++] = 1;
  }
  if (pos !== total) throw new Error(`ReadDirPlusResponse: wrote ${pos} of ${total} bytes`);
  return b;
}

// ReadDirPlusResponse off the wire without copies: every bytes field is a view of the received
// message, where the generated decoder copies each one (seven Buffers and three nested messages per
// entry). Large listings are the client's costliest decode (a 10,000-entry directory is ~2 MB).
// The result has the generated type's shape and values exactly (test/unit/readdir-wire.test.ts
// compares the two decoders); fields it does not know are skipped, as the generated decoder does.
import type { Envelope } from '../gen/kiseki/v1/chunk.js';
import { NamespaceServiceService, type Attr, type DirEntry, type FileKind, type ReadDirPlusResponse, type Timespec } from '../gen/kiseki/v1/namespace.js';

const EMPTY = Buffer.alloc(0);
const VARINT = 0, I64 = 1, LEN = 2, START_GROUP = 3, END_GROUP = 4, I32 = 5;

/**
 * A cursor over one message's bytes. Varints are read into two 32-bit halves (no BigInt, no
 * allocation): a listing of 10,000 entries has ~300,000 of them, and this decoder runs on the
 * event loop that also answers FUSE requests.
 */
class Wire {
  pos = 0;
  /** The last varint read: low and high 32 bits. */
  private lo = 0;
  private hi = 0;

  constructor(private readonly buf: Buffer) {}

  get len(): number {
    return this.buf.length;
  }

  private byte(): number {
    if (this.pos >= this.buf.length) throw new Error('ReadDirPlusResponse: premature end of message');
    return this.buf[this.pos++]!;
  }

  varint(): void {
    let b = this.byte();
    let lo = b & 0x7f;
    let hi = 0;
    if (b >= 0x80) {
      b = this.byte(); lo |= (b & 0x7f) << 7;
      if (b >= 0x80) {
        b = this.byte(); lo |= (b & 0x7f) << 14;
        if (b >= 0x80) {
          b = this.byte(); lo |= (b & 0x7f) << 21;
          if (b >= 0x80) {
            b = this.byte(); lo |= (b & 0x0f) << 28; hi = (b & 0x7f) >> 4;
            for (let shift = 3; b >= 0x80; shift += 7) {
              if (shift > 31) throw new Error('ReadDirPlusResponse: varint longer than 10 bytes');
              b = this.byte(); hi |= (b & 0x7f) << shift;
            }
          }
        }
      }
    }
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
  }

  /** A tag: field number × 8 + wire type. */
  tag(): number {
    this.varint();
    return this.lo;
  }

  uint32(): number {
    this.varint();
    return this.lo;
  }

  int32(): number {
    this.varint();
    return this.lo | 0;
  }

  bool(): boolean {
    this.varint();
    return this.lo !== 0 || this.hi !== 0;
  }

  uint64(): number {
    this.varint();
    return Wire.safe(this.hi * 4294967296 + this.lo, this.hi, this.lo);
  }

  int64(): number {
    this.varint();
    return Wire.safe((this.hi | 0) * 4294967296 + this.lo, this.hi, this.lo);
  }

  private static safe(n: number, hi: number, lo: number): number {
    if (!Number.isSafeInteger(n)) throw new Error(`ReadDirPlusResponse: integer 0x${hi.toString(16)}${lo.toString(16).padStart(8, '0')} is outside the safe range`);
    return n;
  }

  /** Where a length-delimited field at the cursor ends (the cursor moves to its first byte). */
  end(): number {
    const len = this.uint32();
    const end = this.pos + len;
    if (end > this.buf.length) throw new Error('ReadDirPlusResponse: premature end of message');
    return end;
  }

  /** A view of a bytes field (no copy). */
  bytes(): Buffer {
    const end = this.end();
    const b = this.buf.subarray(this.pos, end);
    this.pos = end;
    return b;
  }

  skip(wt: number, no: number): void {
    switch (wt) {
      case VARINT: this.varint(); return;
      case I64: this.advance(8); return;
      case I32: this.advance(4); return;
      case LEN: this.pos = this.end(); return;
      case START_GROUP:
        for (;;) {
          const t = this.tag();
          if ((t & 7) === END_GROUP) {
            if (t >>> 3 !== no) throw new Error('ReadDirPlusResponse: mismatched end group');
            return;
          }
          this.skip(t & 7, t >>> 3);
        }
      default: throw new Error(`ReadDirPlusResponse: cannot skip wire type ${wt}`);
    }
  }

  private advance(n: number): void {
    if (this.pos + n > this.buf.length) throw new Error('ReadDirPlusResponse: premature end of message');
    this.pos += n;
  }

  /** After a nested message's fields: it must end exactly where its length said. */
  closed(end: number): void {
    if (this.pos !== end) throw new Error('ReadDirPlusResponse: a nested message overran its length');
  }
}

/** A single-field wrapper message (ChunkId, KeyEpoch): its field 1 read with `read` when of wire type `wt`. */
function wrapped<T>(w: Wire, wt: number, read: () => T, dflt: T): T {
  let v = dflt;
  const end = w.end();
  while (w.pos < end) {
    const t = w.tag();
    if (t === ((1 << 3) | wt)) v = read();
    else w.skip(t & 7, t >>> 3);
  }
  w.closed(end);
  return v;
}

function timespec(w: Wire): Timespec {
  const t: Timespec = { sec: 0, nsec: 0 };
  const end = w.end();
  while (w.pos < end) {
    const tag = w.tag();
    if (tag === ((1 << 3) | VARINT)) t.sec = w.int64();
    else if (tag === ((2 << 3) | VARINT)) t.nsec = w.uint32();
    else w.skip(tag & 7, tag >>> 3);
  }
  w.closed(end);
  return t;
}

function envelope(w: Wire): Envelope {
  const e: Envelope = {
    ciphertext: EMPTY, authTag: EMPTY, nonce: EMPTY, algorithm: 0, systemEpoch: undefined, tenantEpoch: undefined,
    tenantWrappedMaterial: EMPTY, chunkId: undefined,
  };
  const end = w.end();
  while (w.pos < end) {
    const t = w.tag();
    switch (t) {
      case (1 << 3) | LEN: e.ciphertext = w.bytes(); break;
      case (2 << 3) | LEN: e.authTag = w.bytes(); break;
      case (3 << 3) | LEN: e.nonce = w.bytes(); break;
      case (4 << 3) | VARINT: e.algorithm = w.int32(); break;
      case (5 << 3) | LEN: e.systemEpoch = { value: wrapped(w, VARINT, () => w.uint64(), 0) }; break;
      case (6 << 3) | LEN: e.tenantEpoch = { value: wrapped(w, VARINT, () => w.uint64(), 0) }; break;
      case (7 << 3) | LEN: e.tenantWrappedMaterial = w.bytes(); break;
      case (8 << 3) | LEN: e.chunkId = { value: wrapped(w, LEN, () => w.bytes(), EMPTY) }; break;
      default: w.skip(t & 7, t >>> 3);
    }
  }
  w.closed(end);
  return e;
}

function attr(w: Wire): Attr {
  const a: Attr = {
    ino: 0, kind: 0 as FileKind, mode: 0, uid: 0, gid: 0, size: 0, nlink: 0, atime: undefined, mtime: undefined, ctime: undefined,
    generation: 0, chunkSize: 0,
  };
  const end = w.end();
  while (w.pos < end) {
    const t = w.tag();
    switch (t) {
      case (1 << 3) | VARINT: a.ino = w.uint64(); break;
      case (2 << 3) | VARINT: a.kind = w.int32() as FileKind; break;
      case (3 << 3) | VARINT: a.mode = w.uint32(); break;
      case (4 << 3) | VARINT: a.uid = w.uint32(); break;
      case (5 << 3) | VARINT: a.gid = w.uint32(); break;
      case (6 << 3) | VARINT: a.size = w.uint64(); break;
      case (7 << 3) | VARINT: a.nlink = w.uint32(); break;
      case (8 << 3) | LEN: a.atime = timespec(w); break;
      case (9 << 3) | LEN: a.mtime = timespec(w); break;
      case (10 << 3) | LEN: a.ctime = timespec(w); break;
      case (11 << 3) | VARINT: a.generation = w.uint64(); break;
      case (12 << 3) | VARINT: a.chunkSize = w.uint32(); break;
      default: w.skip(t & 7, t >>> 3);
    }
  }
  w.closed(end);
  return a;
}

function dirEntry(w: Wire): DirEntry {
  const d: DirEntry = { nameKey: EMPTY, sealedName: undefined, attr: undefined, cookie: EMPTY };
  const end = w.end();
  while (w.pos < end) {
    const t = w.tag();
    switch (t) {
      case (1 << 3) | LEN: d.nameKey = w.bytes(); break;
      case (2 << 3) | LEN: d.sealedName = envelope(w); break;
      case (3 << 3) | LEN: d.attr = attr(w); break;
      case (4 << 3) | LEN: d.cookie = w.bytes(); break;
      default: w.skip(t & 7, t >>> 3);
    }
  }
  w.closed(end);
  return d;
}

/** Decodes a ReadDirPlusResponse; the Buffers in it are views of `bytes`, which must not change afterwards. */
export function decodeReadDirPlus(bytes: Uint8Array): ReadDirPlusResponse {
  const w = new Wire(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const out: ReadDirPlusResponse = { entries: [], eof: false };
  while (w.pos < w.len) {
    const t = w.tag();
    if (t === ((1 << 3) | LEN)) out.entries.push(dirEntry(w));
    else if (t === ((2 << 3) | VARINT)) out.eof = w.bool();
    else w.skip(t & 7, t >>> 3);
  }
  return out;
}

/** NamespaceService with ReadDirPlus answers decoded by decodeReadDirPlus (grpc-js hands each call its own Buffer). */
export const NamespaceServiceFast = {
  ...NamespaceServiceService,
  readDirPlus: { ...NamespaceServiceService.readDirPlus, responseDeserialize: (b: Buffer) => decodeReadDirPlus(b) },
} as typeof NamespaceServiceService;

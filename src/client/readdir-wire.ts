// ReadDirPlusResponse off the wire without copies: every bytes field is a view of the received
// message, where the generated decoder copies each one (seven Buffers and three nested messages per
// entry). Large listings are the client's costliest decode (a 10,000-entry directory is ~2 MB).
// The result has the generated type's shape and values exactly (test/unit/readdir-wire.test.ts
// compares the two decoders); fields it does not know are skipped, as the generated decoder does.
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import type { Envelope } from '../gen/kiseki/v1/chunk.js';
import { NamespaceServiceService, type Attr, type DirEntry, type FileKind, type ReadDirPlusResponse, type Timespec } from '../gen/kiseki/v1/namespace.js';

const EMPTY = Buffer.alloc(0);

function num(v: bigint | string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new Error(`ReadDirPlusResponse: integer ${String(v)} is outside the safe range`);
  return n;
}

function view(r: BinaryReader): Buffer {
  const b = r.bytes();
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** Runs `field` for each (field number, wire type) of the message at the reader's position; skips the ones it returns false for. */
function message(r: BinaryReader, len: number, field: (no: number, wt: WireType) => boolean): void {
  const end = r.pos + len;
  while (r.pos < end) {
    const [no, wt] = r.tag();
    if (!field(no, wt)) r.skip(wt, no);
  }
  if (r.pos !== end) throw new Error('ReadDirPlusResponse: a nested message overran its length');
}

/** A single-field wrapper message (ChunkId, KeyEpoch) decoded with `read`. */
function wrapped<T>(r: BinaryReader, read: () => T, dflt: T): T {
  let v = dflt;
  message(r, r.uint32(), (no, wt) => {
    if (no !== 1 || wt !== (typeof dflt === 'number' ? WireType.Varint : WireType.LengthDelimited)) return false;
    v = read();
    return true;
  });
  return v;
}

function timespec(r: BinaryReader): Timespec {
  const t: Timespec = { sec: 0, nsec: 0 };
  message(r, r.uint32(), (no, wt) => {
    if (wt !== WireType.Varint) return false;
    if (no === 1) t.sec = num(r.int64());
    else if (no === 2) t.nsec = r.uint32();
    else return false;
    return true;
  });
  return t;
}

function envelope(r: BinaryReader): Envelope {
  const e: Envelope = {
    ciphertext: EMPTY, authTag: EMPTY, nonce: EMPTY, algorithm: 0, systemEpoch: undefined, tenantEpoch: undefined,
    tenantWrappedMaterial: EMPTY, chunkId: undefined,
  };
  message(r, r.uint32(), (no, wt) => {
    const bytes = wt === WireType.LengthDelimited;
    switch (no) {
      case 1: if (!bytes) return false; e.ciphertext = view(r); return true;
      case 2: if (!bytes) return false; e.authTag = view(r); return true;
      case 3: if (!bytes) return false; e.nonce = view(r); return true;
      case 4: if (wt !== WireType.Varint) return false; e.algorithm = r.int32(); return true;
      case 5: if (!bytes) return false; e.systemEpoch = { value: wrapped(r, () => num(r.uint64()), 0) }; return true;
      case 6: if (!bytes) return false; e.tenantEpoch = { value: wrapped(r, () => num(r.uint64()), 0) }; return true;
      case 7: if (!bytes) return false; e.tenantWrappedMaterial = view(r); return true;
      case 8: if (!bytes) return false; e.chunkId = { value: wrapped(r, () => view(r), EMPTY) }; return true;
      default: return false;
    }
  });
  return e;
}

function attr(r: BinaryReader): Attr {
  const a: Attr = {
    ino: 0, kind: 0 as FileKind, mode: 0, uid: 0, gid: 0, size: 0, nlink: 0, atime: undefined, mtime: undefined, ctime: undefined,
    generation: 0, chunkSize: 0,
  };
  message(r, r.uint32(), (no, wt) => {
    if (no >= 8 && no <= 10) {
      if (wt !== WireType.LengthDelimited) return false;
      const t = timespec(r);
      if (no === 8) a.atime = t;
      else if (no === 9) a.mtime = t;
      else a.ctime = t;
      return true;
    }
    if (wt !== WireType.Varint) return false;
    switch (no) {
      case 1: a.ino = num(r.uint64()); return true;
      case 2: a.kind = r.int32() as FileKind; return true;
      case 3: a.mode = r.uint32(); return true;
      case 4: a.uid = r.uint32(); return true;
      case 5: a.gid = r.uint32(); return true;
      case 6: a.size = num(r.uint64()); return true;
      case 7: a.nlink = r.uint32(); return true;
      case 11: a.generation = num(r.uint64()); return true;
      case 12: a.chunkSize = r.uint32(); return true;
      default: return false;
    }
  });
  return a;
}

function dirEntry(r: BinaryReader): DirEntry {
  const d: DirEntry = { nameKey: EMPTY, sealedName: undefined, attr: undefined, cookie: EMPTY };
  message(r, r.uint32(), (no, wt) => {
    if (wt !== WireType.LengthDelimited) return false;
    switch (no) {
      case 1: d.nameKey = view(r); return true;
      case 2: d.sealedName = envelope(r); return true;
      case 3: d.attr = attr(r); return true;
      case 4: d.cookie = view(r); return true;
      default: return false;
    }
  });
  return d;
}

/** Decodes a ReadDirPlusResponse; the Buffers in it are views of `bytes`, which must not change afterwards. */
export function decodeReadDirPlus(bytes: Uint8Array): ReadDirPlusResponse {
  const r = new BinaryReader(bytes);
  const out: ReadDirPlusResponse = { entries: [], eof: false };
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no === 1 && wt === WireType.LengthDelimited) out.entries.push(dirEntry(r));
    else if (no === 2 && wt === WireType.Varint) out.eof = r.bool();
    else r.skip(wt, no);
  }
  return out;
}

/** NamespaceService with ReadDirPlus answers decoded by decodeReadDirPlus (grpc-js hands each call its own Buffer). */
export const NamespaceServiceFast = {
  ...NamespaceServiceService,
  readDirPlus: { ...NamespaceServiceService.readDirPlus, responseDeserialize: (b: Buffer) => decodeReadDirPlus(b) },
} as typeof NamespaceServiceService;

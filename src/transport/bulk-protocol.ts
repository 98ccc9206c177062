// The bulk chunk stream's wire format (ADR 0033, docs/protocol.md "Bulk chunk stream"): a raw byte
// stream beside gRPC (TLS over TCP, or the node's second unix socket) that carries sealed envelopes
// with no HTTP/2 and no protobuf framing around them. Shared by the node (src/node/bulk-listener.ts)
// and the client (transport-bulk.ts), so this file imports nothing from either side.
//
// Every frame is a 24-byte header, then `length` body bytes:
//
//   0  'KSB1'          magic
//   4  u8  version     1
//   5  u8  op          Op below
//   6  u16 status      0 in requests; a Status in replies
//   8  u32 id          request id, chosen by the client, echoed in every reply frame
//  12  u32 arg         GET: number of ids; CHUNK: index of the chunk in the request; PUT_DONE: 1 stored / 0 deduplicated
//  16  u32 length      body bytes
//  20  u32 reserved    0
//
// Integers are little-endian. Many requests may be in flight on one connection; reply frames of
// different requests interleave (whole frames only) and are matched by id.
import type { Socket } from 'node:net';
import { type ErrorKind, KisekiError, kerr } from '../errors.js';

export const BULK_MAGIC = 0x3142534b; // 'KSB1' read as a little-endian u32
export const BULK_VERSION = 1;
export const BULK_HEADER_BYTES = 24;
export const CHUNK_ID_BYTES = 32;

/** Largest body: a 64 MiB ciphertext plus the envelope's small fields (D3); checked before allocating. */
export const MAX_BULK_BODY = 64 * 1024 * 1024 + 64 * 1024;
/** Chunk ids per GET request (the client splits larger calls). */
export const MAX_BULK_GET_IDS = 256;
/** Largest ERROR message body. */
export const MAX_BULK_ERROR_BODY = 4096;

export enum Op {
  /** Request: body = arg × 32-byte chunk ids. Reply: arg CHUNK frames in any order, or one ERROR. */
  GET = 1,
  /** Request: body = one encoded Envelope (the node's stored encoding). Reply: PUT_DONE or ERROR. */
  PUT = 2,
  /** Request: empty body. Reply: PONG. Proves the connection and the tenant's access end to end. */
  PING = 3,
  /** Reply: body = the envelope bytes exactly as the node stores them. */
  CHUNK = 0x81,
  PUT_DONE = 0x82,
  PONG = 0x83,
  /** Reply: the request failed; status says how, the body (UTF-8) says why. Ends the request. */
  ERROR = 0xff,
}

const REQUEST_OPS = new Set<number>([Op.GET, Op.PUT, Op.PING]);
const REPLY_OPS = new Set<number>([Op.CHUNK, Op.PUT_DONE, Op.PONG, Op.ERROR]);

/** Reply status ↔ error kind. Anything the table lacks travels as Internal. */
const STATUS_KINDS: readonly (ErrorKind | 'Ok')[] = ['Ok', 'NotFound', 'NoSpace', 'InvalidArgument', 'PermissionDenied', 'Integrity', 'Internal', 'Unavailable', 'KeyDestroyed'];

export function statusOfError(err: unknown): number {
  const i = KisekiError.is(err) ? STATUS_KINDS.indexOf(err.kind) : -1;
  return i > 0 ? i : STATUS_KINDS.indexOf('Internal');
}

/** The error an ERROR frame stands for, as the client reports it. */
export function errorOfStatus(status: number, message: string): KisekiError {
  const kind = STATUS_KINDS[status];
  if (kind === undefined || kind === 'Ok') return kerr('TransportFailed', `bulk stream: node answered unknown status ${status}: ${message}`);
  return kerr(kind, message);
}

export interface FrameHeader {
  op: Op;
  status: number;
  id: number;
  arg: number;
  length: number;
}

export function encodeHeader(h: FrameHeader): Buffer {
  const b = Buffer.allocUnsafe(BULK_HEADER_BYTES);
  b.writeUInt32LE(BULK_MAGIC, 0);
  b.writeUInt8(BULK_VERSION, 4);
  b.writeUInt8(h.op, 5);
  b.writeUInt16LE(h.status, 6);
  b.writeUInt32LE(h.id >>> 0, 8);
  b.writeUInt32LE(h.arg >>> 0, 12);
  b.writeUInt32LE(h.length >>> 0, 16);
  b.writeUInt32LE(0, 20);
  return b;
}

/** Parts at least this big are written as they are; smaller neighbours are joined (a few bytes copied). */
const OWN_WRITE_BYTES = 64 * 1024;
/**
 * Largest single write to a TLS socket: Node encrypts a whole write into one growing output buffer
 * before any of it reaches the kernel, so a 4 MiB write costs 4 MiB of fresh memory and a late first byte.
 */
const TLS_WRITE_BYTES = 1024 * 1024;

/**
 * Writes one whole frame without copying its large parts. A plain socket takes it as one writev
 * (cork). A TLS socket copies every multi-buffer write into one buffer before encrypting it, so there
 * the small parts (header, protobuf tag, envelope head) are joined and each large part (ciphertext)
 * goes as its own write. `written` runs once the socket no longer needs any part (the last write's
 * callback; writes complete in order), and only if it succeeded: after an error a part may still be
 * referenced, so its memory must not be reused. Returns whether the socket wants the caller to wait for 'drain'.
 */
export function writeFrame(sock: Socket, h: FrameHeader, parts: readonly Buffer[], written?: () => void): boolean {
  const all = [encodeHeader(h), ...parts];
  const done = written && ((err?: Error | null): void => { if (!err) written(); });
  if (!('encrypted' in sock)) {
    sock.cork();
    let ok = true;
    for (let i = 0; i < all.length; i++) ok = i === all.length - 1 && done ? sock.write(all[i]!, done) : sock.write(all[i]!);
    sock.uncork();
    return ok;
  }
  const writes: Buffer[] = [];
  let small: Buffer[] = [];
  const flushSmall = (): void => {
    if (small.length > 0) writes.push(small.length === 1 ? small[0]! : Buffer.concat(small));
    small = [];
  };
  for (const p of all) {
    if (p.length < OWN_WRITE_BYTES) { small.push(p); continue; }
    flushSmall();
    for (let at = 0; at < p.length; at += TLS_WRITE_BYTES) writes.push(p.subarray(at, at + TLS_WRITE_BYTES));
  }
  flushSmall();
  let ok = true;
  for (let i = 0; i < writes.length; i++) ok = i === writes.length - 1 && done ? sock.write(writes[i]!, done) : sock.write(writes[i]!);
  return ok;
}

/**
 * Makes a TLS socket hand each queued write to TLS on its own. When writes queue up (the node keeps
 * several MiB of replies queued), Writable passes them all to _writev, and Node's TLS layer copies a
 * multi-buffer write into one new buffer before encrypting it — 8 MiB copied per batch, measured at
 * ~40 % of a serving node's CPU. Without _writev, Writable writes the queued buffers one by one (each
 * encrypted straight from the caller's memory). Plain sockets keep writev (no copy there).
 */
export function writeEachBufferAlone(sock: Socket): void {
  if ('encrypted' in sock) (sock as unknown as { _writev: unknown })._writev = null;
}

/** A frame the peer must not have sent: the receiver closes the connection (never guesses). */
export class BulkProtocolError extends Error {}

function decodeHeader(b: Buffer, at: number, side: 'node' | 'client'): FrameHeader {
  if (b.readUInt32LE(at) !== BULK_MAGIC) throw new BulkProtocolError(`bad magic 0x${b.readUInt32LE(at).toString(16)} (want KSB1)`);
  const version = b.readUInt8(at + 4);
  if (version !== BULK_VERSION) throw new BulkProtocolError(`unsupported version ${version}`);
  const h: FrameHeader = { op: b.readUInt8(at + 5), status: b.readUInt16LE(at + 6), id: b.readUInt32LE(at + 8), arg: b.readUInt32LE(at + 12), length: b.readUInt32LE(at + 16) };
  if (b.readUInt32LE(at + 20) !== 0) throw new BulkProtocolError('reserved header bytes are not zero');
  const ops = side === 'node' ? REQUEST_OPS : REPLY_OPS;
  if (!ops.has(h.op)) throw new BulkProtocolError(`op 0x${h.op.toString(16)} is not a ${side === 'node' ? 'request' : 'reply'}`);
  // Oversize lengths are refused here, before a body buffer exists.
  if (h.length > MAX_BULK_BODY) throw new BulkProtocolError(`body of ${h.length} bytes exceeds ${MAX_BULK_BODY}`);
  switch (h.op) {
    case Op.GET:
      if (h.arg < 1 || h.arg > MAX_BULK_GET_IDS || h.length !== h.arg * CHUNK_ID_BYTES) {
        throw new BulkProtocolError(`GET of ${h.arg} ids with a ${h.length}-byte body (1–${MAX_BULK_GET_IDS} ids of ${CHUNK_ID_BYTES} bytes)`);
      }
      break;
    case Op.PING: case Op.PONG: case Op.PUT_DONE:
      if (h.length !== 0) throw new BulkProtocolError(`op 0x${h.op.toString(16)} carries no body (got ${h.length} bytes)`);
      break;
    case Op.ERROR:
      if (h.length > MAX_BULK_ERROR_BODY) throw new BulkProtocolError(`ERROR body of ${h.length} bytes exceeds ${MAX_BULK_ERROR_BODY}`);
      break;
  }
  if (side === 'node' && h.status !== 0) throw new BulkProtocolError('requests carry status 0');
  return h;
}

export interface Frame extends FrameHeader {
  /** The body: a view of one socket read when it arrived whole, else its own buffer (one copy). */
  body: Buffer;
}

type ReaderState =
  | { name: 'header' }
  | { name: 'body'; header: FrameHeader; parts: Buffer[]; filled: number }
  | { name: 'body-into'; header: FrameHeader; target: Buffer; filled: number };

/**
 * Where a body that spans reads is gathered: a buffer of exactly `header.length` bytes (the client's
 * receive pool), or null for the default (see FrameReader).
 */
export type BodyBuffer = (header: FrameHeader) => Buffer | null;

/**
 * Socket bytes → frames, as an explicit state machine (header ⇄ body). A body that spans reads is
 * kept as the list of its read buffers and joined once, into a buffer of exactly its length, when its
 * last byte arrives: one copy, never a growing re-concatenation, and memory only for bytes that
 * actually arrived (a header that promises 64 MiB and sends nothing costs nothing). With `bodyBuffer`
 * (the client, whose peer is its node), a body is copied as it arrives into the buffer that gives:
 * the same one copy, made while the bytes are still in the CPU cache, into reused memory.
 */
export class FrameReader {
  private state: ReaderState = { name: 'header' };
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly side: 'node' | 'client', private readonly bodyBuffer?: BodyBuffer) {}

  /** Feeds one read; returns the frames it completed. Throws BulkProtocolError on a malformed frame. */
  push(data: Buffer): Frame[] {
    const out: Frame[] = [];
    const buf = data;
    let at = 0;
    while (at < buf.length) {
      const s = this.state;
      if (s.name === 'body-into') {
        const n = Math.min(buf.length - at, s.header.length - s.filled);
        buf.copy(s.target, s.filled, at, at + n);
        s.filled += n;
        at += n;
        if (s.filled === s.header.length) {
          out.push({ ...s.header, body: s.target });
          this.state = { name: 'header' };
        }
        continue;
      }
      if (s.name === 'body') {
        const n = Math.min(buf.length - at, s.header.length - s.filled);
        s.parts.push(buf.subarray(at, at + n));
        s.filled += n;
        at += n;
        if (s.filled === s.header.length) {
          out.push({ ...s.header, body: Buffer.concat(s.parts, s.filled) });
          this.state = { name: 'header' };
        }
        continue;
      }
      let header: FrameHeader;
      if (this.pendingBytes > 0 || buf.length - at < BULK_HEADER_BYTES) {
        // A header split across reads: gather its 24 bytes (only these are ever concatenated).
        const n = Math.min(buf.length - at, BULK_HEADER_BYTES - this.pendingBytes);
        this.pending.push(buf.subarray(at, at + n));
        this.pendingBytes += n;
        at += n;
        if (this.pendingBytes < BULK_HEADER_BYTES) break;
        header = decodeHeader(Buffer.concat(this.pending, BULK_HEADER_BYTES), 0, this.side);
        this.pending = [];
        this.pendingBytes = 0;
      } else {
        header = decodeHeader(buf, at, this.side);
        at += BULK_HEADER_BYTES;
      }
      if (buf.length - at >= header.length) {
        out.push({ ...header, body: buf.subarray(at, at + header.length) });
        at += header.length;
        continue;
      }
      const target = this.bodyBuffer?.(header) ?? null;
      if (target !== null && target.length !== header.length) throw new Error(`bodyBuffer gave ${target.length} bytes for a ${header.length}-byte body`);
      this.state = target !== null ? { name: 'body-into', header, target, filled: 0 } : { name: 'body', header, parts: [], filled: 0 };
    }
    return out;
  }

  /** True between frames (nothing half-received). */
  get idle(): boolean {
    return this.state.name === 'header' && this.pendingBytes === 0;
  }
}

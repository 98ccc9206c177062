// Wire format of the chunk protocol on a libfabric FI_EP_RDM endpoint (docs/transport.md §Protocol).
// Every message starts with a 32-byte header:
//   0  u32  magic 'KSF1'          8  u32  request id (echoed in the response)
//   4  u8   op                    12 u32  session id (0 in HELLO)
//   5  u8   status (responses)    16 16B  session token from OpenFabricSession (zeros in responses)
//   6  u16  flags
// followed by an op-specific body. In RMA mode an envelope is split: its ciphertext (the bulk) is
// read one-sided with fi_read straight from the owner's buffer, registered as it is (no copy on
// either side), while the rest of the envelope (tag, nonce, ids, epochs: the "head", a small
// protobuf Envelope with empty ciphertext) travels in the control message. Providers without FI_RMA
// get the whole encoded envelope inline. The token binds every request to the tenant authenticated
// over mTLS.
import { kerr } from '../errors.js';
import { Envelope } from '../gen/kiseki/v1/chunk.js';

export const MAGIC = 0x3146534b; // 'KSF1' little-endian
export const HEADER_SIZE = 32;
export const TOKEN_SIZE = 16;
/** Largest control message (header + body) in RMA mode. */
export const CONTROL_SIZE = 4096;

export enum Op {
  Hello = 1,
  Get = 2,
  Release = 3,
  Put = 4,
  HelloReply = 0x81,
  GetReply = 0x82,
  PutReply = 0x84,
}

export enum Status {
  Ok = 0,
  NotFound = 1,
  Denied = 2,
  Failed = 3,
  NoSpace = 4,
  Invalid = 5,
  /** Batched GET: this chunk did not fit the reply; ask again. */
  Later = 6,
}

/** Most chunk ids in one GET (RMA mode; inline mode asks for one at a time). */
export const MAX_GET_BATCH = 32;

export const FLAG_INLINE = 1;

export enum PutOutcomeCode {
  Stored = 0,
  Deduplicated = 1,
}

export interface Header {
  op: Op;
  status: Status;
  flags: number;
  reqId: number;
  session: number;
  token: Buffer;
}

/** A registered window a peer can fi_read. */
export interface RmaWindow {
  len: number;
  addr: bigint;
  key: bigint;
}

const ZERO_TOKEN = Buffer.alloc(TOKEN_SIZE);

export function writeHeader(buf: Buffer, h: Omit<Header, 'token'> & { token?: Buffer }): void {
  buf.writeUInt32LE(MAGIC, 0);
  buf.writeUInt8(h.op, 4);
  buf.writeUInt8(h.status, 5);
  buf.writeUInt16LE(h.flags, 6);
  buf.writeUInt32LE(h.reqId >>> 0, 8);
  buf.writeUInt32LE(h.session >>> 0, 12);
  (h.token ?? ZERO_TOKEN).copy(buf, 16, 0, TOKEN_SIZE);
}

/** Parses a header; throws Integrity on anything that is not one of ours (never guesses). */
export function readHeader(msg: Buffer): Header {
  if (msg.length < HEADER_SIZE || msg.readUInt32LE(0) !== MAGIC) {
    throw kerr('Integrity', `fabric message of ${msg.length} bytes without a KSF1 header`);
  }
  const op = msg.readUInt8(4);
  if (!(op in Op)) throw kerr('Integrity', `fabric message with unknown op ${op}`);
  return {
    op,
    status: msg.readUInt8(5),
    flags: msg.readUInt16LE(6),
    reqId: msg.readUInt32LE(8),
    session: msg.readUInt32LE(12),
    token: msg.subarray(16, 32),
  };
}

function sized(bodyLen: number): Buffer {
  return Buffer.alloc(HEADER_SIZE + bodyLen);
}

// ---- HELLO: body = u16 address length, address (the client's fi_getname) ----
export function encodeHello(reqId: number, token: Buffer, address: Buffer): Buffer {
  const b = sized(2 + address.length);
  writeHeader(b, { op: Op.Hello, status: Status.Ok, flags: 0, reqId, session: 0, token });
  b.writeUInt16LE(address.length, HEADER_SIZE);
  address.copy(b, HEADER_SIZE + 2);
  return b;
}
export function decodeHelloAddress(msg: Buffer): Buffer {
  const len = bodyU16(msg, 0);
  if (len === 0 || HEADER_SIZE + 2 + len > msg.length) throw kerr('Integrity', 'HELLO with a bad address length');
  return Buffer.from(msg.subarray(HEADER_SIZE + 2, HEADER_SIZE + 2 + len));
}
/** HELLO reply: session id in the header; flags say whether the node moves envelopes inline. */
export function encodeHelloReply(reqId: number, status: Status, session: number, flags: number, detail = ''): Buffer {
  return encodeReply(Op.HelloReply, reqId, status, session, flags, detail);
}

// ---- GET: body = u8 count, then per chunk: u8 id length, chunk id ----
export function encodeGet(h: { reqId: number; session: number; token: Buffer }, chunkIds: readonly Buffer[]): Buffer {
  if (chunkIds.length === 0 || chunkIds.length > MAX_GET_BATCH) throw kerr('InvalidArgument', `GET of ${chunkIds.length} chunks (1..${MAX_GET_BATCH})`);
  for (const id of chunkIds) if (id.length === 0 || id.length > 64) throw kerr('InvalidArgument', `chunk id of ${id.length} bytes`);
  const b = sized(1 + chunkIds.reduce((n, id) => n + 1 + id.length, 0));
  writeHeader(b, { op: Op.Get, status: Status.Ok, flags: 0, ...h });
  b.writeUInt8(chunkIds.length, HEADER_SIZE);
  let at = HEADER_SIZE + 1;
  for (const id of chunkIds) {
    b.writeUInt8(id.length, at);
    id.copy(b, at + 1);
    at += 1 + id.length;
  }
  return b;
}
export function decodeGetIds(msg: Buffer): Buffer[] {
  const n = bodyU8(msg, 0);
  if (n === 0 || n > MAX_GET_BATCH) throw kerr('Integrity', `GET of ${n} chunks`);
  const ids: Buffer[] = [];
  let at = HEADER_SIZE + 1;
  for (let i = 0; i < n; i++) {
    const id = decodeChunkId(msg, at);
    ids.push(id);
    at += 1 + id.length;
  }
  return ids;
}
export function decodeChunkId(msg: Buffer, at = HEADER_SIZE): Buffer {
  if (msg.length < at + 1) throw kerr('Integrity', 'fabric request without a chunk id');
  const len = msg.readUInt8(at);
  if (len === 0 || at + 1 + len > msg.length) throw kerr('Integrity', 'fabric request with a bad chunk id length');
  return Buffer.from(msg.subarray(at + 1, at + 1 + len));
}

/** One chunk of a batched RMA GET reply. */
export type GetEntry = { status: Status.Ok; window: RmaWindow; head: Uint8Array } | { status: Exclude<Status, Status.Ok> };

/** Bytes an entry takes in a GET reply. */
export function getEntrySize(e: GetEntry): number {
  return e.status === Status.Ok ? 1 + 24 + 2 + e.head.length : 1;
}

/** GET reply, RMA mode: body = u8 count, then per chunk: u8 status [, window, u16 head length, head]. */
export function encodeGetReplyRma(reqId: number, session: number, entries: readonly GetEntry[]): Buffer {
  const b = sized(1 + entries.reduce((n, e) => n + getEntrySize(e), 0));
  writeHeader(b, { op: Op.GetReply, status: Status.Ok, flags: 0, reqId, session });
  b.writeUInt8(entries.length, HEADER_SIZE);
  let at = HEADER_SIZE + 1;
  for (const e of entries) {
    b.writeUInt8(e.status, at);
    at += 1;
    if (e.status === Status.Ok) {
      writeWindow(b, at, e.window);
      writeHead(b, at + 24, e.head);
      at += 24 + 2 + e.head.length;
    }
  }
  return b;
}
export function decodeGetReplyRma(msg: Buffer, expected: number, maxLen: number): GetEntry[] {
  const n = bodyU8(msg, 0);
  if (n !== expected) throw kerr('Integrity', `GET reply for ${n} chunks, ${expected} asked`);
  const out: GetEntry[] = [];
  let at = HEADER_SIZE + 1;
  for (let i = 0; i < n; i++) {
    if (msg.length < at + 1) throw kerr('Integrity', 'truncated GET reply');
    const status = msg.readUInt8(at) as Status;
    at += 1;
    if (!(status in Status)) throw kerr('Integrity', `GET reply with status ${status}`);
    if (status === Status.Ok) {
      const window = readWindow(msg, at, maxLen);
      const head = readHead(msg, at + 24);
      out.push({ status, window, head });
      at += 24 + 2 + head.length;
    } else {
      out.push({ status });
    }
  }
  return out;
}

/** GET reply, inline mode: body = u64 len, envelope bytes. */
export function encodeGetReplyInline(reqId: number, session: number, envelope: Uint8Array): Buffer {
  const b = sized(8 + envelope.length);
  writeHeader(b, { op: Op.GetReply, status: Status.Ok, flags: FLAG_INLINE, reqId, session });
  b.writeBigUInt64LE(BigInt(envelope.length), HEADER_SIZE);
  b.set(envelope, HEADER_SIZE + 8);
  return b;
}

// ---- RELEASE: the client is done reading the window of request `reqId` (no reply) ----
export function encodeRelease(h: { reqId: number; session: number; token: Buffer }): Buffer {
  const b = sized(0);
  writeHeader(b, { op: Op.Release, status: Status.Ok, flags: 0, ...h });
  return b;
}

// ---- PUT: body = u8 id length, chunk id, then a window (RMA) or u64 len + envelope (inline) ----
/** PUT, RMA mode: body = u8 id length, id, ciphertext window, u16 head length, head. */
export function encodePutRma(h: { reqId: number; session: number; token: Buffer }, chunkId: Buffer, w: RmaWindow, head: Uint8Array): Buffer {
  const b = sized(1 + chunkId.length + 24 + 2 + head.length);
  writeHeader(b, { op: Op.Put, status: Status.Ok, flags: 0, ...h });
  b.writeUInt8(chunkId.length, HEADER_SIZE);
  chunkId.copy(b, HEADER_SIZE + 1);
  writeWindow(b, HEADER_SIZE + 1 + chunkId.length, w);
  writeHead(b, HEADER_SIZE + 1 + chunkId.length + 24, head);
  return b;
}
export function encodePutInline(h: { reqId: number; session: number; token: Buffer }, chunkId: Buffer, envelope: Uint8Array): Buffer {
  const b = sized(1 + chunkId.length + 8 + envelope.length);
  writeHeader(b, { op: Op.Put, status: Status.Ok, flags: FLAG_INLINE, ...h });
  b.writeUInt8(chunkId.length, HEADER_SIZE);
  chunkId.copy(b, HEADER_SIZE + 1);
  const at = HEADER_SIZE + 1 + chunkId.length;
  b.writeBigUInt64LE(BigInt(envelope.length), at);
  b.set(envelope, at + 8);
  return b;
}
export function encodePutReply(reqId: number, session: number, status: Status, outcome: PutOutcomeCode, detail = ''): Buffer {
  const b = encodeReply(Op.PutReply, reqId, status, session, 0, detail);
  if (status === Status.Ok) b.writeUInt8(outcome, HEADER_SIZE);
  return b;
}
export function decodePutOutcome(msg: Buffer): PutOutcomeCode {
  return bodyU8(msg, 0) === PutOutcomeCode.Deduplicated ? PutOutcomeCode.Deduplicated : PutOutcomeCode.Stored;
}

// ---- shared pieces ----
/** A reply with no payload but an optional UTF-8 detail (why it failed). */
export function encodeReply(op: Op, reqId: number, status: Status, session: number, flags: number, detail = ''): Buffer {
  const text = Buffer.from(detail.slice(0, 512), 'utf8');
  const b = sized(Math.max(1, 2 + text.length) + 1);
  writeHeader(b, { op, status, flags, reqId, session });
  if (status !== Status.Ok) {
    b.writeUInt16LE(text.length, HEADER_SIZE);
    text.copy(b, HEADER_SIZE + 2);
  }
  return b;
}
export function replyDetail(msg: Buffer): string {
  if (msg.length < HEADER_SIZE + 2) return '';
  const len = msg.readUInt16LE(HEADER_SIZE);
  return msg.subarray(HEADER_SIZE + 2, Math.min(msg.length, HEADER_SIZE + 2 + len)).toString('utf8');
}

export function writeWindow(b: Buffer, at: number, w: RmaWindow): void {
  b.writeBigUInt64LE(BigInt(w.len), at);
  b.writeBigUInt64LE(w.addr, at + 8);
  b.writeBigUInt64LE(w.key, at + 16);
}
export function readWindow(msg: Buffer, at: number, maxLen: number): RmaWindow {
  if (msg.length < at + 24) throw kerr('Integrity', 'fabric message with a truncated RMA window');
  const len = Number(msg.readBigUInt64LE(at));
  if (len <= 0 || len > maxLen) throw kerr('Integrity', `fabric RMA window of ${len} bytes (limit ${maxLen})`);
  return { len, addr: msg.readBigUInt64LE(at + 8), key: msg.readBigUInt64LE(at + 16) };
}
/** The inline payload at `at`: u64 length then bytes (copied: receive buffers are reused). */
export function readInline(msg: Buffer, at: number): Buffer {
  if (msg.length < at + 8) throw kerr('Integrity', 'fabric message with a truncated inline payload');
  const len = Number(msg.readBigUInt64LE(at));
  if (len <= 0 || at + 8 + len > msg.length) throw kerr('Integrity', `fabric inline payload of ${len} bytes does not fit the message`);
  return Buffer.from(msg.subarray(at + 8, at + 8 + len));
}

// ---- envelope split for RMA mode ----
/** Largest envelope head that fits a control message next to the header, id and window. */
export const MAX_HEAD = CONTROL_SIZE - HEADER_SIZE - 1 - 64 - 24 - 2;

/** The envelope without its ciphertext (protobuf), and the ciphertext as a Buffer view (no copy). */
export function splitEnvelope(env: Envelope): { head: Uint8Array; ciphertext: Buffer } {
  const head = Envelope.encode({ ...env, ciphertext: Buffer.alloc(0) }).finish();
  if (head.length > MAX_HEAD) throw kerr('InvalidArgument', `envelope metadata of ${head.length} bytes exceeds the fabric limit ${MAX_HEAD}`);
  const ct: Uint8Array = env.ciphertext;
  return { head, ciphertext: Buffer.isBuffer(ct) ? ct : Buffer.from(ct.buffer, ct.byteOffset, ct.byteLength) };
}

/** Rebuilds an envelope from its head and the ciphertext read over the fabric. */
export function joinEnvelope(head: Uint8Array, ciphertext: Buffer): Envelope {
  let env: Envelope;
  try {
    env = Envelope.decode(head);
  } catch (e) {
    throw kerr('Integrity', 'undecodable envelope head on the fabric', e);
  }
  if (env.ciphertext.length !== 0) throw kerr('Integrity', 'envelope head carries ciphertext');
  env.ciphertext = ciphertext;
  return env;
}

function writeHead(b: Buffer, at: number, head: Uint8Array): void {
  b.writeUInt16LE(head.length, at);
  b.set(head, at + 2);
}

/** The head at `at` (u16 length, bytes), copied out of the reused receive buffer. */
export function readHead(msg: Buffer, at: number): Buffer {
  if (msg.length < at + 2) throw kerr('Integrity', 'fabric message without an envelope head');
  const len = msg.readUInt16LE(at);
  if (at + 2 + len > msg.length) throw kerr('Integrity', 'fabric envelope head does not fit the message');
  return Buffer.from(msg.subarray(at + 2, at + 2 + len));
}

function bodyU8(msg: Buffer, off: number): number {
  if (msg.length < HEADER_SIZE + off + 1) throw kerr('Integrity', 'fabric message body too short');
  return msg.readUInt8(HEADER_SIZE + off);
}
function bodyU16(msg: Buffer, off: number): number {
  if (msg.length < HEADER_SIZE + off + 2) throw kerr('Integrity', 'fabric message body too short');
  return msg.readUInt16LE(HEADER_SIZE + off);
}

/** Largest sealed envelope either side accepts (64 MiB chunk_size maximum plus envelope fields). */
export const MAX_ENVELOPE = 64 * 1024 * 1024 + 64 * 1024;
/** Largest ciphertext accepted in an RMA window (chunk_size is at most 64 MiB; GCM adds nothing). */
export const MAX_CIPHERTEXT = 64 * 1024 * 1024;

/**
 * How this process moves envelopes: RMA when the provider offers FI_RMA (KISEKI_FABRIC_RMA=0 forces
 * the send/recv path, which tests use to cover providers without RMA), with receive rings sized for
 * the mode: small control messages, or whole envelopes inline (KISEKI_FABRIC_INLINE_MAX bytes).
 */
export function wireMode(providerHasRma: boolean, env: NodeJS.ProcessEnv = process.env): { rma: boolean; recvSize: number; recvDepth: number } {
  const rma = providerHasRma && env.KISEKI_FABRIC_RMA !== '0';
  if (rma) return { rma, recvSize: CONTROL_SIZE, recvDepth: 64 };
  const inlineMax = Number(env.KISEKI_FABRIC_INLINE_MAX ?? 8 * 1024 * 1024 + 4096);
  if (!Number.isInteger(inlineMax) || inlineMax < CONTROL_SIZE || inlineMax > MAX_ENVELOPE + 4096) {
    throw kerr('InvalidArgument', `KISEKI_FABRIC_INLINE_MAX=${env.KISEKI_FABRIC_INLINE_MAX} must be ${CONTROL_SIZE}..${MAX_ENVELOPE + 4096}`);
  }
  return { rma, recvSize: inlineMax, recvDepth: 8 };
}

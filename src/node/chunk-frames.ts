// ChunkFrame framing shared by the node's ChunkDataService and the client's GrpcChunkTransport
// (docs/protocol.md "ChunkFrame"): a chunk travels as frames of ≤ 1 MiB of ciphertext; the first
// carries the envelope header (ciphertext empty) and the total ciphertext length, the last sets last.
// The assembler is an explicit state machine: awaiting-header ⇄ in-chunk.
import { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';
import { KisekiError, kerr } from '../errors.js';
import { Envelope } from '../gen/kiseki/v1/chunk.js';
import { ChunkId } from '../gen/kiseki/v1/common.js';
import { ChunkFrame } from '../gen/kiseki/v1/chunk_data.js';
import { MAX_CHUNK_BYTES, chunkIdOf, envelopeOf, invalid } from './validate.js';

export const FRAME_BYTES = 1024 * 1024;

/** Frames of one envelope; data slices share the ciphertext's memory (no copy). */
export function* framesOf(env: Envelope): Generator<ChunkFrame> {
  const ct = env.ciphertext;
  const header: Envelope = { ...env, ciphertext: Buffer.alloc(0) };
  const chunkId = env.chunkId;
  let offset = 0;
  do {
    const data = ct.subarray(offset, Math.min(ct.length, offset + FRAME_BYTES));
    const first = offset === 0;
    yield {
      chunkId: first ? chunkId : undefined,
      header: first ? header : undefined,
      ciphertextLength: first ? ct.length : 0,
      offset,
      data,
      last: offset + data.length === ct.length,
    };
    offset += data.length;
  } while (offset < ct.length);
}

/**
 * ChunkFrame → bytes with a single copy of the data: the small fields through the generated encoder,
 * then field 5 (data) appended, which protobuf allows in any order.
 */
export function encodeFrame(frame: ChunkFrame): Buffer {
  const head = ChunkFrame.encode({ ...frame, data: Buffer.alloc(0) }).finish();
  const tag = new BinaryWriter().uint32((5 << 3) | 2).uint32(frame.data.length).finish();
  return Buffer.concat([head, tag, frame.data], head.length + tag.length + frame.data.length);
}

type AssemblerState =
  | { name: 'awaiting-header' }
  | { name: 'in-chunk'; header: Envelope; chunkId: Buffer; total: number; received: number; parts: Buffer[] };

/** Reassembles envelopes from frames; throws InvalidArgument naming the field on any framing error. */
export class FrameAssembler {
  private state: AssemblerState = { name: 'awaiting-header' };

  /** Feeds one frame; returns the completed envelope when this frame was its last. */
  push(f: ChunkFrame): Envelope | null {
    if (f.data.length > FRAME_BYTES) throw invalid('data', `a frame carries at most ${FRAME_BYTES} bytes (got ${f.data.length})`);
    let s = this.state;
    if (s.name === 'awaiting-header') {
      const header = envelopeOf(f.header, 'header', 0, { headerOnly: true });
      const chunkId = chunkIdOf(header.chunkId, 'header.chunk_id');
      if (f.chunkId && !chunkIdOf(f.chunkId, 'chunk_id').equals(chunkId)) throw invalid('chunk_id', 'differs from header.chunk_id');
      if (!Number.isSafeInteger(f.ciphertextLength) || f.ciphertextLength > MAX_CHUNK_BYTES) throw invalid('ciphertext_length', `at most ${MAX_CHUNK_BYTES} (got ${f.ciphertextLength})`);
      s = { name: 'in-chunk', header, chunkId, total: f.ciphertextLength, received: 0, parts: [] };
      this.state = s;
    } else {
      if (f.header) throw invalid('header', `only the first frame of a chunk carries it (chunk ${s.chunkId.toString('hex')} is not finished)`);
      if (f.chunkId && !chunkIdOf(f.chunkId, 'chunk_id').equals(s.chunkId)) throw invalid('chunk_id', `frame for another chunk while ${s.chunkId.toString('hex')} is not finished`);
    }
    if (f.offset !== s.received) throw invalid('offset', `expected ${s.received} (frames in order, no gaps), got ${f.offset}`);
    if (s.received + f.data.length > s.total) throw invalid('data', `more than ciphertext_length ${s.total} bytes`);
    if (f.data.length > 0) s.parts.push(f.data);
    s.received += f.data.length;
    if (!f.last) return null;
    if (s.received !== s.total) throw invalid('last', `set after ${s.received} of ${s.total} bytes`);
    this.state = { name: 'awaiting-header' };
    return { ...s.header, ciphertext: s.parts.length === 1 ? s.parts[0]! : Buffer.concat(s.parts, s.total) };
  }

  /** Call at end of stream: a half-received chunk is an error, never silently dropped. */
  finish(): void {
    if (this.state.name === 'in-chunk') throw kerr('InvalidArgument', `stream ended inside chunk ${this.state.chunkId.toString('hex')}`);
  }
}

/**
 * bytes → ChunkFrame with `data` a view into `buf` (no copy); grpc-js hands each message over in its
 * own buffer. Anything malformed throws InvalidArgument (the server answers INVALID_ARGUMENT; the
 * client's transport reports the node as failed), never a bare decoder exception.
 */
export function decodeFrame(buf: Buffer): ChunkFrame {
  try {
    return readFrame(buf);
  } catch (err) {
    throw KisekiError.is(err) ? err : kerr('InvalidArgument', `malformed chunk frame: ${(err as Error).message}`, err);
  }
}

function readFrame(buf: Buffer): ChunkFrame {
  const reader = new BinaryReader(buf);
  const frame: ChunkFrame = { chunkId: undefined, header: undefined, ciphertextLength: 0, offset: 0, data: EMPTY, last: false };
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    switch (tag) {
      case 10: frame.chunkId = ChunkId.decode(reader, reader.uint32()); break;
      case 18: frame.header = Envelope.decode(reader, reader.uint32()); break;
      case 24: frame.ciphertextLength = uint64(reader, 'ciphertext_length'); break;
      case 32: frame.offset = uint64(reader, 'offset'); break;
      case 42: {
        const len = reader.uint32();
        const start = reader.pos;
        if (start + len > reader.len) throw new Error('data runs past the end of the message');
        reader.pos = start + len;
        frame.data = buf.subarray(start, start + len);
        break;
      }
      case 48: frame.last = reader.bool(); break;
      default:
        if ((tag & 7) === 4 || tag === 0) throw new Error(`invalid wire tag ${tag}`);
        reader.skip(tag & 7);
    }
  }
  return frame;
}

const EMPTY = Buffer.alloc(0);

/** Envelope.decode with `ciphertext` a view into `buf` (a file just read: no second copy of 1–64 MiB). */
export function decodeEnvelopeView(buf: Buffer): Envelope {
  const reader = new BinaryReader(buf);
  let ciphertext: Buffer = EMPTY;
  const rest = new BinaryWriter();
  while (reader.pos < reader.len) {
    const start = reader.pos;
    const tag = reader.uint32();
    if (tag === 10) {
      const len = reader.uint32();
      const from = reader.pos;
      if (from + len > reader.len) throw new Error('ciphertext runs past the end of the envelope');
      reader.pos = from + len;
      ciphertext = buf.subarray(from, from + len);
      continue;
    }
    if ((tag & 7) === 4 || tag === 0) throw new Error(`invalid wire tag ${tag}`);
    reader.skip(tag & 7);
    rest.raw(buf.subarray(start, reader.pos));
  }
  return { ...Envelope.decode(rest.finish()), ciphertext };
}

/**
 * Envelope → exactly the bytes Envelope.encode gives (field 1, the ciphertext, first; then the small
 * fields), as parts that share the ciphertext's memory. For writev: no copy of 1–64 MiB into a
 * growing protobuf writer and a second one out of it.
 */
export function encodeEnvelopeParts(env: Envelope): Buffer[] {
  const head = Buffer.from(Envelope.encode({ ...env, ciphertext: EMPTY }).finish());
  if (env.ciphertext.length === 0) return [head];
  const tag = Buffer.from(new BinaryWriter().uint32((1 << 3) | 2).uint32(env.ciphertext.length).finish());
  return [tag, env.ciphertext, head];
}

function uint64(reader: BinaryReader, field: string): number {
  const v = BigInt(reader.uint64().toString());
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${field} exceeds 2^53`);
  return Number(v);
}

// Generators and runners shared by the short (default tier) and long fuzz tests: malformed protobuf
// for every RPC a kiseki-node serves, sent raw through a grpc-js client with identity serializers;
// and garbage for the client's decoders; KSB1 frame sequences for the node's bulk chunk stream. Counts of cases tried are returned for docs/reliability.md.
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { CachePolicyServiceService } from '../../src/gen/kiseki/v1/cache_policy.js';
import { ChunkDataServiceService } from '../../src/gen/kiseki/v1/chunk_data.js';
import { ClusterChunkServiceService } from '../../src/gen/kiseki/v1/cluster_chunks.js';
import { DiscoveryServiceService } from '../../src/gen/kiseki/v1/discovery.js';
import { KeyManagerServiceService } from '../../src/gen/kiseki/v1/key.js';
import { NamespaceServiceService } from '../../src/gen/kiseki/v1/namespace.js';
import { TenantKeyAccessServiceService } from '../../src/gen/kiseki/v1/tenant_keys.js';
import type { Socket } from 'node:net';
import { BULK_MAGIC, FrameReader } from '../../src/transport/bulk-protocol.js';
import { CHUNK_CHANNEL_OPTIONS } from '../../src/transport/transport-grpc.js';

export interface Method { path: string; requestStream: boolean; responseStream: boolean }

export const METHODS: Method[] = [CachePolicyServiceService, ChunkDataServiceService, ClusterChunkServiceService, DiscoveryServiceService,
  KeyManagerServiceService, NamespaceServiceService, TenantKeyAccessServiceService]
  .flatMap((svc) => Object.values(svc).map((m) => ({ path: m.path, requestStream: m.requestStream, responseStream: m.responseStream })));

const varint = (n: number): number[] => {
  const out: number[] = [];
  let v = BigInt(n);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return out;
};

/** One protobuf field with a legal or illegal wire type, a lying length, or a truncated body. */
const field: fc.Arbitrary<number[]> = fc.oneof(
  fc.tuple(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 0, max: 7 }), fc.uint8Array({ maxLength: 40 }))
    .map(([no, wt, body]) => [...varint((no << 3) | wt), ...body]),
  fc.tuple(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 0, max: 2 ** 32 }), fc.uint8Array({ maxLength: 40 }))
    .map(([no, len, body]) => [...varint((no << 3) | 2), ...varint(len), ...body]),
  fc.integer({ min: 1, max: 20 }).map((no) => [...varint(no << 3), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
  fc.tuple(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 30 }))
    .map(([no, depth]) => Array.from({ length: depth }, () => [...varint((no << 3) | 2), 0x7f]).flat()),
);

/** A malformed (or accidentally well-formed) request message. */
export const message: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b)),
  fc.array(field, { minLength: 1, maxLength: 12 }).map((fs) => Buffer.from(fs.flat())),
);

/** Oversized: one length-delimited field of `mib` MiB in field 1..5 (the node must refuse or handle, not fall over). */
export function oversized(fieldNo: number, mib: number): Buffer {
  const body = Buffer.alloc(mib << 20, 0x41);
  return Buffer.concat([Buffer.from([...varint((fieldNo << 3) | 2), ...varint(body.length)]), body]);
}

export interface RawOutcome { code: grpc.status; details: string }

/** Sends `msgs` to `m` raw; resolves with the final status (never rejects). Deadline bounds a hang. */
export function callRaw(client: grpc.Client, m: Method, msgs: Buffer[], deadlineMs: number): Promise<RawOutcome> {
  const id = (b: Buffer) => b;
  const opts = { deadline: Date.now() + deadlineMs };
  return new Promise((resolve) => {
    const done = (err: grpc.ServiceError | null) => resolve({ code: err?.code ?? grpc.status.OK, details: err?.details ?? '' });
    if (!m.requestStream && !m.responseStream) {
      client.makeUnaryRequest(m.path, id, id, msgs[0]!, new grpc.Metadata(), opts, (e) => done(e));
    } else if (m.requestStream && !m.responseStream) {
      const call = client.makeClientStreamRequest(m.path, id, id, new grpc.Metadata(), opts, (e) => done(e));
      for (const b of msgs) call.write(b);
      call.end();
    } else {
      const call = m.requestStream
        ? client.makeBidiStreamRequest(m.path, id, id, new grpc.Metadata(), opts)
        : client.makeServerStreamRequest(m.path, id, id, msgs[0]!, new grpc.Metadata(), opts);
      call.on('data', () => undefined);
      call.on('error', (e: grpc.ServiceError) => done(e));
      call.on('end', () => undefined);
      call.on('status', (s: grpc.StatusObject) => { if (s.code === grpc.status.OK) done(null); });
      if (m.requestStream) {
        const w = call as grpc.ClientDuplexStream<Buffer, Buffer>;
        for (const b of msgs) w.write(b);
        w.end();
      }
    }
  });
}

export function rawClient(target: string, creds: grpc.ChannelCredentials): grpc.Client {
  return new grpc.Client(target, creds, CHUNK_CHANNEL_OPTIONS);
}

/**
 * KSB1 frame sequences for the node's bulk chunk stream (ADR 0033): raw garbage; well-formed headers
 * with random ops, statuses, ids, counts and (possibly lying) lengths; well-framed PUTs of garbage
 * envelopes; well-framed GETs of random ids. Every sequence ends with a PING, answered only if the
 * connection survived what came before.
 */
export const KSB_PING_ID = 0xffff;

/** A KSB1 header with any field values (encodeHeader's own checks would refuse some). */
export function ksbHeader(op: number, status: number, id: number, arg: number, length: number): Buffer {
  const b = Buffer.alloc(24);
  b.writeUInt32LE(BULK_MAGIC, 0);
  b.writeUInt8(1, 4);
  b.writeUInt8(op & 0xff, 5);
  b.writeUInt16LE(status & 0xffff, 6);
  b.writeUInt32LE(id >>> 0, 8);
  b.writeUInt32LE(arg >>> 0, 12);
  b.writeUInt32LE(length >>> 0, 16);
  return b;
}

export const ksbSequence: fc.Arbitrary<Buffer> = (() => {
  const header = ksbHeader;
  const frame = fc.oneof(
    fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
    // Mostly honest lengths (a short one leaves the node rightly waiting for the rest of the body).
    fc.tuple(fc.constantFrom(1, 2, 3, 0x81, 0xff, 0, 7), fc.constantFrom(0, 0, 0, 1, 65535), fc.nat(), fc.nat({ max: 300 }),
      fc.oneof({ weight: 6, arbitrary: fc.constant(-1) }, fc.nat({ max: 300 }), fc.constant(0xffffffff), fc.constant(64 * 1024 * 1024 + 64 * 1024 + 1)),
      fc.uint8Array({ maxLength: 300 }))
      .map(([op, st, id, arg, len, body]) => Buffer.concat([header(op, st, id, arg, len < 0 ? body.length : len), Buffer.from(body)])),
    message.map((env) => Buffer.concat([header(2, 0, 5, 1, env.length), env])),
    fc.integer({ min: 1, max: 8 }).map((n) => Buffer.concat([header(1, 0, 6, n, n * 32), Buffer.alloc(n * 32, 0xab)])),
  );
  return fc.array(frame, { minLength: 1, maxLength: 4 }).map((fs) => Buffer.concat([...fs, header(3, 0, KSB_PING_ID, 0, 0)]));
})();

export interface BulkRawOutcome { closed: boolean; replies: { op: number; status: number; id: number; body: Buffer }[]; malformedReply: string | null }

/** Writes `bytes` on a fresh connection, collects replies until the node closes it or `settleMs` passes. */
export async function sendBulkRaw(open: () => Socket, bytes: Buffer, settleMs: number): Promise<BulkRawOutcome> {
  const s = open();
  const reader = new FrameReader('client');
  const out: BulkRawOutcome = { closed: false, replies: [], malformedReply: null };
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, settleMs);
    s.on('data', (d: Buffer) => {
      try {
        out.replies.push(...reader.push(d));
      } catch (e) {
        out.malformedReply = (e as Error).message;
      }
      // Requests run concurrently: the PONG can overtake earlier answers, so give those a moment.
      if (out.replies.some((r) => r.id === KSB_PING_ID)) { clearTimeout(timer); setTimeout(resolve, 150); }
    });
    s.on('error', () => undefined);
    s.on('close', () => { out.closed = true; clearTimeout(timer); resolve(); });
    s.write(bytes);
  });
  s.destroy();
  return out;
}

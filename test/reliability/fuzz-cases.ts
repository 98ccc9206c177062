// Generators and runners shared by the short (default tier) and long fuzz tests: malformed protobuf
// for every RPC a kiseki-node serves, sent raw through a grpc-js client with identity serializers;
// and garbage for the client's decoders. Counts of cases tried are returned for docs/reliability.md.
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { CachePolicyServiceService } from '../../src/gen/kiseki/v1/cache_policy.js';
import { ChunkDataServiceService } from '../../src/gen/kiseki/v1/chunk_data.js';
import { ClusterChunkServiceService } from '../../src/gen/kiseki/v1/cluster_chunks.js';
import { DiscoveryServiceService } from '../../src/gen/kiseki/v1/discovery.js';
import { KeyManagerServiceService } from '../../src/gen/kiseki/v1/key.js';
import { NamespaceServiceService } from '../../src/gen/kiseki/v1/namespace.js';
import { TenantKeyAccessServiceService } from '../../src/gen/kiseki/v1/tenant_keys.js';
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

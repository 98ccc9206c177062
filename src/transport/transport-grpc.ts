// ChunkTransport over gRPC ChunkDataService (TCP+TLS, or a node's unix socket): the fallback data
// path that is always there. Frames of ≤ 1 MiB (chunk-frames.ts), one copy per direction: frames
// are encoded straight from the envelope's ciphertext and decoded as views of the received message.
//
// GETs and PUTs travel on two separate HTTP/2 connections, so that each connection carries bulk data
// one way only. Node's HTTP/2 stops reading its socket while one of its own writes is pending: with
// chunks going up (PUT) and coming down (GET) on one connection, both peers filled each other's
// socket buffers, each waited for its write before reading again, and every call on the connection
// hung for good (seen as a mount that stopped answering reads after a write).
import * as grpc from '@grpc/grpc-js';
import { type ErrorKind, KisekiError, kerr } from '../errors.js';
import type { Envelope } from '../gen/kiseki/v1/chunk.js';
import { ChunkDataServiceClient, ChunkDataServiceService, type ChunkFrame } from '../gen/kiseki/v1/chunk_data.js';
import { FrameAssembler, decodeFrame, encodeFrame, framesOf } from '../node/chunk-frames.js';
import { stallTimeoutMs, type ChunkTransport } from './transport.js';

export interface GrpcTransportOptions {
  /** 'host:port' (TLS) or 'unix:/path/to/node.sock'. */
  target: string;
  credentials: grpc.ChannelCredentials;
  channelOptions?: grpc.ChannelOptions;
  /** A call that makes no progress this long fails (default: stallTimeoutMs()). */
  stallTimeoutMs?: number;
}

/** Large messages and windows: chunks are 1–64 MiB, frames 1 MiB. */
export const CHUNK_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': 80 * 1024 * 1024,
  'grpc.max_send_message_length': 80 * 1024 * 1024,
  'grpc-node.flow_control_window': 16 * 1024 * 1024,
  // A connection of this transport's own: grpc-js would otherwise share one among equal channels.
  'grpc.use_local_subchannel_pool': 1,
  // A restarted node must be dialled again within moments, not after grpc-js's default backoff
  // (1 s growing to 120 s), while readers wait for it (chunk-reader.ts retries unreachable replicas).
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 2_000,
};

const FastClient = grpc.makeGenericClientConstructor({
  ...ChunkDataServiceService,
  putChunks: { ...ChunkDataServiceService.putChunks, requestSerialize: encodeFrame },
  getChunks: { ...ChunkDataServiceService.getChunks, responseDeserialize: decodeFrame },
}, 'kiseki.v1.ChunkDataService') as unknown as typeof ChunkDataServiceClient;

const STATUS_KIND: Partial<Record<grpc.status, ErrorKind>> = {
  [grpc.status.NOT_FOUND]: 'NotFound',
  [grpc.status.RESOURCE_EXHAUSTED]: 'NoSpace',
  [grpc.status.INVALID_ARGUMENT]: 'InvalidArgument',
  [grpc.status.PERMISSION_DENIED]: 'PermissionDenied',
  [grpc.status.UNAUTHENTICATED]: 'PermissionDenied',
  [grpc.status.DATA_LOSS]: 'Integrity',
};

/** A gRPC failure as a KisekiError; anything not about the request itself is TransportFailed. */
export function transportError(err: unknown, what: string): KisekiError {
  if (KisekiError.is(err)) return err;
  const se = err as Partial<grpc.ServiceError>;
  const kind = (se.code !== undefined && STATUS_KIND[se.code]) || 'TransportFailed';
  const errno = Number(se.metadata?.get('kiseki-errno')[0]);
  return new KisekiError(kind, `${what}: ${se.details ?? se.message ?? String(err)}`, {
    cause: err, ...(kind !== 'TransportFailed' && Number.isInteger(errno) && errno > 0 ? { errno } : {}),
  });
}

type CallState = 'open' | 'closing' | 'closed';
type Direction = 'get' | 'put';

/**
 * One HTTP/2 connection's client and the calls in flight on it. A call that stalls condemns the whole
 * connection: its other calls fail at once and the next call dials a new one. After a peer's kill -9,
 * Node's HTTP/2 session has been seen to stay "ready" over a socket that was already gone, queueing
 * every new call's frames for good; reusing it made each later call wait out its own stall timeout.
 */
class ChunkChannel {
  readonly client: ChunkDataServiceClient;
  /** How to fail each call in flight here. */
  readonly calls = new Set<(err: KisekiError) => void>();

  constructor(opts: GrpcTransportOptions, options: grpc.ChannelOptions) {
    this.client = new FastClient(opts.target, opts.credentials, options);
  }
}

export class GrpcChunkTransport implements ChunkTransport {
  readonly name = 'tcp-tls' as const;
  /** Downloads (chunks flow node → client only) and uploads (client → node only), one connection each. */
  private readonly channels: Record<Direction, ChunkChannel>;
  private state: CallState = 'open';
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly stallMs: number;
  private readonly newChannel: () => ChunkChannel;

  constructor(opts: GrpcTransportOptions) {
    this.stallMs = opts.stallTimeoutMs ?? stallTimeoutMs();
    const options = { ...CHUNK_CHANNEL_OPTIONS, ...opts.channelOptions };
    this.newChannel = () => new ChunkChannel(opts, options);
    this.channels = { get: this.newChannel(), put: this.newChannel() };
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    const done = (): void => { this.inflight.delete(p); };
    p.then(done, done);
    return p;
  }

  private closedError(): KisekiError | null {
    return this.state === 'open' ? null : kerr('Closed', 'the gRPC chunk transport was closed');
  }

  /** A stalled connection: fail every call on it and route later calls to a fresh one. */
  private condemn(direction: Direction, ch: ChunkChannel, err: KisekiError): void {
    if (this.channels[direction] !== ch) return;
    this.channels[direction] = this.newChannel();
    for (const fail of [...ch.calls]) fail(err);
    ch.client.close();
  }

  getChunks(chunkIds: readonly Buffer[], signal?: AbortSignal): Promise<Envelope[]> {
    const closed = this.closedError() ?? (signal?.aborted ? kerr('Closed', 'getChunks aborted') : null);
    if (closed) return Promise.reject(closed);
    if (chunkIds.length === 0) return Promise.resolve([]);
    return this.track(new Promise<Envelope[]>((resolve, reject) => {
      const ch = this.channels.get;
      const call = ch.client.getChunks({ chunkIds: chunkIds.map((value) => ({ value })) });
      const assembler = new FrameAssembler();
      const out: Envelope[] = [];
      let failed = false;
      const stall = this.watchdog(() => this.condemn('get', ch, kerr('TransportFailed', `getChunks: no data from the node for ${this.stallMs} ms`)));
      const finish = (): void => {
        failed = true;
        stall.stop();
        ch.calls.delete(fail);
        signal?.removeEventListener('abort', onAbort);
      };
      const fail = (err: KisekiError): void => {
        if (failed) return;
        finish();
        call.cancel();
        reject(err);
      };
      ch.calls.add(fail);
      const onAbort = (): void => fail(kerr('Closed', 'getChunks aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      call.on('data', (frame: ChunkFrame) => {
        stall.progress();
        try {
          const env = assembler.push(frame);
          if (!env) return;
          const want = chunkIds[out.length];
          if (!want || !env.chunkId!.value.equals(want)) throw kerr('Integrity', `node sent chunk ${env.chunkId!.value.toString('hex')} out of order`);
          out.push(env);
        } catch (err) {
          fail(KisekiError.is(err) && err.kind === 'InvalidArgument' ? kerr('TransportFailed', `node sent malformed frames: ${err.message}`) : transportError(err, 'getChunks'));
        }
      });
      call.on('error', (err) => fail(transportError(err, 'getChunks')));
      call.on('end', () => {
        if (failed) return;
        if (out.length !== chunkIds.length) return fail(kerr('TransportFailed', `node ended the stream after ${out.length} of ${chunkIds.length} chunks`));
        finish();
        resolve(out);
      });
    }));
  }

  putChunks(envelopes: readonly Envelope[], signal?: AbortSignal): Promise<void> {
    const closed = this.closedError() ?? (signal?.aborted ? kerr('Closed', 'putChunks aborted') : null);
    if (closed) return Promise.reject(closed);
    if (envelopes.length === 0) return Promise.resolve();
    return this.track(new Promise<void>((resolve, reject) => {
      const ch = this.channels.put;
      let settled = false;
      let wakeWriter: (() => void) | null = null;
      const stall = this.watchdog(() => this.condemn('put', ch, kerr('TransportFailed', `putChunks: the node took nothing and answered nothing for ${this.stallMs} ms`)));
      const settle = (err: KisekiError | null): void => {
        if (settled) return;
        settled = true;
        stall.stop();
        ch.calls.delete(fail);
        signal?.removeEventListener('abort', onAbort);
        wakeWriter?.();
        if (err) reject(err); else resolve();
      };
      const fail = (err: KisekiError): void => { settle(err); call.cancel(); };
      const call = ch.client.putChunks((err) => settle(err ? transportError(err, 'putChunks') : null));
      ch.calls.add(fail);
      const onAbort = (): void => fail(kerr('Closed', 'putChunks aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      // Back-pressure: wait for 'drain', or for the call to end early (then stop writing).
      const drained = (): Promise<void> => new Promise<void>((r) => {
        wakeWriter = () => { call.off('drain', wake); r(); };
        const wake = (): void => { wakeWriter = null; r(); };
        call.once('drain', wake);
      });
      (async () => {
        for (const env of envelopes) {
          for (const frame of framesOf(env)) {
            if (settled) return;
            if (!call.write(frame)) await drained();
            stall.progress();
          }
        }
        if (!settled) call.end();
      })().catch((err) => fail(transportError(err, 'putChunks')));
    }));
  }

  /** Fires `onStall` once no progress() came for stallMs; stop() when the call settles. */
  private watchdog(onStall: () => void): { progress(): void; stop(): void } {
    const timer = setTimeout(onStall, this.stallMs);
    return {
      progress: () => timer.refresh(),
      stop: () => clearTimeout(timer),
    };
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closing';
    await Promise.allSettled([...this.inflight]);
    this.channels.get.client.close();
    this.channels.put.client.close();
    this.state = 'closed';
  }
}

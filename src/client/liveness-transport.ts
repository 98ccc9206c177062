// I-CC6 counts every successful exchange with a canonical endpoint, chunk transfers included: a
// session busy streaming chunks must not be wiped as "disconnected" because no unary RPC ran.
import type { Envelope } from '../gen/kiseki/v1/chunk.js';
import type { ChunkTransport, TransportName } from '../transport/transport.js';
import { getEach, type EachChunkTransport, type OnChunk } from '../transport/chunk-handoff.js';
import type { Clock } from '../cache/clock.js';
import type { RpcLiveness } from './rpc.js';

export class LivenessRecordingTransport implements EachChunkTransport {
  readonly #inner: ChunkTransport;
  readonly #liveness: RpcLiveness;
  readonly #clock: Clock;

  constructor(inner: ChunkTransport, liveness: RpcLiveness, clock: Clock) {
    this.#inner = inner;
    this.#liveness = liveness;
    this.#clock = clock;
  }

  get name(): TransportName {
    return this.#inner.name;
  }

  async getChunks(chunkIds: readonly Buffer[], signal?: AbortSignal): Promise<Envelope[]> {
    const envelopes = await this.#inner.getChunks(chunkIds, signal);
    this.#liveness.record(this.#clock.now());
    return envelopes;
  }

  async getEach(chunkIds: readonly Buffer[], onChunk: OnChunk, signal?: AbortSignal): Promise<void> {
    await getEach(this.#inner, chunkIds, onChunk, signal);
    this.#liveness.record(this.#clock.now());
  }

  async putChunks(envelopes: readonly Envelope[], signal?: AbortSignal): Promise<void> {
    await this.#inner.putChunks(envelopes, signal);
    this.#liveness.record(this.#clock.now());
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}

// The seam between the client and the ways chunks move. Every implementation moves *sealed*
// envelopes only: plaintext never reaches this layer (D2). Implementations:
//   transport-grpc.ts    gRPC ChunkDataService over TCP+TLS (always available)
//   transport-fabric.ts  libfabric FI_EP_RDM via native/transport (cxi, verbs;ofi_rxm, tcp, net)
//   transport-bulk.ts    the node's bulk chunk stream (KSB1 frames over mTLS TCP or a unix socket)
// transport-selector.ts picks one per node from the probe, health and KISEKI_TRANSPORT.
import type { Envelope } from '../gen/kiseki/v1/chunk.js';

export type TransportName = 'cxi' | 'verbs' | 'fabric-tcp' | 'stream' | 'tcp-tls';

/** One node's chunk endpoint as the client sees it. */
export interface ChunkTransport {
  readonly name: TransportName;
  /**
   * Fetches sealed chunks in request order. Rejects with KisekiError NotFound / TransportFailed.
   * To get each chunk as soon as it lands instead, use getEach() (chunk-handoff.ts, ADR 0036).
   */
  getChunks(chunkIds: readonly Buffer[], signal?: AbortSignal): Promise<Envelope[]>;
  /** Stores sealed chunks (idempotent). */
  putChunks(envelopes: readonly Envelope[], signal?: AbortSignal): Promise<void>;
  /** Drains in-flight calls, then releases the connection. Idempotent. */
  close(): Promise<void>;
}

/**
 * How long a chunk call may make no progress (no bytes in or out, no answer) before it fails as
 * TransportFailed: a frozen or silently dead node must cost a reader or writer a bounded wait, never
 * a hang. `KISEKI_STREAM_TIMEOUT_MS`, default 30 s.
 */
export function stallTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.KISEKI_STREAM_TIMEOUT_MS ?? 30_000);
  return Number.isFinite(v) && v > 0 ? v : 30_000;
}

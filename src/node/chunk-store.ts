// The seam between kiseki-node's chunk persistence and the services that serve it (gRPC
// ChunkDataService, ClusterChunkService, the libfabric listener). Chunks are sealed envelopes kept
// per (tenant, chunk_id): a tenant can never be served another tenant's chunk.
import type { Envelope } from '../gen/kiseki/v1/chunk.js';

export type PutOutcome = 'stored' | 'deduplicated';

export interface ChunkStore {
  /** The envelope stored for (tenant, chunkId), or null. */
  get(tenant: string, chunkId: Buffer): Promise<Envelope | null>;
  /** Persists durably (fsync) before resolving. Rejects with KisekiError NoSpace when the disk is full. */
  put(tenant: string, envelope: Envelope): Promise<PutOutcome>;
  has(tenant: string, chunkId: Buffer): Promise<boolean>;
  /** Removes (tenant, chunkId); false when it was not there. */
  delete(tenant: string, chunkId: Buffer): Promise<boolean>;
  /** When (tenant, chunkId) was stored (ms since the epoch), or null when absent. */
  storedAtMs(tenant: string, chunkId: Buffer): Promise<number | null>;
}

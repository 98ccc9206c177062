// Kiseki's ClusterChunkService for peer nodes (certificates with spiffe://cluster/fabric/<id>):
// whole-envelope fragments (index 0) of a tenant's chunks, used for replica repair. Tenants are refused.
import { kerr } from '../errors.js';
import type { ClusterChunkServiceServer } from '../gen/kiseki/v1/cluster_chunks.js';
import type { OrgId } from '../gen/kiseki/v1/common.js';
import type { ChunkStore } from './chunk-store.js';
import { isTenantUuid } from './identity.js';
import { type HandlerFactory, peersOnly } from './rpc.js';
import { MAX_CHUNK_BYTES, chunkIdOf, envelopeOf, invalid } from './validate.js';

function tenantIdOf(id: OrgId | undefined): string {
  const t = (id?.value ?? '').toLowerCase();
  if (!isTenantUuid(t)) throw invalid('tenant_id', 'must be the tenant UUID');
  return t;
}

function wholeEnvelopeOnly(index: number): void {
  if (index !== 0) throw invalid('fragment_index', `kiseki-node stores whole envelopes: only index 0 (got ${index})`);
}

export function clusterChunkService(h: HandlerFactory, store: ChunkStore, nowMs: () => number = Date.now): ClusterChunkServiceServer {
  return {
    putFragment: h.unary(peersOnly, async (req) => {
      wholeEnvelopeOnly(req.fragmentIndex);
      const id = chunkIdOf(req.chunkId, 'chunk_id');
      const env = envelopeOf(req.envelope, 'envelope', MAX_CHUNK_BYTES);
      if (!env.chunkId!.value.equals(id)) throw invalid('envelope.chunk_id', 'differs from chunk_id');
      return { stored: (await store.put(tenantIdOf(req.tenantId), env)) === 'stored' };
    }),
    getFragment: h.unary(peersOnly, async (req) => {
      wholeEnvelopeOnly(req.fragmentIndex);
      const id = chunkIdOf(req.chunkId, 'chunk_id');
      const env = await store.get(tenantIdOf(req.tenantId), id);
      if (!env) throw kerr('NotFound', `chunk ${id.toString('hex')} is not stored on this node`);
      return { envelope: env };
    }),
    deleteFragment: h.unary(peersOnly, async (req) => {
      wholeEnvelopeOnly(req.fragmentIndex);
      return { deleted: await store.delete(tenantIdOf(req.tenantId), chunkIdOf(req.chunkId, 'chunk_id')) };
    }),
    hasFragment: h.unary(peersOnly, async (req) => {
      wholeEnvelopeOnly(req.fragmentIndex);
      const at = await store.storedAtMs(tenantIdOf(req.tenantId), chunkIdOf(req.chunkId, 'chunk_id'));
      return { present: at !== null, storedAgeMs: at === null ? 0 : Math.max(0, Math.round(nowMs() - at)) };
    }),
  };
}

// ChunkDataService: the tenant-facing bulk chunk path over gRPC (PutChunks / GetChunks), plus the
// OpenFabricSession hand-off to a fabric listener when the node has one.
import type { ChunkDataServiceServer, OpenFabricSessionRequest, OpenFabricSessionResponse } from '../gen/kiseki/v1/chunk_data.js';
import { kerr } from '../errors.js';
import type { Envelope } from '../gen/kiseki/v1/chunk.js';
import type { ChunkStore } from './chunk-store.js';
import { FrameAssembler, framesOf } from './chunk-frames.js';
import { type HandlerFactory, tenantOf, tenantsOnly } from './rpc.js';
import { chunkIdOf, invalid } from './validate.js';

/** At most this many chunk ids per GetChunks. */
export const MAX_CHUNKS_PER_GET = 4096;

/** Issues fabric session tokens; implemented by the fabric listener (src/node/fabric-listener.ts). */
export interface FabricSessionIssuer {
  open(tenant: string, req: OpenFabricSessionRequest): Promise<OpenFabricSessionResponse>;
}

export function chunkDataService(h: HandlerFactory, store: ChunkStore, fabric: () => FabricSessionIssuer | null): ChunkDataServiceServer {
  return {
    putChunks: h.clientStream(tenantsOnly, async (frames, ctx) => {
      const tenant = tenantOf(ctx);
      const assembler = new FrameAssembler();
      let stored = 0;
      let deduplicated = 0;
      // One put in flight while the next chunk arrives: bounded memory, overlapped fsync.
      let pending: Promise<void> = Promise.resolve();
      const put = async (env: Envelope): Promise<void> => {
        if ((await store.put(tenant, env)) === 'stored') stored++; else deduplicated++;
      };
      try {
        for await (const f of frames) {
          const env = assembler.push(f);
          if (env) {
            await pending;
            pending = put(env);
          }
        }
        assembler.finish();
      } finally {
        await pending.catch(() => undefined);
      }
      await pending;
      return { stored, deduplicated };
    }),

    getChunks: h.serverStream(tenantsOnly, async (req, ctx, write) => {
      const tenant = tenantOf(ctx);
      if (req.chunkIds.length > MAX_CHUNKS_PER_GET) throw invalid('chunk_ids', `at most ${MAX_CHUNKS_PER_GET} per call (got ${req.chunkIds.length})`);
      const ids = req.chunkIds.map((c, i) => chunkIdOf(c, `chunk_ids[${i}]`));
      for (const id of ids) {
        if (!(await store.has(tenant, id))) throw kerr('NotFound', `chunk ${id.toString('hex')} is not stored on this node`);
      }
      let next = ids.length > 0 ? store.get(tenant, ids[0]!) : null;
      for (let i = 0; i < ids.length; i++) {
        const env = await next;
        next = i + 1 < ids.length ? store.get(tenant, ids[i + 1]!) : null;
        next?.catch(() => undefined);
        if (!env) throw kerr('NotFound', `chunk ${ids[i]!.toString('hex')} is not stored on this node`);
        for (const frame of framesOf(env)) await write(frame);
      }
    }),

    openFabricSession: h.unary(tenantsOnly, async (req, ctx) => {
      const issuer = fabric();
      if (!issuer) throw kerr('NotSupported', 'this node has no fabric endpoint; use the gRPC chunk path');
      return issuer.open(tenantOf(ctx), req);
    }),
  };
}

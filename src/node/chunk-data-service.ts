// ChunkDataService: the tenant-facing bulk chunk path over gRPC (PutChunks / GetChunks), plus the
// OpenFabricSession hand-off to a fabric listener when the node has one.
import type { ChunkDataServiceServer, OpenFabricSessionRequest, OpenFabricSessionResponse } from '../gen/kiseki/v1/chunk_data.js';
import { kerr } from '../errors.js';
import type { Envelope } from '../gen/kiseki/v1/chunk.js';
import type { ChunkStore } from './chunk-store.js';
import { FrameAssembler, framesOf } from './chunk-frames.js';
import { type HandlerFactory, tenantOf, tenantsOnly } from './rpc.js';
import { chunkIdOf, invalid } from './validate.js';

/** Chunks of one PutChunks call being stored at once. */
export const PUTS_IN_FLIGHT = 4;

/** At most this many chunk ids per GetChunks. */
export const MAX_CHUNKS_PER_GET = 4096;

/** Issues fabric session tokens; implemented by the fabric listener (src/node/fabric-listener.ts). */
export interface FabricSessionIssuer {
  open(tenant: string, req: OpenFabricSessionRequest): Promise<OpenFabricSessionResponse>;
}

/** Fetches a chunk this node lacks from a peer and stores it here (src/node/peer-repair.ts). */
export interface ChunkRepairer {
  repair(tenant: string, chunkId: Buffer): Promise<boolean>;
}

export function chunkDataService(h: HandlerFactory, store: ChunkStore, fabric: () => FabricSessionIssuer | null,
  repairer: ChunkRepairer | null = null): ChunkDataServiceServer {
  return {
    putChunks: h.clientStream(tenantsOnly, async (frames, ctx) => {
      const tenant = tenantOf(ctx);
      const assembler = new FrameAssembler();
      let stored = 0;
      let deduplicated = 0;
      // Up to PUTS_IN_FLIGHT chunks are being made durable while the next ones arrive: bounded
      // memory, fsyncs overlapped. The first failure ends the call; later puts still finish.
      const inflight = new Set<Promise<void>>();
      let failure: { err: unknown } | null = null;
      const put = (env: Envelope): void => {
        const p: Promise<void> = store.put(tenant, env).then(
          (outcome) => { if (outcome === 'stored') stored++; else deduplicated++; },
          (err: unknown) => { failure ??= { err }; },
        ).finally(() => inflight.delete(p));
        inflight.add(p);
      };
      try {
        for await (const f of frames) {
          if (failure) break;
          const env = assembler.push(f);
          if (!env) continue;
          while (inflight.size >= PUTS_IN_FLIGHT) await Promise.race(inflight);
          if (failure) break;
          put(env);
        }
        if (!failure) assembler.finish();
      } finally {
        await Promise.all(inflight);
      }
      if (failure) throw (failure as { err: unknown }).err;
      return { stored, deduplicated };
    }),

    getChunks: h.serverStream(tenantsOnly, async (req, ctx, write) => {
      const tenant = tenantOf(ctx);
      if (req.chunkIds.length > MAX_CHUNKS_PER_GET) throw invalid('chunk_ids', `at most ${MAX_CHUNKS_PER_GET} per call (got ${req.chunkIds.length})`);
      const ids = req.chunkIds.map((c, i) => chunkIdOf(c, `chunk_ids[${i}]`));
      if (ids.length === 0) return;
      // Presence first (in parallel, repairing from peers where possible): NOT_FOUND before any frame.
      // The first read overlaps with it (and is redone if that chunk had to be repaired).
      const firstRead = store.get(tenant, ids[0]!);
      firstRead.catch(() => undefined);
      const present = await Promise.all(ids.map(async (id) => (await store.has(tenant, id)) || (repairer !== null && repairer.repair(tenant, id))));
      const missing = present.indexOf(false);
      if (missing >= 0) throw kerr('NotFound', `chunk ${ids[missing]!.toString('hex')} is not stored on this node${repairer ? ' nor on its peers' : ''}`);
      let next: Promise<Envelope | null> | null = firstRead.then((env) => env ?? store.get(tenant, ids[0]!));
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

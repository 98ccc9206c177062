// Read repair across a --peers cluster: a chunk a tenant asks for that this node lacks (it was down,
// or the writer skipped it) is fetched from a peer over Kiseki's ClusterChunkService — authenticated
// with this node's own certificate (spiffe://cluster/fabric/<id>) — stored here, then served.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Envelope } from '../gen/kiseki/v1/chunk.js';
import { ClusterChunkServiceClient } from '../gen/kiseki/v1/cluster_chunks.js';
import type { ChunkStore } from './chunk-store.js';
import type { Member } from './cluster.js';
import { MAX_MESSAGE_BYTES } from './rpc.js';

export const PEER_DEADLINE_MS = 3000;

export class PeerRepair {
  private readonly clients = new Map<number, ClusterChunkServiceClient>();

  constructor(private readonly store: ChunkStore, private readonly peers: readonly Member[],
    private readonly credentials: grpc.ChannelCredentials, private readonly log: Logger) {}

  private client(m: Member): ClusterChunkServiceClient {
    let c = this.clients.get(m.id);
    if (!c) {
      c = new ClusterChunkServiceClient(m.address, this.credentials, {
        'grpc.max_receive_message_length': MAX_MESSAGE_BYTES, 'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
      });
      this.clients.set(m.id, c);
    }
    return c;
  }

  private fetchFrom(m: Member, tenant: string, chunkId: Buffer): Promise<Envelope | null> {
    return new Promise((resolve) => {
      this.client(m).getFragment({ chunkId: { value: chunkId }, fragmentIndex: 0, tenantId: { value: tenant } }, new grpc.Metadata(),
        { deadline: Date.now() + PEER_DEADLINE_MS }, (err, res) => {
          if (err && err.code !== grpc.status.NOT_FOUND) this.log.warn({ peer: m.id, code: err.code, details: err.details }, 'peer did not answer a repair read');
          const env = err ? null : res.envelope ?? null;
          resolve(env?.chunkId?.value.equals(chunkId) ? env : null);
        });
    });
  }

  /** True when some peer had the chunk and it is now stored here too. */
  async repair(tenant: string, chunkId: Buffer): Promise<boolean> {
    for (const m of this.peers) {
      const env = await this.fetchFrom(m, tenant, chunkId);
      if (!env) continue;
      await this.store.put(tenant, env);
      this.log.info({ peer: m.id, chunk: chunkId.toString('hex') }, 'repaired a missing chunk from a peer');
      return true;
    }
    return false;
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}

// Puts the transport area's FabricListener (src/node/fabric-listener.ts) in front of this node's
// ChunkStore: OpenFabricSession over mTLS hands out its tokens, discovery advertises its endpoint.
// Loaded only when --fabric-provider is given, so a node without the native addon still starts.
import { TransportKind } from '../gen/kiseki/v1/discovery.js';
import type { NodeServer } from './node-server.js';

export interface FabricOptions { provider: string; host: string; port: string }

/** Opens the listener (throws with libfabric's reason when it cannot) and attaches it to `node`. */
export async function attachFabricListener(node: NodeServer, o: FabricOptions): Promise<{ provider: string; address: Buffer }> {
  const { FabricListener } = await import('./fabric-listener.js');
  const listener = new FabricListener({ provider: o.provider, host: o.host, port: o.port, store: node.chunks });
  node.attachFabric(
    {
      open: async (tenant, req) => {
        const g = listener.openSession(tenant, req.provider);
        return { token: g.token, nodeFabricAddress: g.nodeFabricAddress, provider: g.provider, idleMs: g.idleMs };
      },
    },
    {
      // Membership is static and nodes do not exchange fabric addresses: each node advertises its own.
      fabricEndpoints: (id) => (id === node.nodeId
        ? [{ kind: TransportKind.TRANSPORT_KIND_FABRIC, address: '', provider: listener.provider, fabricAddress: listener.address }]
        : []),
    },
    () => listener.close(),
  );
  return { provider: listener.provider, address: listener.address };
}

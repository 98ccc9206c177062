// OpenFabricSession over the node's mTLS gRPC channel: the token that binds fabric requests to the
// tenant of the client certificate (chunk_data.proto, ADR 0031).
import * as grpc from '@grpc/grpc-js';
import { ChunkDataServiceClient } from '../gen/kiseki/v1/chunk_data.js';
import type { OpenFabricSession } from './transport-fabric.js';
import { transportError } from './transport-grpc.js';

export interface FabricSessions {
  open: OpenFabricSession;
  close(): void;
}

export function grpcFabricSessions(target: string, credentials: grpc.ChannelCredentials, timeoutMs = 5000): FabricSessions {
  const client = new ChunkDataServiceClient(target, credentials);
  return {
    open: (req) =>
      new Promise((resolve, reject) => {
        client.openFabricSession(
          { provider: req.provider, clientFabricAddress: req.clientFabricAddress },
          new grpc.Metadata(),
          { deadline: Date.now() + timeoutMs },
          (err, res) => (err ? reject(transportError(err, 'OpenFabricSession')) : resolve({ token: res!.token, nodeFabricAddress: res!.nodeFabricAddress, provider: res!.provider })),
        );
      }),
    close: () => client.close(),
  };
}

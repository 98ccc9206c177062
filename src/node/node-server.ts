// kiseki-node assembled: metadata DB, chunk store, services, and its listeners. Two grpc-js servers
// share the services: the TLS one takes identity from client certificates; the local one (unix
// socket 0600, and --insecure TCP) runs every call as the local tenant. Keeping them apart means a
// TLS connection can never fall back to the local tenant.
import * as grpc from '@grpc/grpc-js';
import { chmodSync } from 'node:fs';
import type { Logger } from 'pino';
import { CachePolicyServiceService } from '../gen/kiseki/v1/cache_policy.js';
import { ChunkDataServiceService } from '../gen/kiseki/v1/chunk_data.js';
import { ClusterChunkServiceService } from '../gen/kiseki/v1/cluster_chunks.js';
import { DiscoveryServiceService } from '../gen/kiseki/v1/discovery.js';
import { KeyManagerServiceService } from '../gen/kiseki/v1/key.js';
import { TenantKeyAccessServiceService } from '../gen/kiseki/v1/tenant_keys.js';
import { BulkListener } from './bulk-listener.js';
import { chunkDataService, type FabricSessionIssuer } from './chunk-data-service.js';
import { decodeFrame, encodeFrame } from './chunk-frames.js';
import type { ChunkStore } from './chunk-store.js';
import { Cluster, type EndpointSource, type Member } from './cluster.js';
import { clusterChunkService } from './cluster-chunk-service.js';
import { cachePolicyService, discoveryService, keyManagerService, tenantKeyService } from './control-services.js';
import { FileChunkStore } from './file-chunk-store.js';
import { widenReceiveWindows } from './http2-windows.js';
import { type Db, openMetadataDb } from './metadata-db.js';
import { NamespaceStore } from './namespace-store.js';
import { PeerRepair } from './peer-repair.js';
import { namespaceDefinition, namespaceService } from './namespace-service.js';
import { type IdentitySource, MAX_MESSAGE_BYTES, handlers, tolerantDefinition } from './rpc.js';
import { TenantKeys } from './tenant-keys.js';
import { removeStaleSocket, socketAnswers } from './unix-socket.js';

export interface TlsMaterial { ca: Buffer; cert: Buffer; key: Buffer }

export interface NodeOptions {
  dataDir: string;
  /** host:port for gRPC over TCP (TLS unless insecure). */
  listen?: string;
  /** Unix socket path (mode 0600, local tenant). */
  socket?: string;
  tls: TlsMaterial | null;
  /** Plain TCP on `listen`, every call as the local tenant. */
  insecure: boolean;
  localTenant: string;
  nodeId: number;
  /** Cluster members including this node; empty = single node (address filled in after bind). */
  peers: Member[];
  replicas: number;
  clusterId: string;
  /** Unlinked inodes are kept this long for clients that still hold them open. */
  orphanGraceMs: number;
  /** Fetch a chunk this node lacks from its peers on read (TLS clusters; src/node/peer-repair.ts). */
  readRepair?: boolean;
  /** The bulk chunk stream (ADR 0033) beside each listener: TLS on bulkPort, and `<socket>.bulk`. Default on. */
  bulkStream?: boolean;
  /** TCP port of the TLS bulk stream (0: any; reused when it reopens). */
  bulkPort?: number;
  log: Logger;
}

const SERVER_OPTIONS: grpc.ServerOptions = {
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
};

export class NodeServer {
  readonly db: Db;
  readonly chunks: ChunkStore;
  readonly keys: TenantKeys;
  readonly namespaces: NamespaceStore;
  private cluster: Cluster | null = null;
  private fabric: { issuer: FabricSessionIssuer; endpoints: EndpointSource; close: () => void } | null = null;
  private readonly servers: grpc.Server[] = [];
  private readonly bulk: BulkListener[] = [];
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly repair: PeerRepair | null;
  /** Set once this node bound its socket: only then does stop() remove the file. */
  private ownsSocket = false;
  /** The TCP address actually bound (port resolved), if any. */
  boundAddress: string | null = null;

  private constructor(private readonly opts: NodeOptions, chunks: FileChunkStore) {
    this.db = openMetadataDb(opts.dataDir);
    this.chunks = chunks;
    this.keys = new TenantKeys(this.db);
    this.namespaces = new NamespaceStore(this.db);
    // Read repair needs to authenticate as this node to its peers: TLS clusters only.
    const others = opts.peers.filter((p) => p.id !== opts.nodeId);
    this.repair = opts.readRepair && others.length > 0 && opts.tls && !opts.insecure
      ? new PeerRepair(chunks, others, grpc.credentials.createSsl(opts.tls.ca, opts.tls.key, opts.tls.cert), opts.log)
      : null;
  }

  static async start(opts: NodeOptions): Promise<NodeServer> {
    const chunks = new FileChunkStore(opts.dataDir);
    await chunks.open();
    const node = new NodeServer(opts, chunks);
    try {
      await node.listen();
    } catch (err) {
      await node.stop();
      throw err;
    }
    node.sweepOrphans();
    const every = Math.max(1000, Math.min(opts.orphanGraceMs, 60_000));
    node.sweepTimer = setInterval(() => node.sweepOrphans(), every).unref();
    return node;
  }

  get nodeId(): number {
    return this.opts.nodeId;
  }

  /** Called once the fabric listener is up: discovery then advertises it; `close` runs at stop(). */
  attachFabric(issuer: FabricSessionIssuer, endpoints: EndpointSource, close: () => void = () => {}): void {
    this.fabric = { issuer, endpoints, close };
    this.cluster = this.makeCluster(this.boundAddress ?? `unix:${this.opts.socket}`);
  }

  private makeCluster(selfAddress: string): Cluster {
    const o = this.opts;
    const members = o.peers.length > 0 ? o.peers : [{ id: o.nodeId, address: selfAddress }];
    // Advertised per call, so a closed or reopened listener shows at once: fabric, stream, then gRPC.
    const extra: EndpointSource = {
      fabricEndpoints: (id) => [
        ...(this.fabric?.endpoints.fabricEndpoints(id) ?? []),
        ...(id === o.nodeId ? this.bulk.map((b) => b.endpoint()).filter((e) => e !== null) : []),
      ],
    };
    return new Cluster(o.nodeId, members, o.replicas, o.clusterId, extra);
  }

  /** The bulk stream addresses being served (host:port, unix:/path). */
  get bulkAddresses(): string[] {
    return this.bulk.map((b) => b.address).filter((a) => a !== null);
  }

  /** Closes the bulk stream listeners and their connections (clients fail over to gRPC). */
  async closeBulk(): Promise<void> {
    await Promise.all(this.bulk.map((b) => b.close()));
  }

  /** Reopens them on the same addresses; a listener that cannot bind is logged and stays closed. */
  async openBulk(): Promise<void> {
    await Promise.all(this.bulk.map((b) => b.start().catch((err: unknown) => {
      this.opts.log.warn({ err }, 'bulk stream listener unavailable; chunks are served over gRPC only');
    })));
  }

  private addServices(server: grpc.Server, source: IdentitySource): void {
    const log = this.opts.log;
    const h = handlers(source, (err, path) => log.error({ err, path }, 'internal error answering a call'));
    // Read per call: with --listen host:0 the cluster (own address) is known only after bind.
    const cluster = (): Cluster => this.cluster!;
    const fastChunkDef = tolerantDefinition({
      ...ChunkDataServiceService,
      putChunks: { ...ChunkDataServiceService.putChunks, requestDeserialize: decodeFrame },
      getChunks: { ...ChunkDataServiceService.getChunks, responseSerialize: encodeFrame },
    });
    server.addService(tolerantDefinition(DiscoveryServiceService), discoveryService(h, cluster));
    server.addService(tolerantDefinition(TenantKeyAccessServiceService), tenantKeyService(h, this.keys));
    server.addService(tolerantDefinition(CachePolicyServiceService), cachePolicyService(h, this.keys));
    server.addService(tolerantDefinition(KeyManagerServiceService), keyManagerService(h, this.keys, cluster));
    server.addService(namespaceDefinition, namespaceService(h, this.namespaces, cluster, this.opts.dataDir));
    server.addService(fastChunkDef, chunkDataService(h, this.chunks, () => this.fabric?.issuer ?? null, this.repair));
    server.addService(tolerantDefinition(ClusterChunkServiceService), clusterChunkService(h, this.chunks));
  }

  private async listen(): Promise<void> {
    const o = this.opts;
    const local: IdentitySource = { mode: 'local', tenant: o.localTenant };
    const listen = o.listen ?? o.peers.find((p) => p.id === o.nodeId)?.address;
    if (listen) {
      const server = new grpc.Server(SERVER_OPTIONS);
      this.addServices(server, o.insecure ? local : { mode: 'tls' });
      const creds = o.insecure
        ? grpc.ServerCredentials.createInsecure()
        : grpc.ServerCredentials.createSsl(o.tls!.ca, [{ private_key: o.tls!.key, cert_chain: o.tls!.cert }], true);
      const port = await bind(server, listen, creds);
      widenReceiveWindows(server);
      this.servers.push(server);
      this.boundAddress = listen.replace(/:\d+$/, `:${port}`);
      // No plaintext stream: an --insecure node serves its TCP chunks over gRPC only.
      if (o.bulkStream !== false && !o.insecure) {
        const host = listen.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
        this.bulk.push(new BulkListener({ spec: { kind: 'tls', host, port: o.bulkPort ?? 0, tls: o.tls! }, store: this.chunks, repairer: this.repair, log: o.log }));
      }
    }
    if (o.socket) {
      if (await socketAnswers(o.socket)) throw new Error(`another process already serves ${o.socket}; stop it or choose another --socket`);
      removeStaleSocket(o.socket);
      const server = new grpc.Server(SERVER_OPTIONS);
      this.addServices(server, local);
      const old = process.umask(0o177);
      try {
        await bind(server, `unix:${o.socket}`, grpc.ServerCredentials.createInsecure());
        widenReceiveWindows(server);
      } finally {
        process.umask(old);
      }
      this.servers.push(server);
      this.ownsSocket = true;
      chmodSync(o.socket, 0o600);
      if (o.bulkStream !== false) {
        this.bulk.push(new BulkListener({ spec: { kind: 'unix', path: `${o.socket}.bulk`, tenant: o.localTenant }, store: this.chunks, repairer: this.repair, log: o.log }));
      }
    }
    await this.openBulk();
    this.cluster = this.makeCluster(this.boundAddress ?? `unix:${o.socket}`);
  }

  private sweepOrphans(): void {
    try {
      const n = this.namespaces.sweepOrphans(this.opts.orphanGraceMs);
      if (n > 0) this.opts.log.info({ removed: n }, 'removed unlinked inodes past their grace period');
    } catch (err) {
      this.opts.log.error({ err }, 'orphan sweep failed');
    }
  }

  /** Graceful: lets calls in flight finish (forced after graceMs), then closes the database. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => {
      const force = setTimeout(() => s.forceShutdown(), graceMs);
      s.tryShutdown(() => { clearTimeout(force); resolve(); });
    })));
    this.servers.length = 0;
    await this.closeBulk();
    this.fabric?.close();
    this.repair?.close();
    if (this.opts.socket && this.ownsSocket) removeStaleSocket(this.opts.socket);
    if (this.db.open) this.db.close();
  }
}

function bind(server: grpc.Server, address: string, creds: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, creds, (err, port) => (err ? reject(new Error(`cannot listen on ${address}: ${err.message}`)) : resolve(port)));
  });
}

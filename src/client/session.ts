// The client session the mount and the CLI use: discovery, tenant keys, the cache policy, the
// namespace service at the metadata leader, chunk transports per placement, and the heartbeat.
//
//   connecting ──discovery answered, keys fetched, policy resolved──▶ ready ──close()──▶ closing ──▶ closed
//       │  ▲ keys/policy unreachable: retry with backoff
//       └──┘
//   connecting | ready ──destroy(err), or the tenant KEK reported destroyed──▶ destroyed
//
// Until ready, every operation fails fast with the reason (NoSeedsReachable while no seed has
// answered, errno EIO): the mount answers EIO until discovery succeeds, and recovers on its own.
// I-CC10: the policy and the effective cache settings are computed once per session.
import { NamespaceServiceService } from '../gen/kiseki/v1/namespace.js';
import { NamespaceServiceFast } from './readdir-wire.js';
import { systemClock, type Clock, type TimerHandle } from '../cache/clock.js';
import { applyPolicy, type EffectiveCacheSettings, type RequestedCacheSettings, type ResolvedPolicy } from '../cache/cache-policy.js';
import { KisekiError, kerr } from '../errors.js';
import type { TenantKeyring } from '../crypto/keyring.js';
import type { ChunkTransport } from '../transport/transport.js';
import { GrpcChunkTransport } from '../transport/transport-grpc.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import { DiscoveryClient, type Discovered, type DiscoveredNode } from './discovery-client.js';
import { embeddedSeed, startEmbeddedNode, type EmbeddedNode } from './embedded-endpoint.js';
import { Heartbeat, newClientId, type HeartbeatStats } from './heartbeat.js';
import { fetchTenantKeys, probeKeyHealth, type KeyHealth } from './key-client.js';
import { LivenessRecordingTransport } from './liveness-transport.js';
import { NodeChannels } from './node-channels.js';
import { placeChunk } from './placement.js';
import { fetchCachePolicy, resolveSessionPolicy } from './policy-client.js';
import { RpcLiveness, serviceCaller, type CallOptions, type RpcEnv, type ServiceCaller } from './rpc.js';
import { configuredSeeds, formatSeed, type SeedAddress } from './seeds.js';
import { assertSeedsUsable, credentialsFor, tcpSecurityFromEnv, type TcpSecurity } from './tls-credentials.js';

export type SessionState = 'connecting' | 'ready' | 'closing' | 'closed' | 'destroyed';

/** Makes the chunk transport for one node (transport-grpc.ts, or a fabric transport chosen by the selector). */
export type TransportFactory = (node: DiscoveredNode, channels: NodeChannels) => ChunkTransport;

/** The fallback every node offers: gRPC ChunkDataService on the node's own address (its own channel). */
export const grpcTransportFactory: TransportFactory = (node, channels) =>
  new GrpcChunkTransport({ target: formatSeed(node.address), credentials: credentialsFor(node.address, channels.security) });

export interface SessionConfig {
  /** --data-addr; else KISEKI_SEEDS / KISEKI_DATA_ADDR; else the embedded node. */
  dataAddr?: string;
  /** Explicit seeds win over everything (tests, the embedded node started by the caller). */
  seeds?: SeedAddress[];
  env?: NodeJS.ProcessEnv;
  /** TCP without TLS: only when asked for by name. */
  insecure?: boolean;
  /** The L2 pool directory whose policy.json takes part in policy resolution. */
  poolDir?: string | null;
  workloadId?: string;
  requested?: RequestedCacheSettings;
  clock?: Clock;
  backoff?: Partial<BackoffOptions>;
  rpcDeadlineMs?: number;
  heartbeatIntervalMs?: number;
  /** With no seeds configured: start or reuse the embedded node (default true). */
  startEmbedded?: boolean;
  /** Default grpcTransportFactory; the mount passes mount-session.ts selectingTransportFactory (fabric + failover). */
  transportFactory?: TransportFactory;
}

type RawCall = (req: unknown, opts?: CallOptions) => Promise<unknown>;

export interface ChunkRoute {
  write: ChunkTransport[];
  read: ChunkTransport[];
}

export class Session {
  #state: SessionState = 'connecting';
  readonly seeds: readonly SeedAddress[];
  readonly embedded: EmbeddedNode | null;
  readonly clientId = newClientId();
  readonly #clock: Clock;
  readonly #channels: NodeChannels;
  readonly #liveness = new RpcLiveness();
  readonly #rpc: RpcEnv;
  readonly #discovery: DiscoveryClient;
  readonly #heartbeat: Heartbeat;
  readonly #retry: Backoff;
  readonly #config: SessionConfig;
  /** Per node id, with the address it was made for (a node that moves gets a new one). */
  readonly #transports = new Map<number, { address: string; transport: ChunkTransport }>();
  #retryTimer: TimerHandle | null = null;
  #establishing: Promise<void> | null = null;
  #leaderOverride: SeedAddress | null = null;
  #keys: TenantKeyring | null = null;
  #policy: ResolvedPolicy | null = null;
  #settings: EffectiveCacheSettings | null = null;
  #error: KisekiError | null = null;
  #readyWaiters = new Set<{ resolve: () => void; reject: (e: unknown) => void }>();

  /** The NamespaceService at the metadata leader; fails fast (EIO) until the session is ready. */
  readonly namespace: ServiceCaller<typeof NamespaceServiceService>;

  private constructor(config: SessionConfig, seeds: SeedAddress[], security: TcpSecurity, embedded: EmbeddedNode | null) {
    this.#config = config;
    this.seeds = seeds;
    this.embedded = embedded;
    this.#clock = config.clock ?? systemClock;
    this.#channels = new NodeChannels(security);
    this.#rpc = {
      channels: this.#channels,
      clock: this.#clock,
      liveness: this.#liveness,
      deadlineMs: config.rpcDeadlineMs ?? 10_000,
      onLeaderRedirect: (leader) => {
        this.#leaderOverride = leader;
      },
    };
    this.#discovery = new DiscoveryClient({ seeds, rpc: this.#rpc, backoff: config.backoff });
    this.#retry = new Backoff(config.backoff);
    this.#heartbeat = new Heartbeat({
      env: this.#rpc,
      clientId: this.clientId,
      target: () => this.#leaderAddress(),
      intervalMs: config.heartbeatIntervalMs,
      onFailure: () => void this.#discovery.refresh(),
    });
    const ns = serviceCaller(NamespaceServiceFast, this.#rpc, () => this.#leaderAddress()) as unknown as Record<string, RawCall>;
    this.namespace = Object.fromEntries(Object.entries(ns).map(([name, call]) => [name, (req: unknown, opts?: CallOptions) => this.#guarded(call, req, opts)])) as unknown as ServiceCaller<typeof NamespaceServiceService>;
    this.#discovery.onChange((state) => {
      if (state === 'ready') {
        this.#leaderOverride = null;
        this.#dropMovedTransports(this.#discovery.current());
        if (this.#state === 'connecting') void this.#establish();
      }
    });
  }

  /**
   * Opens a session: resolves after the first discovery round, whatever its outcome. If no seed
   * answered, the session keeps retrying in the background (state 'connecting') and every call
   * fails fast with NoSeedsReachable until one does; `whenReady()` waits for that.
   */
  static async open(config: SessionConfig = {}): Promise<Session> {
    const env = config.env ?? process.env;
    let seeds = config.seeds;
    let embedded: EmbeddedNode | null = null;
    if (seeds === undefined) {
      const chosen = configuredSeeds(config.dataAddr, env);
      if (chosen !== null) seeds = chosen.seeds;
      else if (config.startEmbedded === false) seeds = [embeddedSeed(env)];
      else {
        embedded = await startEmbeddedNode({ env });
        seeds = [{ kind: 'unix', path: embedded.socketPath }];
      }
    }
    const security = await tcpSecurityFromEnv(env, config.insecure ?? false);
    assertSeedsUsable(seeds, security);
    const session = new Session(config, seeds, security, embedded);
    await session.#discovery.start();
    await session.#establishing;
    return session;
  }

  get state(): SessionState {
    return this.#state;
  }

  /** I-CC6: when any RPC or chunk transfer of this session last succeeded, on its clock (null: never). */
  get lastSuccessfulRpcAt(): number | null {
    return this.#liveness.lastSuccessfulRpcAt;
  }

  /** Calls `listener` after every successful RPC or chunk transfer; returns the unsubscribe. */
  onSuccessfulRpc(listener: () => void): () => void {
    return this.#liveness.onSuccess(listener);
  }

  get heartbeatStats(): Readonly<HeartbeatStats> {
    return this.#heartbeat.stats;
  }

  get discoveryClient(): DiscoveryClient {
    return this.#discovery;
  }

  /** Why the session is not ready (null when it is). */
  get lastError(): KisekiError | null {
    if (this.#state === 'ready') return null;
    return this.#error ?? this.#discovery.lastError;
  }

  discovered(): Discovered {
    this.#requireOpen();
    return this.#discovery.current();
  }

  get keys(): TenantKeyring {
    this.#requireReady();
    return this.#keys!;
  }

  get policy(): ResolvedPolicy {
    this.#requireReady();
    return this.#policy!;
  }

  get settings(): EffectiveCacheSettings {
    this.#requireReady();
    return this.#settings!;
  }

  whenReady(signal?: AbortSignal): Promise<void> {
    if (this.#state === 'ready') return Promise.resolve();
    if (this.#state !== 'connecting') return Promise.reject(this.#closedError());
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: () => done(resolve),
        reject: (e: unknown) => done(() => reject(e)),
      };
      const onAbort = () => waiter.reject(signal!.reason);
      const done = (f: () => void) => {
        this.#readyWaiters.delete(waiter);
        signal?.removeEventListener('abort', onAbort);
        f();
      };
      this.#readyWaiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** The cheap key-health probe the cache's watcher calls every key_health_interval_ms. */
  async probeKeyHealth(): Promise<KeyHealth> {
    this.#requireReady();
    return probeKeyHealth(this.#rpc, this.#leaderAddress());
  }

  /** One heartbeat now (the timer sends one every heartbeatIntervalMs). */
  beat(): Promise<void> {
    return this.#heartbeat.beat();
  }

  /** The transports to write a chunk to (its R replicas) and to read it from (best first). */
  chunkTransportsFor(chunkId: Uint8Array): ChunkRoute {
    this.#requireReady();
    const d = this.#discovery.current();
    const place = placeChunk(chunkId, d.nodes.map((n) => n.id), d.replicas);
    const byId = new Map(d.nodes.map((n) => [n.id, n]));
    const transport = (id: number): ChunkTransport => {
      let entry = this.#transports.get(id);
      if (entry === undefined) {
        const node = byId.get(id)!;
        const inner = (this.#config.transportFactory ?? grpcTransportFactory)(node, this.#channels);
        entry = { address: formatSeed(node.address), transport: new LivenessRecordingTransport(inner, this.#liveness, this.#clock) };
        this.#transports.set(id, entry);
      }
      return entry.transport;
    };
    return { write: place.write.map(transport), read: place.read.map(transport) };
  }

  /** Closes the transports of nodes that left the cluster or changed address. */
  #dropMovedTransports(d: Discovered): void {
    const now = new Map(d.nodes.map((n) => [n.id, formatSeed(n.address)]));
    for (const [id, entry] of this.#transports) {
      if (now.get(id) !== entry.address) {
        this.#transports.delete(id);
        void entry.transport.close();
      }
    }
  }

  /** Drains: stops the heartbeat and retries, closes transports and connections, zeroes the keys. */
  async close(): Promise<void> {
    if (this.#state === 'closing' || this.#state === 'closed' || this.#state === 'destroyed') return;
    this.#state = 'closing';
    this.#rejectWaiters(kerr('Closed', 'the session was closed'));
    await this.#teardown();
    this.#state = 'closed';
  }

  /** Fails everything now with `err` (crypto-shred, fatal faults); later calls reject with it. */
  destroy(err: KisekiError): void {
    if (this.#state === 'closed' || this.#state === 'destroyed') return;
    this.#error = err;
    this.#state = 'destroyed';
    this.#rejectWaiters(err);
    void this.#teardown();
  }

  async #teardown(): Promise<void> {
    this.#retryTimer?.cancel();
    this.#retryTimer = null;
    this.#discovery.close();
    await this.#heartbeat.stop();
    await Promise.allSettled([...this.#transports.values()].map((e) => e.transport.close()));
    this.#transports.clear();
    this.#channels.close();
    this.#keys?.wipe(this.#state === 'destroyed' && this.#error?.kind === 'KeyDestroyed' ? 'KeyDestroyed' : 'Closed');
    this.#keys = null;
  }

  #rejectWaiters(err: unknown): void {
    for (const w of [...this.#readyWaiters]) w.reject(err);
  }

  #closedError(): KisekiError {
    return this.#state === 'destroyed' && this.#error !== null ? this.#error : kerr('Closed', 'the session is closed; open a new one');
  }

  #requireOpen(): void {
    if (this.#state === 'closing' || this.#state === 'closed' || this.#state === 'destroyed') throw this.#closedError();
  }

  #requireReady(): void {
    this.#requireOpen();
    if (this.#state === 'ready') return;
    // Discovery's own error (NoSeedsReachable) when it has none; else why keys/policy failed.
    this.#discovery.current();
    throw this.#error ?? kerr('Unavailable', 'the session is still loading its keys and policy; retry shortly');
  }

  /** Fails fast until ready; an unreachable leader sends discovery looking again (this call still gets EIO). */
  async #guarded(call: RawCall, req: unknown, opts: CallOptions | undefined): Promise<unknown> {
    this.#requireReady();
    try {
      return await call(req, opts);
    } catch (err) {
      if (KisekiError.is(err, 'Unavailable')) void this.#discovery.refresh();
      throw err;
    }
  }

  #leaderAddress(): SeedAddress {
    return this.#leaderOverride ?? this.#discovery.current().leader.address;
  }

  #establish(): Promise<void> {
    this.#establishing ??= this.#establishBody().finally(() => {
      this.#establishing = null;
    });
    return this.#establishing;
  }

  async #establishBody(): Promise<void> {
    try {
      const leader = this.#leaderAddress();
      const keys = await fetchTenantKeys(this.#rpc, leader);
      const policy = await resolveSessionPolicy({
        fetch: () => fetchCachePolicy(this.#rpc, this.#leaderAddress(), this.#config.workloadId),
        poolDir: this.#config.poolDir ?? null,
      });
      if (this.#state !== 'connecting') {
        keys.wipe('Closed');
        return;
      }
      this.#keys = keys;
      this.#policy = policy;
      this.#settings = applyPolicy(policy.policy, this.#config.requested ?? {});
      this.#error = null;
      this.#state = 'ready';
      this.#heartbeat.start();
      for (const w of [...this.#readyWaiters]) w.resolve();
    } catch (err) {
      if (this.#state !== 'connecting') return;
      const kerrOf = KisekiError.is(err) ? err : kerr('Internal', `session set-up failed: ${String(err)}`, err);
      if (kerrOf.kind === 'KeyDestroyed') {
        this.destroy(kerrOf);
        return;
      }
      this.#error = kerrOf;
      // The node we asked may be gone: let discovery look again before the next try.
      if (kerrOf.kind === 'Unavailable') void this.#discovery.refresh();
      const delay = this.#retry.next();
      this.#retryTimer?.cancel();
      this.#retryTimer = this.#clock.setTimer(() => {
        this.#retryTimer = null;
        if (this.#state === 'connecting') void this.#establish();
      }, delay);
    }
  }

  toString(): string {
    return `Session(${this.#state}, seeds ${this.seeds.map(formatSeed).join(',')})`;
  }
}

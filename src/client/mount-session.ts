// Composes one mounted namespace: the session (discovery, keys, policy, namespace RPCs, chunk routes),
// the tenant keyring, the cache pool and the filesystem core, adapted to the core's ports. Closing
// flushes dirty files, then wipes plaintext (the cache pool; the reader keeps none of its own) and, with the
// session, the keys.
import { resolveCacheConfig, type CacheConfig } from '../cache/cache-config.js';
import { ChunkCache } from '../cache/chunk-cache.js';
import type { TenantKeyring } from '../crypto/keyring.js';
import { openChunk, sealChunk } from '../crypto/envelope.js';
import { nameKey, openMeta, openNames, sealMeta } from '../crypto/metadata-seal.js';
import { kerr } from '../errors.js';
import { GrpcChunkTransport } from '../transport/transport-grpc.js';
import { grpcFabricSessions } from '../transport/fabric-session.js';
import { probeTransports, type TransportDecision } from '../transport/transport-probe.js';
import type { TransportMetrics } from '../transport/transport-metrics.js';
import { transportForNode, type TransportSelector, type TransportStatus } from '../transport/transport-selector.js';
import { formatSeed } from './seeds.js';
import type { Session, TransportFactory } from './session.js';
import { credentialsFor } from './tls-credentials.js';
import { DentryCache } from './dentry-cache.js';
import { DEFAULT_FS_OPTIONS, KisekiFileSystem, type FsDeps, type FsOptions } from './filesystem.js';
import type { ChunkCachePort, ChunkCrypto, ChunkPlacement, MetaCrypto } from './fs-ports.js';
import { chunkSizeOf, type MountOptions } from './mount-options.js';

/** Kiseki's default namespace name when none is given. */
export const DEFAULT_NAMESPACE = 'default';

/** Chunks over gRPC to each node (TLS over TCP, or the node's unix socket): the always-there path. */
export const grpcTransportFactory: TransportFactory = (node, channels) => new GrpcChunkTransport({
  target: formatSeed(node.address), credentials: credentialsFor(node.address, channels.security),
});

/**
 * The mount's chunk path per node: the transport this process probed (cxi, verbs, libfabric tcp)
 * when the node advertises a matching fabric endpoint, with gRPC as the fallback the selector fails
 * over to; gRPC alone when the probe finds no fabric (or fails). Probed once.
 */
export async function selectingTransportFactory(env: NodeJS.ProcessEnv, metrics?: TransportMetrics): Promise<{
  factory: TransportFactory; decision: TransportDecision | null; transports: () => TransportStatus[];
}> {
  let decision: TransportDecision | null = null;
  try {
    decision = await probeTransports(env);
  } catch {
    return { factory: grpcTransportFactory, decision: null, transports: () => [] };
  }
  const d = decision;
  const selectors: TransportSelector[] = [];
  const factory: TransportFactory = (node, channels) => {
    const target = formatSeed(node.address);
    const credentials = credentialsFor(node.address, channels.security);
    const selector = transportForNode({
      node: String(node.id), endpoints: node.endpoints, decision: d,
      tls: new GrpcChunkTransport({ target, credentials }), openSession: grpcFabricSessions(target, credentials).open,
      stream: { unix: node.address.kind === 'unix', tls: channels.security.kind === 'mtls' ? channels.security.material : null },
      ...(metrics ? { metrics } : {}),
    });
    selectors.push(selector);
    return selector;
  };
  // status: the active transport and failovers per node (transport-selector.ts)
  return { factory, decision, transports: () => selectors.map((x) => x.status()) };
}

export interface MountSessionOptions {
  readonly namespaceId: string;
  /** Create the namespace when it does not exist (the embedded default does). */
  readonly create: boolean;
  readonly mount: MountOptions;
  readonly env?: NodeJS.ProcessEnv;
  /** How long to wait for discovery, keys and policy (the node may still be starting). */
  readonly readyTimeoutMs?: number;
  /** Cache-pool tuning for tests (no scavenging, no stats publishing). */
  readonly statsIntervalMs?: number;
  /** A staging daemon serves handoff requests for its pool (ADR 0090). */
  readonly onHandoffRequest?: () => void;
}

export class MountSession {
  private constructor(
    readonly session: Session,
    readonly fs: KisekiFileSystem,
    readonly cache: ChunkCache,
    readonly cacheConfig: CacheConfig,
    readonly namespaceId: string,
    readonly readOnly: boolean,
    private readonly unsubscribe: readonly (() => void)[],
  ) {}

  static async open(session: Session, opts: MountSessionOptions): Promise<MountSession> {
    await readyWithin(session, opts.readyTimeoutMs ?? 30_000);
    // The session owns the keyring (and wipes it on close or crypto-shred).
    const keyring = session.keys;
    const cacheConfig = resolveCacheConfig(session.policy.policy, { mountOptions: opts.mount.cacheOptions, env: opts.env ?? process.env });
    const cache = await ChunkCache.open(cacheConfig, {
      tenant: keyring.tenantId, ...(opts.statsIntervalMs !== undefined ? { statsIntervalMs: opts.statsIntervalMs } : {}),
      ...(opts.onHandoffRequest !== undefined ? { onHandoffRequest: opts.onHandoffRequest } : {}),
    });
    try {
      const chunkSize = chunkSizeOf(opts.mount);
      const opened = await session.namespace.openNamespace({
        namespaceId: { value: opts.namespaceId }, create: opts.create, defaultChunkSize: chunkSize,
      });
      const readOnly = opened.readOnly || opts.mount.readOnly;
      const fsOptions: FsOptions = { ...DEFAULT_FS_OPTIONS, chunkSize, metaTtlMs: cacheConfig.metaTtlMs, cacheLargeWrite: opts.mount.cacheLargeWrite };
      const fs = new KisekiFileSystem(fsDepsFor(session, cache, opts.namespaceId, readOnly), fsOptions);
      // I-CC12: key health every key_health_interval_ms; I-CC6: no successful RPC (heartbeat,
      // metadata, chunks) for max_disconnect_seconds. Either wipes the cache, and with it the
      // reader's record of what prefetch warmed; a crypto-shred also zeroes the keyring.
      const triggers = cache.startWipeTriggers(() => session.probeKeyHealth());
      const unsubscribe = [
        session.onSuccessfulRpc(() => triggers.recordSuccess()),
        cache.onWipe((reason) => {
          fs.reader.wipe();
          if (reason === 'crypto-shred') session.keys.wipe('KeyDestroyed');
        }),
      ];
      return new MountSession(session, fs, cache, cacheConfig, opts.namespaceId, readOnly, unsubscribe);
    } catch (err) {
      await cache.close();
      throw err;
    }
  }

  /** Flushes every dirty file, wipes plaintext and keys, closes the session. Returns flush failures. */
  async close(): Promise<Error[]> {
    const failures = await this.fs.close();
    for (const stop of this.unsubscribe) stop();
    await this.cache.close();
    await this.session.close();
    return failures;
  }
}

/**
 * Waits for the session with a timer that keeps the process alive: the session's own retries do not
 * hold the event loop, so a bare whenReady() in a fresh process could let it exit while waiting.
 */
async function readyWithin(session: Session, timeoutMs: number): Promise<void> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    await session.whenReady(abort.signal);
  } catch (err) {
    if (!abort.signal.aborted) throw err;
    const why = session.lastError?.message ?? 'no answer yet';
    throw kerr('Unavailable', `no storage node became usable within ${timeoutMs} ms (${why}); check --data-addr / KISEKI_SEEDS`);
  } finally {
    clearTimeout(timer);
  }
}

/** The filesystem core's ports over a ready session and its cache. */
export function fsDepsFor(session: Session, cache: ChunkCache, namespaceId: string, readOnly: boolean): FsDeps {
  const keyring = session.keys;
  return {
    ns: session.namespace, chunkCrypto: chunkCrypto(keyring), metaCrypto: metaCrypto(keyring),
    cache: cachePort(cache), placement: placement(session), namespaceId, readOnly,
    dentries: new DentryCache(cache.createMetaCache(), cache.createMetaCache(), cache.createMetaCache(1024)),
  };
}

function chunkCrypto(keyring: TenantKeyring): ChunkCrypto {
  return {
    seal: (plaintext, output) => sealChunk(keyring, plaintext, { output }),
    open: (envelope, id, output) => openChunk(keyring, envelope, id, { verifyContent: true, output }),
  };
}

function metaCrypto(keyring: TenantKeyring): MetaCrypto {
  return {
    nameKey: async (parent, name) => nameKey(keyring.indexKey, parent, name),
    sealMeta: (id, plaintext) => sealMeta(keyring, id, plaintext),
    openMeta: (envelope, id) => openMeta(keyring, envelope, id),
    openNames: (parent, items) => openNames(keyring, parent, items),
  };
}

function cachePort(cache: ChunkCache): ChunkCachePort {
  return {
    epoch: () => cache.epoch(),
    // The page itself, pinned by the lease: eviction or a wipe zeroes it only after release (I-CC2).
    get: async (id) => {
      const r = await cache.get(id.toString('hex'));
      return r.kind === 'hit' ? { data: r.data, release: r.release } : null;
    },
    peek: (id) => cache.peekL1(id.toString('hex')),
    keeps: () => cache.mode !== 'bypass' && cache.state === 'active',
    put: (id, plaintext, epoch) => {
      void cache.put(id.toString('hex'), plaintext, { epoch }).catch(() => undefined);
    },
  };
}

function placement(session: Session): ChunkPlacement {
  return {
    route: (chunkId) => {
      const r = session.chunkTransportsFor(chunkId);
      if (r.write.length === 0) throw kerr('Unavailable', 'no storage node is known for chunks (discovery listed none)');
      return r;
    },
  };
}

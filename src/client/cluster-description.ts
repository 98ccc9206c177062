// What `kiseki-client discover` reports: the discovered topology plus the cache policy this client
// would run with and where it came from. Plain data (snake_case, hex for bytes) so the CLI only
// formats it; the same shape is the --json output.
import { TransportKind, type TransportEndpoint } from '../gen/kiseki/v1/discovery.js';
import type { CachePolicy, PolicySourceName } from '../cache/cache-policy.js';
import { systemClock } from '../cache/clock.js';
import { DiscoveryClient, type Discovered } from './discovery-client.js';
import { startEmbeddedNode } from './embedded-endpoint.js';
import { NodeChannels } from './node-channels.js';
import { fetchCachePolicy, resolveSessionPolicy } from './policy-client.js';
import { RpcLiveness, type RpcEnv } from './rpc.js';
import { configuredSeeds, formatSeed, type SeedAddress } from './seeds.js';
import { assertSeedsUsable, tcpSecurityFromEnv } from './tls-credentials.js';

export interface EndpointDescription {
  /** 'unix' when a node reached over its socket lists the socket as its gRPC endpoint. */
  kind: 'tcp-tls' | 'unix' | 'fabric' | 'stream' | 'unknown';
  address: string;
  provider: string;
}

export interface ClusterDescription {
  seeds: string[];
  seed_source: string;
  answered_by: string;
  embedded: { socket: string; pid: number | null; started: boolean } | null;
  cluster_id: string;
  ttl_ms: number;
  replicas: number;
  leader: { node_id: number; address: string };
  nodes: { node_id: number; address: string; metadata_leader: boolean; endpoints: EndpointDescription[] }[];
  shards: { shard_id: string; leader_node: number | null; key_range: { start: string; end: string } }[];
  views: { view_id: string; protocol: string; endpoint: string }[];
  gateways: { protocol: string; transport: string; endpoint: string }[];
  auth_requirements: { mtls_required: boolean; idp_optional: boolean; description: string };
  cache_policy: { source: PolicySourceName; policy: CachePolicy; skipped: { source: PolicySourceName; reason: string }[] };
}

export interface DescribeOptions {
  dataAddr?: string;
  env?: NodeJS.ProcessEnv;
  insecure?: boolean;
  poolDir?: string | null;
  workloadId?: string;
  rpcDeadlineMs?: number;
}

function endpoint(e: TransportEndpoint): EndpointDescription {
  const kind = e.kind === TransportKind.TRANSPORT_KIND_TCP_TLS ? (e.address.startsWith('unix:') ? 'unix' : 'tcp-tls')
    : e.kind === TransportKind.TRANSPORT_KIND_FABRIC ? 'fabric' : e.kind === TransportKind.TRANSPORT_KIND_STREAM ? 'stream' : 'unknown';
  return { kind, address: e.address, provider: e.provider };
}

export function describeDiscovered(d: Discovered): Omit<ClusterDescription, 'seeds' | 'seed_source' | 'embedded' | 'cache_policy'> {
  const r = d.response;
  return {
    answered_by: formatSeed(d.answeredBy),
    cluster_id: r.clusterId,
    ttl_ms: d.ttlMs,
    replicas: d.replicas,
    leader: { node_id: d.leader.id, address: formatSeed(d.leader.address) },
    nodes: d.nodes.map((n) => ({ node_id: n.id, address: formatSeed(n.address), metadata_leader: n.leader, endpoints: n.endpoints.map(endpoint) })),
    shards: r.shards.map((s) => ({
      shard_id: s.shardId?.value ?? '',
      leader_node: s.leaderNode?.value ?? null,
      key_range: { start: Buffer.from(s.keyRange?.start ?? []).toString('hex'), end: Buffer.from(s.keyRange?.end ?? []).toString('hex') },
    })),
    views: r.views.map((v) => ({ view_id: v.viewId?.value ?? '', protocol: v.protocol, endpoint: v.endpoint })),
    gateways: r.gateways.map((g) => ({ protocol: g.protocol, transport: g.transport, endpoint: g.endpoint })),
    auth_requirements: {
      mtls_required: r.authRequirements?.mtlsRequired ?? false,
      idp_optional: r.authRequirements?.idpOptional ?? false,
      description: r.authRequirements?.description ?? '',
    },
  };
}

/** One discovery round (no retries: a CLI reports and exits) plus the policy chain. */
export async function describeCluster(opts: DescribeOptions = {}): Promise<ClusterDescription> {
  const env = opts.env ?? process.env;
  const chosen = configuredSeeds(opts.dataAddr, env);
  let seeds: SeedAddress[];
  let embedded: ClusterDescription['embedded'] = null;
  if (chosen !== null) seeds = chosen.seeds;
  else {
    const node = await startEmbeddedNode({ env });
    embedded = { socket: node.socketPath, pid: node.pid, started: node.started };
    seeds = [{ kind: 'unix', path: node.socketPath }];
  }
  const security = await tcpSecurityFromEnv(env, opts.insecure ?? false);
  assertSeedsUsable(seeds, security);
  const channels = new NodeChannels(security);
  const rpc: RpcEnv = { channels, clock: systemClock, liveness: new RpcLiveness(), deadlineMs: opts.rpcDeadlineMs ?? 5_000 };
  const discovery = new DiscoveryClient({ seeds, rpc, attemptDeadlineMs: opts.rpcDeadlineMs ?? 5_000 });
  try {
    await discovery.start();
    const d = discovery.current();
    const resolved = await resolveSessionPolicy({
      fetch: () => fetchCachePolicy(rpc, d.leader.address, opts.workloadId),
      poolDir: opts.poolDir ?? null,
    });
    return {
      seeds: seeds.map(formatSeed),
      seed_source: chosen?.source ?? 'embedded default',
      embedded,
      ...describeDiscovered(d),
      cache_policy: resolved,
    };
  } finally {
    discovery.close();
    channels.close();
  }
}

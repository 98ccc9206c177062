// The cache policy of a session, by the I-CC9 chain: GetCachePolicy on the data path → the pool's
// policy.json → conservative defaults. A fetched policy is persisted to the pool so that a later
// process of the same pool can still honour it when no node answers.
import { CachePolicyServiceService, type CachePolicy as WirePolicy } from '../gen/kiseki/v1/cache_policy.js';
import { parsePolicy, readPolicyFile, resolvePolicy, writePolicyFile, type CachePolicy, type ResolvedPolicy } from '../cache/cache-policy.js';
import { callUnary, type RpcEnv } from './rpc.js';
import { formatSeed, type SeedAddress } from './seeds.js';

/** The wire record in the on-disk (snake_case) shape, validated like policy.json. */
export function policyFromWire(p: WirePolicy, source: string): CachePolicy {
  return parsePolicy({
    cache_enabled: p.cacheEnabled,
    allowed_modes: p.allowedModes,
    max_cache_bytes: p.maxCacheBytes,
    max_node_cache_bytes: p.maxNodeCacheBytes,
    metadata_ttl_ms: p.metadataTtlMs,
    max_disconnect_seconds: p.maxDisconnectSeconds,
    key_health_interval_ms: p.keyHealthIntervalMs,
    staging_enabled: p.stagingEnabled,
    default_mode: p.defaultMode,
  }, source);
}

export async function fetchCachePolicy(env: RpcEnv, node: SeedAddress, workloadId = ''): Promise<CachePolicy> {
  const res = await callUnary(env, node, CachePolicyServiceService.getCachePolicy, { workloadId });
  return policyFromWire(res, `GetCachePolicy at ${formatSeed(node)}`);
}

export interface PolicySources {
  /** Data-path RPC; null when no node is known. */
  fetch: (() => Promise<CachePolicy>) | null;
  /** The cache pool directory holding policy.json; null without a pool. */
  poolDir: string | null;
}

export async function resolveSessionPolicy(src: PolicySources): Promise<ResolvedPolicy> {
  const sources: Parameters<typeof resolvePolicy>[0] = [];
  const { fetch, poolDir } = src;
  if (fetch !== null) {
    sources.push({
      source: 'rpc',
      load: async () => {
        const policy = await fetch();
        // Persisting is best effort: a read-only or full pool must not cost us the fetched policy.
        if (poolDir !== null) await writePolicyFile(poolDir, policy).catch(() => undefined);
        return policy;
      },
    });
  }
  if (poolDir !== null) sources.push({ source: 'policy.json', load: () => readPolicyFile(poolDir) });
  return resolvePolicy(sources);
}

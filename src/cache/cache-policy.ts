// The CachePolicy record of Kiseki's ADR-031 (brief §4.10), its two sets of defaults, its on-disk
// form (<pool>/policy.json), the resolution chain of I-CC9 and the clamping of client settings.
// Pure: no I/O except readPolicyFile/writePolicyFile.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { kerr } from '../errors.js';

export const CACHE_MODES = ['pinned', 'organic', 'bypass'] as const;
export type CacheMode = (typeof CACHE_MODES)[number];

export interface CachePolicy {
  cache_enabled: boolean;
  allowed_modes: CacheMode[];
  max_cache_bytes: number;
  /** 0 = 80 % of the cache filesystem. */
  max_node_cache_bytes: number;
  metadata_ttl_ms: number;
  max_disconnect_seconds: number;
  key_health_interval_ms: number;
  staging_enabled: boolean;
  default_mode: CacheMode;
}

const GiB = 1024 ** 3;

/** What a cluster that says nothing more specific grants (Kiseki's `Default`). */
export const DEFAULT_POLICY: Readonly<CachePolicy> = Object.freeze<CachePolicy>({
  cache_enabled: true,
  allowed_modes: ['pinned', 'organic', 'bypass'],
  max_cache_bytes: 50 * GiB,
  max_node_cache_bytes: 0,
  metadata_ttl_ms: 5000,
  max_disconnect_seconds: 300,
  key_health_interval_ms: 30000,
  staging_enabled: true,
  default_mode: 'organic',
});

/** I-CC9: what the client assumes when no policy can be fetched or read. */
export const CONSERVATIVE_POLICY: Readonly<CachePolicy> = Object.freeze<CachePolicy>({
  cache_enabled: true,
  allowed_modes: ['organic', 'bypass'],
  max_cache_bytes: 10 * GiB,
  max_node_cache_bytes: 0,
  metadata_ttl_ms: 5000,
  max_disconnect_seconds: 300,
  key_health_interval_ms: 30000,
  staging_enabled: false,
  default_mode: 'organic',
});

export function isCacheMode(v: unknown): v is CacheMode {
  return typeof v === 'string' && (CACHE_MODES as readonly string[]).includes(v);
}

const NUMERIC_FIELDS = [
  'max_cache_bytes', 'max_node_cache_bytes', 'metadata_ttl_ms', 'max_disconnect_seconds', 'key_health_interval_ms',
] as const;
const BOOLEAN_FIELDS = ['cache_enabled', 'staging_enabled'] as const;

/**
 * Validates an untrusted record (policy.json or an RPC answer). Every field is required, as in
 * Kiseki: a record missing one is invalid and resolution falls through to the next source.
 */
export function parsePolicy(value: unknown, source: string): CachePolicy {
  const bad = (why: string) => kerr('InvalidArgument', `cache policy from ${source} is invalid: ${why}`);
  if (typeof value !== 'object' || value === null) throw bad('not an object');
  const v = value as Record<string, unknown>;
  for (const f of NUMERIC_FIELDS) {
    const n = v[f];
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw bad(`${f} must be a non-negative integer`);
  }
  for (const f of BOOLEAN_FIELDS) if (typeof v[f] !== 'boolean') throw bad(`${f} must be true or false`);
  if (!Array.isArray(v.allowed_modes) || !v.allowed_modes.every(isCacheMode)) {
    throw bad(`allowed_modes must list only ${CACHE_MODES.join(', ')}`);
  }
  if (!isCacheMode(v.default_mode)) throw bad(`default_mode must be one of ${CACHE_MODES.join(', ')}`);
  return {
    cache_enabled: v.cache_enabled as boolean,
    allowed_modes: [...new Set(v.allowed_modes as CacheMode[])],
    max_cache_bytes: v.max_cache_bytes as number,
    max_node_cache_bytes: v.max_node_cache_bytes as number,
    metadata_ttl_ms: v.metadata_ttl_ms as number,
    max_disconnect_seconds: v.max_disconnect_seconds as number,
    key_health_interval_ms: v.key_health_interval_ms as number,
    staging_enabled: v.staging_enabled as boolean,
    default_mode: v.default_mode as CacheMode,
  };
}

export const POLICY_FILE = 'policy.json';

export async function readPolicyFile(poolDir: string): Promise<CachePolicy> {
  const path = join(poolDir, POLICY_FILE);
  const text = await readFile(path, 'utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw kerr('InvalidArgument', `cache policy from ${path} is invalid: not JSON`, err);
  }
  return parsePolicy(value, path);
}

/** Persists the last known policy atomically (tmp + rename), mode 0600. */
export async function writePolicyFile(poolDir: string, policy: CachePolicy): Promise<void> {
  const path = join(poolDir, POLICY_FILE);
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(policy, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, path);
}

export type PolicySourceName = 'rpc' | 'policy.json' | 'conservative-defaults';

export interface ResolvedPolicy {
  policy: CachePolicy;
  source: PolicySourceName;
  /** Why each earlier source was passed over, in order. */
  skipped: { source: PolicySourceName; reason: string }[];
}

/**
 * I-CC9: data-path RPC → persisted policy.json → conservative defaults. Each source is a thunk so
 * that a later one is only consulted when an earlier one failed.
 */
export async function resolvePolicy(sources: { source: Exclude<PolicySourceName, 'conservative-defaults'>; load: () => Promise<CachePolicy> }[]): Promise<ResolvedPolicy> {
  const skipped: ResolvedPolicy['skipped'] = [];
  for (const { source, load } of sources) {
    try {
      return { policy: await load(), source, skipped };
    } catch (err) {
      skipped.push({ source, reason: err instanceof Error ? err.message : String(err) });
    }
  }
  return { policy: { ...CONSERVATIVE_POLICY, allowed_modes: [...CONSERVATIVE_POLICY.allowed_modes] }, source: 'conservative-defaults', skipped };
}

/** The cache settings a client asks for (mount option > environment), before the policy has its say. */
export interface RequestedCacheSettings {
  mode?: CacheMode;
  l2MaxBytes?: number;
  metaTtlMs?: number;
}

export interface EffectiveCacheSettings {
  mode: CacheMode;
  l2MaxBytes: number;
  metaTtlMs: number;
  maxNodeCacheBytes: number;
  maxDisconnectSeconds: number;
  keyHealthIntervalMs: number;
  stagingEnabled: boolean;
  /** Human-readable notes for every value the policy changed. */
  clamped: string[];
}

/**
 * Applies a policy to the requested settings: disabled → bypass; a mode outside allowed_modes →
 * default_mode if allowed, else organic if allowed, else the first allowed, else bypass; sizes and TTL
 * clamped to the policy's ceilings (I-CC10: computed once per session).
 */
export function applyPolicy(policy: CachePolicy, requested: RequestedCacheSettings): EffectiveCacheSettings {
  const clamped: string[] = [];
  let mode: CacheMode;
  if (!policy.cache_enabled) {
    mode = 'bypass';
    if (requested.mode !== undefined && requested.mode !== 'bypass') clamped.push(`cache_mode ${requested.mode} → bypass (cache disabled by policy)`);
  } else {
    const want = requested.mode ?? policy.default_mode;
    const allowed = (m: CacheMode) => policy.allowed_modes.includes(m);
    if (allowed(want)) mode = want;
    else {
      mode = allowed(policy.default_mode) ? policy.default_mode : allowed('organic') ? 'organic' : policy.allowed_modes[0] ?? 'bypass';
      clamped.push(`cache_mode ${want} → ${mode} (allowed: ${policy.allowed_modes.join(', ') || 'none'})`);
    }
  }
  const ceiling = (name: string, want: number | undefined, max: number): number => {
    if (want === undefined) return max;
    if (want > max) {
      clamped.push(`${name} ${want} → ${max} (policy ceiling)`);
      return max;
    }
    return want;
  };
  return {
    mode,
    l2MaxBytes: ceiling('cache_l2_max', requested.l2MaxBytes, policy.max_cache_bytes),
    metaTtlMs: ceiling('meta_ttl_ms', requested.metaTtlMs, policy.metadata_ttl_ms),
    maxNodeCacheBytes: policy.max_node_cache_bytes,
    maxDisconnectSeconds: policy.max_disconnect_seconds,
    keyHealthIntervalMs: policy.key_health_interval_ms,
    stagingEnabled: policy.cache_enabled && policy.staging_enabled,
    clamped,
  };
}

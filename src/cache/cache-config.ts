// Cache settings from their three sources (brief §4.7): mount options (-o cache_mode=…) > environment
// (KISEKI_CACHE_*) > the cache policy, then applyPolicy clamps to the policy's ceilings (I-CC10: once per
// session). Bad values are rejected with the option or variable named, never silently replaced.
import { kerr } from '../errors.js';
import { applyPolicy, isCacheMode, type CacheMode, type CachePolicy, type EffectiveCacheSettings } from './cache-policy.js';
import { parsePoolId } from './pool-id.js';

export const DEFAULT_L1_MAX_BYTES = 256 * 1024 ** 2;
export const ROOT_CACHE_DIR = '/tmp/kiseki-cache';

/** Mount option names (-o) for the cache. */
export const CACHE_MOUNT_OPTIONS = ['cache_mode', 'cache_dir', 'cache_l1_max', 'cache_l2_max', 'meta_ttl_ms'] as const;

export const CACHE_ENV = {
  dir: 'KISEKI_CACHE_DIR',
  mode: 'KISEKI_CACHE_MODE',
  l1Max: 'KISEKI_CACHE_L1_MAX',
  l2Max: 'KISEKI_CACHE_L2_MAX',
  metaTtlMs: 'KISEKI_CACHE_META_TTL_MS',
  poolId: 'KISEKI_CACHE_POOL_ID',
} as const;

export interface CacheConfig extends EffectiveCacheSettings {
  cacheDir: string;
  l1MaxBytes: number;
  /** Adopt this pool instead of creating one (KISEKI_CACHE_POOL_ID). */
  poolId: string | null;
}

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** "256M", "50G", "100GiB", "4096", "1.5G" → bytes (binary units, as Kiseki's docs use them). */
export function parseSize(text: string, name: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  if (m === null) throw kerr('InvalidArgument', `${name}=${JSON.stringify(text)} is not a size: use bytes or a number with K, M, G or T (e.g. 256M, 50G)`);
  const bytes = Math.floor(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!);
  if (!Number.isSafeInteger(bytes)) throw kerr('InvalidArgument', `${name}=${text} is too large`);
  return bytes;
}

function parseMs(text: string, name: string): number {
  if (!/^\s*\d+\s*$/.test(text)) throw kerr('InvalidArgument', `${name}=${JSON.stringify(text)} must be a whole number of milliseconds (0 disables the metadata cache)`);
  return Number(text);
}

function parseMode(text: string, name: string): CacheMode {
  const v = text.trim().toLowerCase();
  if (!isCacheMode(v)) throw kerr('InvalidArgument', `${name}=${JSON.stringify(text)} must be pinned, organic or bypass`);
  return v;
}

/**
 * Root keeps Kiseki's /tmp/kiseki-cache. Other users get /tmp/kiseki-cache-<uid>: a directory shared
 * between users would let the first one's 0700 tenant directory lock everyone else out (ADR 0041).
 */
export function defaultCacheDir(uid: number = process.geteuid?.() ?? 0): string {
  return uid === 0 ? ROOT_CACHE_DIR : `${ROOT_CACHE_DIR}-${uid}`;
}

export interface CacheSettingSources {
  /** -o key=value pairs of the mount (only the cache's keys are read). */
  mountOptions?: Readonly<Record<string, string>>;
  env?: NodeJS.ProcessEnv;
}

export function resolveCacheConfig(policy: CachePolicy, sources: CacheSettingSources = {}): CacheConfig {
  const o = sources.mountOptions ?? {};
  const env = sources.env ?? process.env;
  const pick = <T>(opt: string, envName: string, parse: (text: string, name: string) => T): T | undefined => {
    if (o[opt] !== undefined) return parse(o[opt]!, `-o ${opt}`);
    const e = env[envName];
    if (e !== undefined && e !== '') return parse(e, envName);
    return undefined;
  };
  const mode = pick('cache_mode', CACHE_ENV.mode, parseMode);
  const l2MaxBytes = pick('cache_l2_max', CACHE_ENV.l2Max, parseSize);
  const metaTtlMs = pick('meta_ttl_ms', CACHE_ENV.metaTtlMs, parseMs);
  const effective = applyPolicy(policy, {
    ...(mode !== undefined ? { mode } : {}),
    ...(l2MaxBytes !== undefined ? { l2MaxBytes } : {}),
    ...(metaTtlMs !== undefined ? { metaTtlMs } : {}),
  });
  const envPool = env[CACHE_ENV.poolId];
  return {
    ...effective,
    cacheDir: pick('cache_dir', CACHE_ENV.dir, (t) => t) ?? defaultCacheDir(),
    l1MaxBytes: pick('cache_l1_max', CACHE_ENV.l1Max, parseSize) ?? DEFAULT_L1_MAX_BYTES,
    poolId: envPool !== undefined && envPool !== '' ? parsePoolId(envPool, CACHE_ENV.poolId) : null,
  };
}

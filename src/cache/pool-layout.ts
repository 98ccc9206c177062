// Names of everything a cache pool puts on disk (brief §4.4), in one place:
//
//   <cache_dir>/<tenant>/<pool_id>/            a live or orphaned pool (32 hex id)
//     pool.lock                                flock(LOCK_EX) held by the owner for the pool's lifetime
//     chunks/<2 hex>/<64 hex>                  plaintext ‖ CRC32 LE trailer, 0600
//     staging/*.manifest   policy.json   stats.json   control.sock   handoff
//   <cache_dir>/<tenant>/.new-<pool_id>/       a pool being built; renamed to <pool_id> once its lock is held
//   <cache_dir>/<tenant>/.gone-<pool_id>-<r>/  a pool being destroyed by whoever holds its lock
//
// Directories are 0700, files 0600. Only names that match these patterns are ever deleted by the
// scrubber, so a mistaken --cache-dir cannot destroy anything that is not a pool.
import { join } from 'node:path';
import { kerr } from '../errors.js';

export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;

export const LOCK_FILE = 'pool.lock';
export const CHUNKS_DIR = 'chunks';
export const STAGING_DIR = 'staging';
export const STATS_FILE = 'stats.json';
export const CONTROL_SOCKET = 'control.sock';
export const HANDOFF_FILE = 'handoff';

export const NEW_PREFIX = '.new-';
export const GONE_PREFIX = '.gone-';

export const CHUNK_ID_RE = /^[0-9a-f]{64}$/;

export function isChunkId(id: string): boolean {
  return CHUNK_ID_RE.test(id);
}

export function assertChunkId(id: string): void {
  if (!CHUNK_ID_RE.test(id)) throw kerr('InvalidArgument', `chunk id must be 64 lowercase hex digits, got ${JSON.stringify(id.slice(0, 80))}`);
}

export function tenantDir(cacheDir: string, tenant: string): string {
  return join(cacheDir, tenant);
}

export function poolDir(cacheDir: string, tenant: string, poolId: string): string {
  return join(cacheDir, tenant, poolId);
}

export function chunkRelPath(chunkId: string): string {
  return join(CHUNKS_DIR, chunkId.slice(0, 2), chunkId);
}

// Finding and talking to the live pools of running mounts from another process (cache --stats/--wipe).
// A pool is live while its pool.lock is flocked; its owner answers on control.sock and publishes
// stats.json every second (the fallback when the socket path was too long to bind).
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { kerr } from '../errors.js';
import { isStatsSnapshot, type CacheStatsSnapshot } from './cache-stats.js';
import { controlRequest } from './control-socket.js';
import { isPoolId, parsePoolId } from './pool-id.js';
import { CONTROL_SOCKET, LOCK_FILE, STATS_FILE } from './pool-layout.js';
import { PoolLock } from './pool-lock.js';

export interface LivePool { tenant: string; poolId: string; dir: string }

export async function findLivePools(cacheDir: string, filter: { tenant?: string; poolId?: string } = {}): Promise<LivePool[]> {
  const poolId = filter.poolId !== undefined ? parsePoolId(filter.poolId, '--pool') : undefined;
  const tenants = filter.tenant !== undefined ? [filter.tenant] : await names(cacheDir);
  const live: LivePool[] = [];
  for (const tenant of tenants) {
    for (const id of await names(join(cacheDir, tenant))) {
      if (!isPoolId(id) || (poolId !== undefined && id !== poolId)) continue;
      const dir = join(cacheDir, tenant, id);
      const r = await PoolLock.tryOpen(join(dir, LOCK_FILE));
      if (r.kind === 'locked') await r.lock.release();
      if (r.kind === 'held') live.push({ tenant, poolId: id, dir });
    }
  }
  return live;
}

export type PoolStatsSource = 'control-socket' | 'stats.json';

/** Live figures from the owner; stats.json (at most about a second old) when the socket is unavailable. */
export async function readPoolStats(pool: LivePool): Promise<{ stats: CacheStatsSnapshot; source: PoolStatsSource }> {
  try {
    return { stats: await controlRequest(join(pool.dir, CONTROL_SOCKET), 'stats'), source: 'control-socket' };
  } catch (err) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(join(pool.dir, STATS_FILE), 'utf8'));
    } catch {
      throw kerr('Unavailable', `cache pool ${pool.tenant}/${pool.poolId} is live but neither answers on ${CONTROL_SOCKET} nor has ${STATS_FILE}`, err);
    }
    if (!isStatsSnapshot(parsed)) throw kerr('Internal', `${join(pool.dir, STATS_FILE)} is not a stats record`);
    return { stats: parsed, source: 'stats.json' };
  }
}

/** Asks the owner to wipe L1, L2 and metadata now; returns its stats after the wipe. */
export function wipeLivePool(pool: LivePool): Promise<CacheStatsSnapshot> {
  return controlRequest(join(pool.dir, CONTROL_SOCKET), 'wipe', 120_000);
}

async function names(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory() && !d.name.startsWith('.')).map((d) => d.name);
  } catch {
    return [];
  }
}

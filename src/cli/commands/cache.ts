// `kiseki-client cache --stats [--json] [--pool ID] | --wipe [--pool ID]`: reads or wipes the live cache
// pool(s) of running mounts on this machine (never a fresh empty pool, unlike Kiseki's CLI).
// Without --pool every live pool under the cache directory is shown (or wiped).
import type { Command } from 'commander';
import { CACHE_ENV, defaultCacheDir } from '../../cache/cache-config.js';
import { formatStats, type CacheStatsSnapshot } from '../../cache/cache-stats.js';
import { findLivePools, readPoolStats, wipeLivePool, type PoolStatsSource } from '../../cache/live-pools.js';
import { kerr } from '../../errors.js';

export interface CacheCommandOptions {
  stats?: boolean;
  wipe?: boolean;
  json?: boolean;
  pool?: string;
  tenant?: string;
  cacheDir?: string;
}

/** Runs the command and returns what it prints (the CLI writes it to stdout). */
export async function runCacheCommand(opts: CacheCommandOptions): Promise<string> {
  if (opts.stats === true && opts.wipe === true) throw kerr('InvalidArgument', 'use either --stats or --wipe, not both');
  if (opts.stats !== true && opts.wipe !== true) throw kerr('InvalidArgument', 'say what to do: --stats or --wipe');
  const cacheDir = opts.cacheDir ?? (process.env[CACHE_ENV.dir] || defaultCacheDir());
  const pools = await findLivePools(cacheDir, {
    ...(opts.tenant !== undefined ? { tenant: opts.tenant } : {}),
    ...(opts.pool !== undefined ? { poolId: opts.pool } : {}),
  });
  if (pools.length === 0) {
    if (opts.pool !== undefined) throw kerr('NotFound', `no live cache pool ${opts.pool} under ${cacheDir} (is the mount running? is KISEKI_CACHE_DIR right?)`);
    return opts.json === true ? '[]' : `No live cache pools under ${cacheDir}.`;
  }
  const rows: { stats: CacheStatsSnapshot; source: PoolStatsSource | 'wiped' }[] = [];
  for (const pool of pools) {
    rows.push(opts.wipe === true ? { stats: await wipeLivePool(pool), source: 'wiped' } : await readPoolStats(pool));
  }
  if (opts.json === true) return JSON.stringify(rows.map((r) => ({ ...r.stats, source: r.source })), null, 2);
  return rows.map((r) => {
    if (r.source === 'wiped') return `Cache wiped (L1 + L2 + metadata): ${r.stats.tenant}/${r.stats.pool_id} (pid ${r.stats.pid}), wipes ${r.stats.wipes}.`;
    const note = r.source === 'stats.json' ? `\n(from stats.json, ${Math.round((Date.now() - r.stats.taken_at) / 1000)} s old)` : '';
    return formatStats(r.stats) + note;
  }).join('\n\n');
}

export function registerCacheCommand(program: Command): void {
  program
    .command('cache')
    .description('show statistics of, or wipe, the live cache pools of running mounts on this machine')
    .option('--stats', 'print cache statistics (hits, misses, bytes, wipes, staged data)')
    .option('--wipe', 'zero-overwrite and drop everything cached (L1 + L2 + metadata)')
    .option('--json', 'print JSON (an array, one object per pool)')
    .option('--pool <id>', 'only this pool (32 hex digits; see KISEKI_CACHE_POOL_ID)')
    .option('--tenant <tenant>', 'only pools of this tenant')
    .option('--cache-dir <dir>', `cache directory (default: ${CACHE_ENV.dir}, then ${defaultCacheDir()})`)
    .action(async (opts: CacheCommandOptions) => {
      process.stdout.write(`${await runCacheCommand(opts)}\n`);
    });
}

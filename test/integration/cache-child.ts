// A separate process that owns a real cache pool, for tests of what OTHER processes see: it opens a
// ChunkCache, stores N chunks, prints {"poolId","dir","chunkIds"} on one line and then lives until
// SIGTERM (clean close: pool wiped) or SIGKILL (orphan left behind). A line "handoff" on stdin hands
// the pool over instead and exits.
// argv[2]: JSON {cacheDir, tenant, mode?, chunks?, chunkBytes?, adoptPoolId?, scavenge? (default false)}
import { createHash, randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { resolveCacheConfig } from '../../src/cache/cache-config.js';
import { DEFAULT_POLICY } from '../../src/cache/cache-policy.js';
import { ChunkCache } from '../../src/cache/chunk-cache.js';

interface ChildArgs { cacheDir: string; tenant: string; mode?: string; chunks?: number; chunkBytes?: number; adoptPoolId?: string; scavenge?: boolean }

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2]!) as ChildArgs;
  const config = resolveCacheConfig(DEFAULT_POLICY, {
    mountOptions: { cache_dir: args.cacheDir, cache_mode: args.mode ?? 'organic' },
    env: args.adoptPoolId !== undefined ? { KISEKI_CACHE_POOL_ID: args.adoptPoolId } : {},
  });
  const cache = await ChunkCache.open(config, { tenant: args.tenant, pool: { scavenge: args.scavenge === true }, statsIntervalMs: 200 });
  const chunkIds: string[] = [];
  for (let i = 0; i < (args.chunks ?? 0); i++) {
    const data = randomBytes(args.chunkBytes ?? 4096);
    const id = createHash('sha256').update(data).digest('hex');
    await cache.put(id, data);
    chunkIds.push(id);
  }
  for (const id of chunkIds.slice(0, 1)) (await cache.get(id)).kind === 'hit' || process.exit(3);
  process.stdout.write(`${JSON.stringify({ poolId: cache.pool?.id ?? null, dir: cache.pool?.dir ?? null, chunkIds, l2: cache.stats().l2_entries })}\n`);
  const keepAlive = setInterval(() => undefined, 60_000);
  process.on('SIGTERM', () => {
    void cache.close().then(() => { clearInterval(keepAlive); process.exit(0); });
  });
  const rl = createInterface({ input: process.stdin });
  let handingOff = false;
  rl.on('line', (line) => {
    if (line.trim() !== 'handoff') return;
    handingOff = true;
    void cache.handOff(60_000).then(() => { process.stdout.write('handed-off\n'); clearInterval(keepAlive); process.exit(0); });
  });
  // The test process is gone (its end of stdin closed): never outlive it.
  rl.on('close', () => {
    if (!handingOff) void cache.close().then(() => process.exit(0));
  });
}

void main().catch((err) => {
  process.stderr.write(`cache-child: ${(err as Error).stack}\n`);
  process.exit(2);
});

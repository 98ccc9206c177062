// ChunkCache.peekL1, the synchronous L1 lookup of the hot read path: a hit is counted exactly once
// (as get() would count it), a miss or a bypass-mode cache answers null and counts nothing.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkCache } from '../../src/cache/chunk-cache.js';
import { chunk, config, tempDir } from './cache-fixtures.js';

const dirs: { cleanup(): Promise<void> }[] = [];
after(async () => { for (const d of dirs) await d.cleanup(); });

test('peekL1: an L1 hit is leased synchronously and counted once; a miss, an L2-only entry or bypass mode answer null uncounted', async () => {
  const d = await tempDir();
  dirs.push(d);
  const cache = await ChunkCache.open(config(d.path, { l1: '1M' }), { tenant: 't1', pool: { scavenge: false, capacityRefreshMs: 0 }, statsIntervalMs: 0 });
  const bypass = await ChunkCache.open(config(d.path, { mode: 'bypass' }), { tenant: 't1', statsIntervalMs: 0 });
  try {
    const small = chunk(4096);
    const big = chunk(2 << 20); // larger than L1: kept in L2 only
    await cache.put(small.id, small.data);
    await cache.put(big.id, big.data);
    const h = cache.peekL1(small.id);
    assert.ok(h !== null && h.tier === 'l1' && h.data.equals(small.data));
    h.release();
    assert.equal(cache.peekL1(big.id), null, 'an L2-only entry is not an L1 hit');
    assert.equal(cache.peekL1(chunk().id), null);
    const s = cache.stats();
    assert.equal(s.l1_hits, 1);
    assert.equal(s.misses + s.l2_hits + s.bypasses, 0, 'peeks count nothing but hits');
    const viaGet = await cache.get(big.id);
    assert.ok(viaGet.kind === 'hit' && viaGet.tier === 'l2', 'get() still finds it in L2');
    viaGet.release();
    assert.equal(bypass.peekL1(small.id), null);
    assert.equal(bypass.stats().bypasses, 0, 'a peek is not a lookup: get() counts the bypass');
  } finally {
    await cache.close();
    await bypass.close();
  }
});

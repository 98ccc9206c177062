import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { ChunkCache } from '../../src/cache/chunk-cache.js';
import { registerCacheMetrics } from '../../src/cache/cache-stats.js';
import { parseMetricsAddr, startMetricsEndpoint } from '../../src/cache/metrics-endpoint.js';
import { KisekiError } from '../../src/errors.js';
import { chunk, config, tempDir } from './cache-fixtures.js';

const dirs: { cleanup(): Promise<void> }[] = [];
after(async () => { for (const d of dirs) await d.cleanup(); });

function fetchText(url: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => { body += c; }).on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    }).on('error', reject);
  });
}

test('the mount\'s /metrics endpoint serves the live cache_* counters over HTTP', async () => {
  const d = await tempDir();
  dirs.push(d);
  const cache = await ChunkCache.open(config(d.path), { tenant: 't1', statsIntervalMs: 0, pool: { scavenge: false } });
  const { registry } = registerCacheMetrics(() => cache.stats());
  const ep = await startMetricsEndpoint('127.0.0.1:0', registry);
  const c = chunk();
  await cache.put(c.id, c.data);
  for (let i = 0; i < 3; i++) { const r = await cache.get(c.id); if (r.kind === 'hit') r.release(); }
  const res = await fetchText(`http://${ep.address}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.type, /^text\/plain/);
  assert.match(res.body, /^cache_l1_hits 3$/m);
  assert.match(res.body, /^cache_l2_bytes 4100$/m);
  assert.equal((await fetchText(`http://${ep.address}/`)).status, 404);
  await ep.close();
  await cache.close();
});

test('metrics_addr is HOST:PORT, [IPv6]:PORT or :PORT', () => {
  assert.deepEqual(parseMetricsAddr('127.0.0.1:9464'), { host: '127.0.0.1', port: 9464 });
  assert.deepEqual(parseMetricsAddr('[::1]:0'), { host: '::1', port: 0 });
  assert.deepEqual(parseMetricsAddr(':9464'), { host: '0.0.0.0', port: 9464 });
  for (const bad of ['9464', 'host', 'a:b', '1.2.3.4:70000', '[::1]']) assert.throws(() => parseMetricsAddr(bad), KisekiError, bad);
});

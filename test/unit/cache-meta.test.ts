import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/cache/clock.js';
import { MetaCache } from '../../src/cache/meta-cache.js';

test('I-CC3: within the TTL the cached chunk list is served even though the file changed; after it, a miss', () => {
  const clock = new ManualClock();
  const counters = { meta_hits: 0, meta_misses: 0 };
  const meta = new MetaCache<string, string[]>({ ttlMs: 5000, clock, counters });
  let canonical = ['c1', 'c2'];
  meta.put('/a', canonical);
  canonical = ['c9']; // modified elsewhere
  clock.advance(5000);
  const inside = meta.get('/a');
  assert.deepEqual(inside.kind === 'hit' ? inside.value : null, ['c1', 'c2'], 'authoritative inside the window (elapsed == ttl)');
  clock.advance(1);
  assert.equal(meta.get('/a').kind, 'miss');
  meta.put('/a', canonical);
  const after = meta.get('/a');
  assert.deepEqual(after.kind === 'hit' ? after.value : null, ['c9']);
  assert.deepEqual(counters, { meta_hits: 2, meta_misses: 1 });
});

test('I-CC3: a deleted file stays visible from cache until the TTL runs out', () => {
  const clock = new ManualClock();
  const meta = new MetaCache<string, string[]>({ ttlMs: 100, clock });
  meta.put('/gone', ['c1']);
  clock.advance(99);
  assert.equal(meta.get('/gone').kind, 'hit');
  clock.advance(2);
  assert.equal(meta.get('/gone').kind, 'miss');
});

test('I-CC5: the TTL bounds staleness: no hit is ever older than the TTL, ttl 0 caches nothing', () => {
  const clock = new ManualClock();
  for (const ttl of [0, 1, 250, 5000]) {
    const meta = new MetaCache<number, number>({ ttlMs: ttl, clock });
    for (let k = 0; k < 50; k++) meta.put(k, k);
    for (let step = 0; step < 40; step++) {
      clock.advance(137);
      for (let k = 0; k < 50; k++) {
        const r = meta.get(k);
        if (r.kind === 'hit') assert.ok(r.ageMs <= ttl, `ttl ${ttl}: served an entry ${r.ageMs} ms old`);
        if (k % 7 === step % 7) meta.put(k, k);
      }
    }
    if (ttl === 0) assert.equal(meta.size, 0);
  }
});

test('own writes are written through and read back at once (read-your-writes)', () => {
  const clock = new ManualClock();
  const meta = new MetaCache<string, string[]>({ ttlMs: 5000, clock });
  meta.put('/f', ['old']);
  clock.advance(4000);
  meta.writeThrough('/f', ['new']);
  const r = meta.get('/f');
  assert.deepEqual(r.kind === 'hit' ? r.value : null, ['new']);
  clock.advance(4999);
  assert.equal(meta.get('/f').kind, 'hit', 'the write-through restarted the window');
  assert.equal(meta.evictExpired(), 0);
  clock.advance(2);
  assert.equal(meta.evictExpired(), 1);
});

test('the metadata cache is bounded by maxEntries and rejects a negative TTL', () => {
  const meta = new MetaCache<number, number>({ ttlMs: 1000, clock: new ManualClock(), maxEntries: 3 });
  for (let k = 0; k < 5; k++) meta.put(k, k);
  assert.equal(meta.size, 3);
  assert.equal(meta.get(0).kind, 'miss');
  assert.equal(meta.get(4).kind, 'hit');
  assert.throws(() => new MetaCache({ ttlMs: -1 }), RangeError);
});

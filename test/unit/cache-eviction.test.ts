import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageWeightedLru } from '../../src/cache/eviction.js';
import { L1Memory } from '../../src/cache/l1-memory.js';
import { Page } from '../../src/cache/page.js';

test('organic eviction: least recently used goes first when nobody was read', () => {
  const lru = new UsageWeightedLru();
  for (const k of ['a', 'b', 'c']) lru.insert(k);
  assert.deepEqual([lru.victim(), lru.victim(), lru.victim(), lru.victim()], ['a', 'b', 'c', null]);
});

test('organic eviction: a chunk read N times survives exactly N eviction rounds', () => {
  for (let n = 0; n <= 5; n++) {
    const lru = new UsageWeightedLru();
    lru.insert('hot');
    for (let i = 0; i < n; i++) lru.touch('hot');
    // Steady state: one cold entry arrives before each eviction; count rounds until hot goes.
    let survived = 0;
    for (let round = 0; ; round++) {
      lru.insert(`cold${round}`);
      const v = lru.victim();
      if (v === 'hot') break;
      assert.equal(v, `cold${round}`);
      survived++;
    }
    assert.equal(survived, n, `read ${n} times`);
  }
});

test('organic eviction: with access counts 0,1,2,3 the eviction order is by credits, each round costing one', () => {
  const lru = new UsageWeightedLru();
  const keys = ['k0', 'k1', 'k2', 'k3'];
  keys.forEach((k) => lru.insert(k));
  keys.forEach((k, n) => { for (let i = 0; i < n; i++) lru.touch(k); });
  const order: string[] = [];
  for (let v = lru.victim(); v !== null; v = lru.victim()) order.push(v);
  assert.deepEqual(order, ['k0', 'k1', 'k2', 'k3']);
  assert.equal(lru.size, 0);
});

test('I-CC2: L1 zeroes a page on eviction once no reader holds it, and never under a reader', () => {
  const l1 = new L1Memory(8);
  const a = Page.copyOf(Buffer.from('AAAA'));
  const b = Page.copyOf(Buffer.from('BBBB'));
  assert.equal(l1.put('a', a, false), true);
  assert.equal(l1.put('b', b, false), true);
  a.release();
  b.release(); // only the cache holds them now
  const reader = l1.get('b')!; // a reader holds b; b is now MRU with one credit
  const c = Page.copyOf(Buffer.from('CCCC'));
  assert.equal(l1.put('c', c, false), true); // evicts a (LRU, no credit)
  assert.deepEqual([...a.bytes], [0, 0, 0, 0], 'evicted a is zeroed at once');
  const d = Page.copyOf(Buffer.from('DDDD'));
  assert.equal(l1.put('d', d, false), true); // b spends its credit, c is evicted; then room
  assert.equal(l1.has('b'), true);
  l1.wipe();
  assert.equal(reader.bytes.toString(), 'BBBB', 'a wipe does not zero bytes a reader still uses');
  reader.release();
  assert.deepEqual([...b.bytes], [0, 0, 0, 0], 'the last release zeroes them');
  assert.equal(l1.bytes, 0);
});

test('L1 never evicts pinned entries: a new entry that cannot fit is simply not kept', () => {
  const l1 = new L1Memory(8);
  const p1 = Page.copyOf(Buffer.alloc(4, 1));
  const p2 = Page.copyOf(Buffer.alloc(4, 2));
  l1.put('p1', p1, true);
  l1.put('p2', p2, true);
  const o = Page.copyOf(Buffer.alloc(4, 3));
  assert.equal(l1.put('o', o, false), false);
  assert.equal(l1.has('p1') && l1.has('p2'), true);
  assert.equal(p1.bytes[0], 1);
  l1.unpin('p1');
  assert.equal(l1.put('o', o, false), true, 'an unpinned entry becomes evictable');
  assert.equal(l1.has('p1'), false);
});

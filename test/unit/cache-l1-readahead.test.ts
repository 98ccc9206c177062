// L1 read-ahead entries (ADR 0048): a chunk warmed ahead of a sequential reader stays out of
// usage-weighted eviction until its first hit, at most half of L1 is held that way, and a read-ahead
// lease is not a use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { L1Memory } from '../../src/cache/l1-memory.js';
import { Page } from '../../src/cache/page.js';

const page = (size: number, fill: number): Page => new Page(Buffer.alloc(size, fill));

/**
 * A sequential reader over `chunks` chunks with prefetch `depth` ahead, in an L1 of `slots` entries:
 * at chunk k, prefetch puts chunk k + depth, then the reader reads chunk k in 32 requests (32 hits).
 * Returns how many chunks the reader found gone (evicted after prefetch, before it got there).
 */
function missesOfAStream(ahead: boolean, chunks = 40, slots = 8, depth = 4): number {
  const l1 = new L1Memory(slots * 10);
  const put = (k: number): void => {
    const p = page(10, k);
    l1.put(`c${k}`, p, false, ahead);
    p.release();
  };
  for (let k = 0; k < depth; k++) put(k);
  let missed = 0;
  for (let k = 0; k < chunks; k++) {
    if (k + depth < chunks) put(k + depth);
    if (!l1.has(`c${k}`)) {
      missed++;
      put(k);
    }
    l1.touch(`c${k}`, 32);
  }
  return missed;
}

test('ADR 0048: a chunk warmed ahead of a sequential reader is still in L1 when the reader gets there', () => {
  assert.equal(missesOfAStream(true), 0);
  assert.equal(missesOfAStream(true, 100, 16, 4), 0);
});

test('ADR 0048: without read-ahead entries, usage-weighted eviction drops prefetched chunks before they are read', () => {
  // Every chunk read holds 32 credits, every prefetched one none: the newest go first.
  assert.ok(missesOfAStream(false) > 10, `missed ${missesOfAStream(false)} of 40`);
});

test('ADR 0048: a read-ahead entry is protected while it is read, and joins eviction with its hits once the reader passed it', () => {
  const l1 = new L1Memory(100);
  const pages = [0, 1, 2].map((i) => page(10, i));
  pages.forEach((p, i) => l1.put(`a${i}`, p, false, true));
  l1.touch('a0', 5);
  assert.equal(l1.aheadBytes, 30, 'the chunk being read is still read-ahead');
  l1.touch('a1', 1);
  assert.equal(l1.aheadBytes, 20, 'a0 was passed: it is ordinary now');
  // Fill L1 with ordinary entries read once: a0 (5 credits) outlives them, a1 and a2 are not evicted.
  const gone: string[] = [];
  for (let i = 0; i < 10; i++) {
    const p = page(10, 10 + i);
    l1.put(`o${i}`, p, false);
    p.release();
    l1.touch(`o${i}`, 1);
    for (const k of ['a0', 'a1', 'a2']) if (!l1.has(k) && !gone.includes(k)) gone.push(k);
  }
  assert.deepEqual(gone, [], 'nothing protected or hit five times was evicted by chunks hit once');
  // Ordinary entries hit more often than a0 make it the victim: it is in the policy with its 5 credits.
  for (let i = 10; i < 30 && l1.has('a0'); i++) {
    const p = page(10, 10 + i);
    l1.put(`o${i}`, p, false);
    p.release();
    l1.touch(`o${i}`, 50);
  }
  assert.equal(l1.has('a0'), false, 'a0 is evicted in the end, like any ordinary entry');
  assert.ok(l1.has('a1') && l1.has('a2'), 'the read-ahead entries stay');
  // I-CC2: the cache's reference to the evicted page went; its creator still holds one, so it is intact.
  assert.equal(pages[0]!.refs, 1);
  for (const p of pages) p.release();
  assert.equal(pages[0]!.zeroed, true);
});

test('ADR 0048: at most half of L1 is read-ahead; beyond, and when nothing else can go, the oldest goes first', () => {
  const l1 = new L1Memory(40);
  for (let i = 0; i < 3; i++) {
    const p = page(10, i);
    l1.put(`a${i}`, p, false, true);
    p.release();
  }
  // 30 bytes asked for, 20 (half of 40) held as read-ahead: a0, the oldest, became ordinary.
  assert.equal(l1.aheadBytes, 20);
  let p = page(10, 9);
  l1.put('ordinary', p, false);
  p.release();
  p = page(10, 10);
  l1.put('a3', p, false, true);
  p.release();
  assert.equal(l1.has('a0'), false, 'the ordinary entries go first (a0 was demoted, least recent)');
  assert.ok(l1.has('ordinary'));
  // Only read-ahead entries and one ordinary left; fill with read-ahead until only they can go.
  p = page(10, 11);
  l1.put('a4', p, false, true);
  p.release();
  assert.equal(l1.count, 4);
  assert.ok(l1.aheadBytes <= 20);
  const all = new L1Memory(20);
  for (let i = 0; i < 3; i++) {
    p = page(10, 20 + i);
    assert.equal(all.put(`b${i}`, p, false, true), true, 'a read-ahead entry is evicted when nothing else can make room');
    p.release();
  }
  assert.deepEqual([all.has('b0'), all.has('b1'), all.has('b2')], [false, true, true]);
});

test('ADR 0048: a read-ahead lease is not a use; remove, pinning and wipe forget read-ahead entries', () => {
  const l1 = new L1Memory(100);
  const p = page(10, 1);
  l1.put('ahead', p, false, true);
  const leased = l1.lease('ahead');
  assert.ok(leased !== null && leased.bytes[0] === 1);
  leased.release();
  assert.equal(l1.aheadBytes, 10, 'still read-ahead after a lease');
  l1.remove('ahead');
  assert.equal(l1.aheadBytes, 0);
  l1.put('ahead', p, false, true);
  l1.put('ahead', p, true);
  assert.equal(l1.aheadBytes, 0, 'pinned: out of eviction altogether');
  l1.put('ahead2', p, false, true);
  l1.wipe();
  assert.equal(l1.aheadBytes, 0);
  p.release();
  // I-CC2: wipe dropped the cache's references, this was the last one.
  assert.equal(p.zeroed, true);
  assert.ok(p.bytes.every((b) => b === 0));
});

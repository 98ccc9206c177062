import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  addExtent, copySpan, slotCount, slotLength, spansOf, truncatePlan, MIN_CHUNK_SIZE,
} from '../../src/client/chunk-layout.js';

const CS = MIN_CHUNK_SIZE;

test('spansOf tiles a range exactly, each span inside one chunk', () => {
  fc.assert(fc.property(fc.nat(50 * CS), fc.nat(5 * CS), (offset, length) => {
    const spans = spansOf(offset, length, CS);
    let pos = offset;
    let inRange = 0;
    for (const s of spans) {
      assert.equal(s.chunkStart + s.inChunk, pos);
      assert.equal(s.inRange, inRange);
      assert.equal(s.chunkStart, s.index * CS);
      assert.ok(s.length > 0 && s.inChunk + s.length <= CS);
      pos += s.length;
      inRange += s.length;
    }
    assert.equal(pos, offset + length);
  }));
});

test('spansOf splits a range crossing a boundary', () => {
  const spans = spansOf(CS - 10, 20, CS);
  assert.deepEqual(spans.map((s) => [s.index, s.inChunk, s.length, s.inRange]), [[0, CS - 10, 10, 0], [1, 0, 10, 10]]);
  assert.deepEqual(spansOf(5, 0, CS), []);
});

test('slot count and lengths: empty file has no chunks, the last chunk is short', () => {
  assert.equal(slotCount(0, CS), 0);
  assert.equal(slotCount(1, CS), 1);
  assert.equal(slotCount(CS, CS), 1);
  assert.equal(slotCount(CS + 1, CS), 2);
  assert.equal(slotLength(0, CS + 7, CS), CS);
  assert.equal(slotLength(1, CS + 7, CS), 7);
  assert.equal(slotLength(2, CS + 7, CS), 0);
});

test('I-FS1: shrinking mid-chunk rewrites the straddling chunk and drops the rest', () => {
  assert.deepEqual(truncatePlan(3 * CS, CS + 5, CS), { dropFrom: CS, partial: { index: 1, keep: 5 } });
  assert.deepEqual(truncatePlan(3 * CS, CS, CS), { dropFrom: CS, partial: null });
  assert.deepEqual(truncatePlan(3 * CS, 0, CS), { dropFrom: 0, partial: null });
  fc.assert(fc.property(fc.nat(20 * CS), fc.nat(20 * CS), (a, b) => {
    fc.pre(a !== b); // a shrink; truncating to the same size is "growing drops nothing" below
    const [oldSize, newSize] = a > b ? [a, b] : [b, a];
    const plan = truncatePlan(oldSize, newSize, CS);
    // Nothing that survives may extend past newSize: kept chunks end at dropFrom ≤ newSize, and
    // the rewritten partial chunk holds exactly the bytes up to newSize.
    assert.ok(plan.dropFrom <= newSize);
    if (plan.partial) assert.equal(plan.partial.index * CS + plan.partial.keep, newSize);
    else assert.equal(plan.dropFrom, newSize);
  }));
});

test('growing drops nothing', () => {
  assert.deepEqual(truncatePlan(CS + 5, 4 * CS, CS), { dropFrom: 2 * CS, partial: null });
});

test('copySpan zero-fills past a short chunk and for holes', () => {
  const out = Buffer.alloc(8, 0xff);
  const [span] = spansOf(2, 6, CS);
  copySpan(Buffer.from('abcd'), span!, out, 1);
  assert.deepEqual([...out], [0xff, 0x63, 0x64, 0, 0, 0, 0, 0xff]);
  out.fill(0xff);
  copySpan(null, span!, out, 0);
  assert.deepEqual([...out.subarray(0, 6)], [0, 0, 0, 0, 0, 0]);
});


test('addExtent keeps a sorted list of disjoint ranges, merging touching ones', () => {
  const l: Array<[number, number]> = [];
  addExtent(l, 10, 20);
  addExtent(l, 30, 40);
  addExtent(l, 0, 5);
  assert.deepEqual(l, [[0, 5], [10, 20], [30, 40]]);
  addExtent(l, 20, 30);
  assert.deepEqual(l, [[0, 5], [10, 40]]);
  addExtent(l, 3, 12);
  assert.deepEqual(l, [[0, 40]]);
  addExtent(l, 50, 50);
  assert.deepEqual(l, [[0, 40]]);
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(100), fc.nat(20))), (ops) => {
    const list: Array<[number, number]> = [];
    const covered = new Set<number>();
    for (const [s, n] of ops) {
      addExtent(list, s, s + n);
      for (let i = s; i < s + n; i++) covered.add(i);
    }
    const fromList = new Set<number>();
    list.forEach(([a, b], i) => {
      assert.ok(a < b);
      if (i > 0) assert.ok(list[i - 1]![1] < a, 'disjoint and not touching');
      for (let x = a; x < b; x++) fromList.add(x);
    });
    assert.deepEqual([...fromList].sort((x, y) => x - y), [...covered].sort((x, y) => x - y));
  }));
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { placeChunk, rankNodes, rendezvousScore } from '../../src/client/placement.js';

const chunkId = fc.uint8Array({ minLength: 32, maxLength: 32 });
const nodeSet = fc.uniqueArray(fc.integer({ min: 0, max: 1_000_000 }), { minLength: 2, maxLength: 9 });

test('placement: score is SHA-256(chunk_id || node_id u64 LE), first 8 bytes big-endian (documented vector)', () => {
  const id = Buffer.alloc(32, 0xab);
  // Computed independently: python3 -c "import hashlib;print(int.from_bytes(hashlib.sha256(b'\xab'*32+(7).to_bytes(8,'little')).digest()[:8],'big'))"
  assert.equal(rendezvousScore(id, 7), 16789176933425680801n);
  assert.notEqual(rendezvousScore(id, 7), rendezvousScore(id, 8));
});

test('placement: the ranking is a permutation, the write set is its first R, deterministic', () => {
  fc.assert(fc.property(chunkId, nodeSet, fc.integer({ min: 1, max: 5 }), (id, nodes, r) => {
    const p = placeChunk(id, nodes, r);
    assert.deepEqual([...p.read].sort((a, b) => a - b), [...nodes].sort((a, b) => a - b));
    assert.deepEqual(p.write, p.read.slice(0, Math.min(r, nodes.length)));
    assert.deepEqual(placeChunk(id, [...nodes].reverse(), r), p);
  }));
});

test('placement: stable when a node leaves — every chunk keeps its order minus the departed node', () => {
  fc.assert(fc.property(chunkId, nodeSet, fc.nat(), (id, nodes, pick) => {
    const gone = nodes[pick % nodes.length]!;
    const before = rankNodes(id, nodes);
    const after = rankNodes(id, nodes.filter((n) => n !== gone));
    assert.deepEqual(after, before.filter((n) => n !== gone));
  }));
});

test('placement: a departing node moves only its own chunks (R = 2 of 5, 2000 chunks)', () => {
  const nodes = [1, 2, 3, 4, 5];
  let moved = 0;
  let held = 0;
  for (let i = 0; i < 2000; i++) {
    const id = Buffer.alloc(32);
    id.writeUInt32LE(i);
    const before = placeChunk(id, nodes, 2).write;
    const after = placeChunk(id, nodes.filter((n) => n !== 3), 2).write;
    if (before.includes(3)) {
      held++;
      assert.equal(after.filter((n) => before.includes(n)).length, 1, 'the surviving replica stays');
      moved++;
    } else assert.deepEqual(after, before, 'chunks not on node 3 do not move');
  }
  assert.equal(moved, held);
  assert.ok(held > 600 && held < 1000, `node 3 held ${held} of 2000 (expect ≈ 800 = 2000 × 2/5)`);
});

test('placement: load spreads evenly — each of 5 nodes is first choice for 20 % ± 3 % of 10,000 chunks', () => {
  const nodes = [11, 22, 33, 44, 55];
  const first = new Map<number, number>(nodes.map((n) => [n, 0]));
  for (let i = 0; i < 10_000; i++) {
    const id = Buffer.alloc(32);
    id.writeUInt32BE(i, 28);
    const top = rankNodes(id, nodes)[0]!;
    first.set(top, first.get(top)! + 1);
  }
  for (const [n, count] of first) assert.ok(count > 1700 && count < 2300, `node ${n} first for ${count}`);
});

test('placement: R larger than the cluster is capped; no nodes is a clear error', () => {
  assert.equal(placeChunk(Buffer.alloc(32), [1, 2], 3).write.length, 2);
  assert.throws(() => placeChunk(Buffer.alloc(32), [], 1), /no nodes to place/);
  assert.throws(() => placeChunk(Buffer.alloc(32), [1, 1], 1), /duplicate node ids/);
});

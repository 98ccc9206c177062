import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { placeChunk, rendezvousScore } from '../../src/node/rendezvous.js';

test('the score is the first 8 bytes (big-endian) of SHA-256(chunk_id || node_id u64 LE), as docs/protocol.md says', () => {
  const id = Buffer.alloc(32, 0xab);
  const le = Buffer.from([7, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(rendezvousScore(id, 7), createHash('sha256').update(Buffer.concat([id, le])).digest().readBigUInt64BE(0));
});

test('placement picks R distinct nodes, is stable, and only chunks of a removed node move', () => {
  const nodes = [1, 2, 3, 4, 5];
  let moved = 0;
  for (let i = 0; i < 300; i++) {
    const id = randomBytes(32);
    const p = placeChunk(id, nodes, 3);
    assert.equal(new Set(p).size, 3);
    assert.deepEqual(placeChunk(id, [...nodes].reverse(), 3), p, 'independent of input order');
    const without5 = placeChunk(id, [1, 2, 3, 4], 3);
    if (!p.includes(5)) assert.deepEqual(without5, p);
    else moved++;
  }
  assert.ok(moved > 100 && moved < 260, `about 3/5 of chunks had node 5 (${moved}/300)`);
});

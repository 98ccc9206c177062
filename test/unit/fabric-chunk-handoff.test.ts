// The handing-on contract of getEach (src/transport/chunk-handoff.ts) on its own: each index at most
// once, nothing after the first failure, and a settle that cannot pass with a chunk never handed on.
// The transports that use it are tested over real endpoints in test/integration/fabric-handoff.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KisekiError } from '../../src/errors.js';
import { Handoff } from '../../src/transport/chunk-handoff.js';
import { makeEnvelope } from '../helpers/fabric-chunks.js';

test('I-HO1: every index is handed on once; a second hand-on of one index fails the call', () => {
  const seen: number[] = [];
  const h = new Handoff(3, (i) => seen.push(i));
  assert.equal(h.give(2, makeEnvelope(8)), true);
  assert.equal(h.give(0, makeEnvelope(8)), true);
  assert.throws(() => h.settle(), (e: unknown) => KisekiError.is(e, 'Internal'), 'cannot settle with chunk 1 never handed on');
  assert.equal(h.give(2, makeEnvelope(8)), false, 'a duplicate is refused');
  assert.deepEqual(seen, [2, 0]);
  assert.throws(() => h.settle(), (e: unknown) => KisekiError.is(e, 'Internal') && /twice/.test(e.message));
  const ok = new Handoff(2, () => undefined);
  ok.give(1, makeEnvelope(8));
  ok.give(0, makeEnvelope(8));
  assert.doesNotThrow(() => ok.settle());
  assert.doesNotThrow(() => new Handoff(0, () => undefined).settle(), 'an empty call is done at once');
});

test('I-HO2: after the first failure nothing is handed on and settle throws that first error', () => {
  const seen: number[] = [];
  const h = new Handoff(4, (i) => {
    seen.push(i);
    if (i === 1) throw new Error('consumer failed');
  });
  assert.equal(h.give(0, makeEnvelope(8)), true);
  assert.equal(h.give(1, makeEnvelope(8)), true, 'the chunk was handed on; its consumer threw');
  h.fail(new Error('a later transport error'));
  assert.equal(h.give(2, makeEnvelope(8)), false, 'the caller does not get chunks after a failure');
  assert.deepEqual(seen, [0, 1]);
  assert.equal(h.failed, true);
  assert.throws(() => h.settle(), /consumer failed/, 'the first error wins');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff } from '../../src/client/backoff.js';
import { KisekiError } from '../../src/errors.js';

test('backoff: full jitter under an exponential ceiling 100 ms × 2ⁿ capped at 30 s', () => {
  const b = new Backoff({ random: () => 0.999999 });
  const ceilings: number[] = [];
  const delays: number[] = [];
  for (let i = 0; i < 12; i++) {
    ceilings.push(b.ceilingMs());
    delays.push(b.next());
  }
  assert.deepEqual(ceilings, [100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000, 30000]);
  assert.deepEqual(delays, ceilings.map((c) => Math.floor(0.999999 * c)));
  assert.equal(b.attempt, 12);
  b.reset();
  assert.equal(b.ceilingMs(), 100);
});

test('backoff: the jitter is drawn uniformly from [0, ceiling)', () => {
  const b = new Backoff({ initialMs: 1000, factor: 1, maxMs: 1000 });
  const buckets = new Array(10).fill(0) as number[];
  for (let i = 0; i < 20_000; i++) {
    const d = b.next();
    assert.ok(d >= 0 && d < 1000);
    buckets[Math.floor(d / 100)]!++;
  }
  for (const n of buckets) assert.ok(n > 1700 && n < 2300, `bucket ${n} of 20000 (expect ≈ 2000)`);
});

test('backoff: nonsense options are rejected', () => {
  assert.throws(() => new Backoff({ initialMs: 0 }), (e: unknown) => KisekiError.is(e, 'InvalidArgument'));
  assert.throws(() => new Backoff({ factor: 0.5 }), /factor >= 1/);
  assert.throws(() => new Backoff({ initialMs: 100, maxMs: 10 }), /maxMs >= initialMs/);
});

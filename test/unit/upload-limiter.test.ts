import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UploadLimiter } from '../../src/client/upload-limiter.js';
import { ReadPattern } from '../../src/client/chunk-reader.js';

test('the upload limiter admits up to its capacity and hands slots over in arrival order', async () => {
  const l = new UploadLimiter(2);
  await l.acquire();
  await l.acquire();
  const order: number[] = [];
  const waiting = [1, 2, 3].map((i) => l.acquire().then(() => order.push(i)));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, [], 'nobody past the capacity');
  assert.equal(l.inflight, 2);
  l.release();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, [1]);
  l.release();
  l.release();
  await Promise.all(waiting);
  assert.deepEqual(order, [1, 2, 3]);
  l.release();
  l.release();
  assert.equal(l.inflight, 0);
});

test('read pattern: reads that continue where the last ended are sequential, a seek resets', () => {
  const p = new ReadPattern();
  assert.equal(p.note(0, 100), true, 'a read from offset 0 starts a sequential stream');
  assert.equal(p.note(100, 100), true);
  assert.equal(p.note(5000, 100), false, 'a jump is random access');
  assert.equal(p.note(5100, 100), true);
});

test('read pattern: a read that resumes after reads answered elsewhere continues the stream', () => {
  const p = new ReadPattern();
  const chunk = 1 << 20;
  p.note(3 * chunk + 4096, 4096);
  assert.equal(p.note(4 * chunk, 128 << 10, true), true, 'the reads in between were served from the published chunk');
  assert.equal(p.note(6 * chunk, 128 << 10), false, 'a jump that does not resume is a seek');
  assert.equal(p.note(6 * chunk + 4096, 4096), false, 'mid-chunk, not where the last read ended');
});

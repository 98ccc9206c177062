// The client's standing window of fi_reads (src/transport/fabric-read-window.ts): never more than
// `limit` reads outstanding, posted in the order asked for, and a failed read frees its slot.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fabricReadWindow, ReadWindow } from '../../src/transport/fabric-read-window.js';

/** A read whose completion the test decides. */
function deferred(): { promise: Promise<void>; resolve(): void; reject(e: Error): void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('I-FW1: at most `limit` reads are outstanding; the others are posted as earlier ones complete, in order', async () => {
  const w = new ReadWindow(3);
  const posted: number[] = [];
  const reads = Array.from({ length: 8 }, deferred);
  let live = 0;
  let peak = 0;
  const done = reads.map((d, i) =>
    w.run(() => {
      posted.push(i);
      peak = Math.max(peak, ++live);
      return d.promise.finally(() => live--);
    }),
  );
  await tick();
  assert.deepEqual(posted, [0, 1, 2], 'only the first three are posted');
  assert.equal(w.waiting, 5);
  reads[1]!.resolve(); // out of order: the slot goes to the oldest queued read
  await tick();
  assert.deepEqual(posted, [0, 1, 2, 3]);
  for (const d of reads) d.resolve();
  await Promise.all(done);
  assert.deepEqual(posted, [0, 1, 2, 3, 4, 5, 6, 7], 'FIFO');
  assert.equal(peak, 3);
  assert.equal(w.outstanding, 0);
  assert.equal(w.waiting, 0);
});

test('I-FW1: a failed or throwing read frees its slot and its error reaches only its caller', async () => {
  const w = new ReadWindow(1);
  const failed = w.run(() => Promise.reject(new Error('fi_read completed with ECONNRESET')));
  const threw = w.run(() => {
    throw new Error('post threw');
  });
  const ok = w.run(async () => 'bytes');
  await assert.rejects(failed, /ECONNRESET/);
  await assert.rejects(threw, /post threw/);
  assert.equal(await ok, 'bytes');
  assert.equal(w.outstanding, 0);
});

test('KISEKI_FABRIC_READ_WINDOW: default 4, bad values are a clear error', () => {
  assert.equal(fabricReadWindow({}), 4);
  assert.equal(fabricReadWindow({ KISEKI_FABRIC_READ_WINDOW: '16' }), 16);
  for (const bad of ['0', '1.5', 'x', '1000']) assert.throws(() => fabricReadWindow({ KISEKI_FABRIC_READ_WINDOW: bad }), /KISEKI_FABRIC_READ_WINDOW/);
});

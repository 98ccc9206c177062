// The client's standing window of fi_reads (src/transport/fabric-read-window.ts): never more bytes
// outstanding than the limit (one oversized read goes alone), reads posted in the order asked for,
// and a failed read frees its room.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fabricReadWindowBytes, ReadWindow } from '../../src/transport/fabric-read-window.js';

/** A read whose completion the test decides. */
function deferred(): { promise: Promise<void>; resolve(): void; reject(e: Error): void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
const MIB = 1024 * 1024;

test('I-FW1: outstanding read bytes never exceed the window; queued reads start as earlier ones settle, oldest first', async () => {
  const w = new ReadWindow(12 * MIB);
  const sizes = [4, 4, 4, 4, 2, 6, 4, 1].map((m) => m * MIB);
  const reads = sizes.map(deferred);
  const posted: number[] = [];
  let live = 0;
  let peak = 0;
  const done = sizes.map((bytes, i) =>
    w.run(bytes, () => {
      posted.push(i);
      live += bytes;
      peak = Math.max(peak, live);
      return reads[i]!.promise.finally(() => (live -= bytes));
    }),
  );
  await tick();
  assert.deepEqual(posted, [0, 1, 2], '12 MiB posted, the 4th read waits');
  reads[1]!.resolve(); // out of order: the room goes to the oldest queued read
  await tick();
  assert.deepEqual(posted, [0, 1, 2, 3]);
  reads[0]!.resolve();
  await tick();
  assert.deepEqual(posted, [0, 1, 2, 3, 4], '2 MiB fit, the 6 MiB read after it does not, and nothing overtakes it');
  // A read asked for now queues behind the waiting ones even though it would fit.
  const late = deferred();
  const lateDone = w.run(1, () => {
    posted.push(99);
    return late.promise;
  });
  await tick();
  assert.equal(posted.includes(99), false);
  for (const d of reads) d.resolve();
  late.resolve();
  await Promise.all([...done, lateDone]);
  assert.deepEqual(posted, [0, 1, 2, 3, 4, 5, 6, 7, 99], 'FIFO');
  assert.ok(peak <= 12 * MIB, `peak ${peak / MIB} MiB`);
  assert.equal(w.outstanding, 0);
  assert.equal(w.waiting, 0);
});

test('I-FW1: a read larger than the whole window goes alone', async () => {
  const w = new ReadWindow(4 * MIB);
  const big = deferred();
  const order: string[] = [];
  const a = w.run(1 * MIB, async () => void order.push('small'));
  const b = w.run(64 * MIB, () => (order.push('big'), big.promise));
  const c = w.run(1 * MIB, async () => void order.push('after'));
  await a;
  await tick();
  assert.deepEqual(order, ['small', 'big']);
  assert.equal(w.outstanding, 1);
  big.resolve();
  await Promise.all([b, c]);
  assert.deepEqual(order, ['small', 'big', 'after']);
});

test('I-FW1: a failed or throwing read frees its room and its error reaches only its caller', async () => {
  const w = new ReadWindow(MIB);
  const failed = w.run(MIB, () => Promise.reject(new Error('fi_read completed with ECONNRESET')));
  const threw = w.run(MIB, () => {
    throw new Error('post threw');
  });
  const ok = w.run(MIB, async () => 'bytes');
  await assert.rejects(failed, /ECONNRESET/);
  await assert.rejects(threw, /post threw/);
  assert.equal(await ok, 'bytes');
  assert.equal(w.outstanding, 0);
});

test('KISEKI_FABRIC_READ_WINDOW_MIB: default 16 MiB (ADR 0036), bad values are a clear error', () => {
  assert.equal(fabricReadWindowBytes({}), 16 * MIB);
  assert.equal(fabricReadWindowBytes({ KISEKI_FABRIC_READ_WINDOW_MIB: '64' }), 64 * MIB);
  for (const bad of ['0', '1.5', 'x', '5000']) assert.throws(() => fabricReadWindowBytes({ KISEKI_FABRIC_READ_WINDOW_MIB: bad }), /KISEKI_FABRIC_READ_WINDOW_MIB/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/cache/clock.js';
import { DiskHealth, type DiskState } from '../../src/cache/disk-health.js';
import { SingleFlight } from '../../src/cache/single-flight.js';

test('disk health: errors make it unstable, a success heals it, N consecutive errors take it down until the cool-off', async () => {
  const clock = new ManualClock();
  const seen: string[] = [];
  const h = new DiskHealth({ clock, maxConsecutiveErrors: 3, coolOffMs: 1000, onTransition: (f, t) => seen.push(`${f}->${t}`) });
  const fail = () => h.run(async () => 'io', { fallback: 'fb', failed: (r) => r === 'io' });
  const ok = () => h.run(async () => 'ok', { fallback: 'fb' });
  await fail();
  assert.equal(h.state, 'unstable');
  assert.equal(await ok(), 'ok');
  assert.equal(h.state, 'normal');
  await fail();
  await h.run(async () => { throw new Error('EIO'); }, { fallback: 'fb' });
  assert.equal(await fail(), 'io');
  assert.equal(h.state, 'down');
  let touched = false;
  assert.equal(await h.run(async () => { touched = true; return 'x'; }, { fallback: 'fb' }), 'fb');
  assert.equal(touched, false, 'a down disk is not touched');
  clock.advance(1000);
  assert.equal(h.state, 'normal');
  assert.deepEqual(seen, ['normal->unstable', 'unstable->normal', 'normal->unstable', 'unstable->down', 'down->normal']);
});

test('disk health: an operation that outlives the watchdog returns the fallback, takes the disk down, and its late result is handed back', async () => {
  const clock = new ManualClock();
  const h = new DiskHealth({ clock, watchdogMs: 500, coolOffMs: 10_000 });
  let finish!: (v: string) => void;
  const late: string[] = [];
  const p = h.run(() => new Promise<string>((r) => { finish = r; }), { fallback: 'fallback', late: (v) => late.push(v) });
  clock.advance(500);
  assert.equal(await p, 'fallback');
  assert.equal(h.state as DiskState, 'down');
  finish('page');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(late, ['page']);
  h.stop();
});

test('single flight: concurrent calls for one key share one execution; later calls run again', async () => {
  const sf = new SingleFlight<string, number>();
  let runs = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const calls = Array.from({ length: 16 }, () => sf.do('k', async () => { runs++; await gate; return 42; }));
  assert.equal(sf.size, 1);
  release();
  assert.deepEqual(await Promise.all(calls), Array(16).fill(42));
  assert.equal(runs, 1);
  await sf.do('k', async () => { runs++; return 1; });
  assert.equal(runs, 2);
  await assert.rejects(sf.do('e', async () => { throw new Error('boom'); }), /boom/);
  assert.equal(sf.size, 0);
});

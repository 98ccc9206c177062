import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/cache/clock.js';
import { DisconnectWatcher, KeyHealthWatcher, type KeyHealth } from '../../src/cache/wipe-triggers.js';

const flush = () => new Promise<void>((r) => setImmediate(r));

test('I-CC12: a key-health probe reporting the KEK destroyed wipes within one interval, exactly once', async () => {
  const clock = new ManualClock();
  let health: KeyHealth = 'healthy';
  let probes = 0;
  let wipes = 0;
  const w = new KeyHealthWatcher({ probe: async () => { probes++; return health; }, intervalMs: 30_000, clock, onShred: () => { wipes++; } });
  clock.advance(30_000);
  await flush();
  assert.equal(probes, 1);
  clock.advance(10_000);
  health = 'destroyed'; // destroyed at t = 40 s
  clock.advance(19_999);
  await flush();
  assert.equal(wipes, 0);
  clock.advance(1); // t = 60 s: next probe, 20 s after destruction (≤ interval)
  await flush();
  assert.equal(wipes, 1);
  assert.equal(w.state, 'shredded');
  clock.advance(120_000);
  await flush();
  assert.equal(wipes, 1, 'wiped once');
  assert.equal(probes, 2, 'no probing after the shred');
});

test('I-CC12: unreachable key manager or a throwing probe does not wipe; a key fetch saying destroyed does, at once', async () => {
  const clock = new ManualClock();
  let wipes = 0;
  const answers: (KeyHealth | Error)[] = ['unreachable', new Error('UNAVAILABLE'), 'healthy'];
  const w = new KeyHealthWatcher({
    probe: async () => { const a = answers.shift() ?? 'healthy'; if (a instanceof Error) throw a; return a; },
    intervalMs: 1000, clock, onShred: () => { wipes++; },
  });
  for (let i = 0; i < 3; i++) { clock.advance(1000); await flush(); }
  assert.equal(wipes, 0);
  assert.equal(w.lastHealth, 'healthy');
  w.reportKeyDestroyed();
  assert.equal(wipes, 1);
  w.reportKeyDestroyed();
  assert.equal(wipes, 1);
});

test('I-CC6: disconnects shorter than max_disconnect_seconds keep the cache; single failed RPCs do not wipe', () => {
  const clock = new ManualClock();
  let wipes = 0;
  const d = new DisconnectWatcher({ maxDisconnectSeconds: 300, clock, onDisconnect: () => { wipes++; } });
  clock.advance(299_000);
  d.recordSuccess();
  clock.advance(300_000); // exactly the threshold: not MORE than it
  assert.equal(wipes, 0);
  d.recordSuccess();
  for (let i = 0; i < 10; i++) clock.advance(29_000); // 290 s of failed RPCs (nothing recorded)
  assert.equal(wipes, 0);
  assert.equal(d.state, 'connected');
});

test('I-CC6: no successful RPC for more than max_disconnect_seconds wipes once; a later success re-arms', () => {
  const clock = new ManualClock();
  let wipes = 0;
  const d = new DisconnectWatcher({ maxDisconnectSeconds: 300, clock, onDisconnect: () => { wipes++; } });
  clock.advance(120_000);
  d.recordSuccess(); // t = 120 s
  clock.advance(300_000);
  assert.equal(wipes, 0);
  clock.advance(1); // 300.001 s without success
  assert.equal(wipes, 1);
  assert.equal(d.state, 'disconnected');
  clock.advance(3_600_000);
  assert.equal(wipes, 1, 'one wipe per disconnection');
  d.recordSuccess();
  assert.equal(d.state, 'connected');
  clock.advance(300_001);
  assert.equal(wipes, 2);
  d.stop();
  assert.equal(clock.pendingTimers, 0);
});

// The transport health circuit breaker (kiseki-brief §7.6 defaults) driven by an injected clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_HEALTH_POLICY, TransportHealth, type HealthState } from '../../src/transport/transport-health.js';

function setup(): { h: TransportHealth; advance(ms: number): void; transitions: string[] } {
  let now = 1_000_000;
  const h = new TransportHealth(DEFAULT_HEALTH_POLICY, () => now);
  const transitions: string[] = [];
  h.onTransition((from: HealthState, to: HealthState) => transitions.push(`${from}->${to}`));
  return { h, advance: (ms) => void (now += ms), transitions };
}

test('defaults are 5 failures within 30 s and a 10 s re-probe interval', () => {
  assert.deepEqual(DEFAULT_HEALTH_POLICY, { failureThreshold: 5, failureWindowMs: 30_000, reprobeIntervalMs: 10_000 });
});

test('healthy by default and usable', () => {
  const { h } = setup();
  assert.equal(h.state, 'healthy');
  assert.equal(h.usable(), true);
});

test('one failure degrades but keeps the transport usable', () => {
  const { h } = setup();
  h.recordFailure();
  assert.equal(h.state, 'degraded');
  assert.equal(h.usable(), true);
});

test('five failures within the window open the circuit (down, not usable)', () => {
  const { h, advance, transitions } = setup();
  for (let i = 0; i < 5; i++) {
    h.recordFailure();
    advance(5_000);
  }
  assert.equal(h.state, 'down');
  assert.equal(h.usable(), false);
  assert.deepEqual(transitions, ['healthy->degraded', 'degraded->down']);
});

test('five failures spread wider than the window do not open the circuit', () => {
  const { h, advance } = setup();
  for (let i = 0; i < 5; i++) {
    h.recordFailure();
    advance(8_000); // the first failure has aged out before the fifth arrives
  }
  assert.equal(h.state, 'degraded');
});

test('degraded heals to healthy once its failures age out of the window', () => {
  const { h, advance } = setup();
  h.recordFailure();
  h.recordSuccess();
  assert.equal(h.state, 'degraded', 'a success does not clear counted failures');
  advance(30_001);
  assert.equal(h.state, 'healthy');
});

test('down is re-probed only after the re-probe interval', () => {
  const { h, advance } = setup();
  h.markDown();
  assert.equal(h.beginProbe(), false);
  advance(9_999);
  assert.equal(h.dueForProbe(), false);
  advance(1);
  assert.equal(h.beginProbe(), true);
  assert.equal(h.state, 'probing');
  assert.equal(h.usable(), false, 'traffic stays on the fallback while probing');
});

test('a successful probe makes the transport healthy with no failures remembered', () => {
  const { h, advance } = setup();
  for (let i = 0; i < 5; i++) h.recordFailure();
  advance(10_000);
  h.beginProbe();
  h.probeSucceeded();
  assert.equal(h.state, 'healthy');
  h.recordFailure();
  assert.equal(h.state, 'degraded', 'one new failure after recovery only degrades');
});

test('a failed probe goes back down and waits a full interval again', () => {
  const { h, advance, transitions } = setup();
  h.markDown();
  advance(10_000);
  h.beginProbe();
  h.probeFailed();
  assert.equal(h.state, 'down');
  advance(5_000);
  assert.equal(h.dueForProbe(), false);
  advance(5_000);
  assert.equal(h.dueForProbe(), true);
  assert.deepEqual(transitions, ['healthy->down', 'down->probing', 'probing->down']);
});

test('failures reported while down or probing do not change the state', () => {
  const { h, advance } = setup();
  h.markDown();
  h.recordFailure();
  assert.equal(h.state, 'down');
  advance(10_000);
  h.beginProbe();
  h.recordFailure();
  assert.equal(h.state, 'probing');
});

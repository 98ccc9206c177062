// retryWhileUnreachable: passing failures are tried again within the budget, definite ones end it at
// once, and a node already failing for longer than the budget gets one try per call.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kerr, KisekiError } from '../../src/errors.js';
import { FailingNodes, isPassing as passing, retryWhileUnreachable } from '../../src/client/unreachable-retry.js';


test('a passing failure is tried again until the node answers', async () => {
  let tries = 0;
  const r = await retryWhileUnreachable(5_000, async () => {
    if (++tries < 3) throw kerr('TransportFailed', 'connection refused');
    return 'stored';
  }, passing);
  assert.equal(r, 'stored');
  assert.equal(tries, 3);
});

test('a definite failure ends it at once', async () => {
  let tries = 0;
  await assert.rejects(retryWhileUnreachable(5_000, async () => {
    tries++;
    throw kerr('NoSpace', 'node disk full');
  }, passing), (e: unknown) => KisekiError.is(e, 'NoSpace'));
  assert.equal(tries, 1);
});

test('the budget ends a run of passing failures with the last failure', async () => {
  let tries = 0;
  const t0 = performance.now();
  await assert.rejects(retryWhileUnreachable(400, async () => {
    throw kerr('TransportFailed', `try ${++tries}`);
  }, passing), /try \d+/);
  const took = performance.now() - t0;
  assert.ok(tries >= 2, `tried ${tries} times`);
  assert.ok(took < 2_000, `gave up after ${Math.round(took)} ms`);
});

test('a node failing for longer than the budget gets a short window per call; its next success resets that', async () => {
  const nodes = new FailingNodes();
  const node = {};
  const budget = 6_000;
  const down = async () => { throw kerr('TransportFailed', 'down'); };
  const timed = async () => {
    const t0 = performance.now();
    await assert.rejects(retryWhileUnreachable(budget, down, passing, nodes.of(node)));
    return performance.now() - t0;
  };
  assert.ok(await timed() > 5_000, 'the first call waits out the budget');
  const later = await timed();
  assert.ok(later > 2_000 && later < 4_500, `a later call on the same failing node gets the short window (${Math.round(later)} ms)`);
  await retryWhileUnreachable(budget, async () => 'ok', passing, nodes.of(node));
  assert.ok(await timed() > 5_000, 'after a success the node gets its whole budget again');
  assert.notEqual(nodes.of({}), nodes.of(node), 'each node has its own record');
});

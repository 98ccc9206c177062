// Scenario 6 "All seed endpoints unreachable": real sockets that refuse connections, an injected
// clock for the backoff schedule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { ManualClock } from '../../src/client/clock.js';
import { DiscoveryClient } from '../../src/client/discovery-client.js';
import { NodeChannels } from '../../src/client/node-channels.js';
import { RpcLiveness } from '../../src/client/rpc.js';
import { Session } from '../../src/client/session.js';
import { KisekiError } from '../../src/errors.js';

async function freePort(host = '127.0.0.1'): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, host, r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

async function until(pred: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('discovery: every seed down → NoSeedsReachable (EIO) naming the seeds and the next retry; backoff 50, 100, 200, 400 ms', async () => {
  const p1 = await freePort();
  const p2 = await freePort('::1');
  const clock = new ManualClock();
  const channels = new NodeChannels({ kind: 'insecure' });
  const d = new DiscoveryClient({
    seeds: [{ kind: 'tcp', host: '127.0.0.1', port: p1 }, { kind: 'tcp', host: '::1', port: p2 }],
    rpc: { channels, clock, liveness: new RpcLiveness(), deadlineMs: 2000 },
    backoff: { random: () => 0.5 },
  });
  try {
    await d.start();
    assert.equal(d.state, 'failed');
    const err = (() => {
      try {
        d.current();
      } catch (e) {
        return e;
      }
      return null;
    })();
    assert.ok(KisekiError.is(err, 'NoSeedsReachable'), String(err));
    assert.equal(err.errno, 5);
    assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${p1} \\(`));
    assert.match(err.message, new RegExp(`\\[::1\\]:${p2} \\(`));
    assert.match(err.message, /next retry in 50 ms \(attempt 2\)/);
    assert.deepEqual(clock.pendingDelays(), [50]);
    for (const [i, want] of [[2, 100], [3, 200], [4, 400]] as const) {
      clock.advance(clock.pendingDelays()[0]!);
      await until(() => d.stats.failedRounds === i && clock.pendingDelays().length === 1, `round ${i}`);
      assert.equal(d.state, 'failed');
      assert.deepEqual(clock.pendingDelays(), [want]);
    }
    assert.deepEqual(d.stats.retryDelays, [50, 100, 200, 400]);
    assert.equal(d.stats.rpcs, 8, 'each round asks both seeds, in order');
  } finally {
    d.close();
    channels.close();
  }
  assert.equal(d.state, 'closed');
  assert.throws(() => d.current(), (e: unknown) => KisekiError.is(e, 'Closed'));
});

test('session: seeds down → the session opens in "connecting" and every call fails fast with EIO', async () => {
  const port = await freePort();
  const clock = new ManualClock();
  const s = await Session.open({ dataAddr: `127.0.0.1:${port}`, insecure: true, clock, env: {}, backoff: { random: () => 0.5 } });
  try {
    assert.equal(s.state, 'connecting');
    const t0 = Date.now();
    await assert.rejects(s.namespace.getAttr({ namespaceId: { value: 'default' }, ino: 1 }), (e: unknown) => {
      assert.ok(KisekiError.is(e, 'NoSeedsReachable'), String(e));
      assert.equal(e.errno, 5);
      return true;
    });
    assert.ok(Date.now() - t0 < 1000, 'fails fast instead of waiting for a node');
    assert.throws(() => s.keys, (e: unknown) => KisekiError.is(e, 'NoSeedsReachable'));
    assert.throws(() => s.chunkTransportsFor(Buffer.alloc(32)), (e: unknown) => KisekiError.is(e, 'NoSeedsReachable'));
    assert.equal(s.lastSuccessfulRpcAt, null);
  } finally {
    await s.close();
  }
  assert.equal(s.state, 'closed');
  await assert.rejects(s.namespace.getAttr({ namespaceId: { value: 'default' }, ino: 1 }), (e: unknown) => KisekiError.is(e, 'Closed'));
});

test('session: a TCP seed without TLS variables is refused up front, naming the variables', async () => {
  await assert.rejects(Session.open({ dataAddr: '127.0.0.1:9', env: {} }), (e: unknown) => {
    assert.ok(KisekiError.is(e, 'InvalidArgument'));
    assert.match(e.message, /KISEKI_CA_PATH, KISEKI_CERT_PATH, KISEKI_KEY_PATH/);
    return true;
  });
  await assert.rejects(Session.open({ dataAddr: '127.0.0.1:9', env: { KISEKI_CA_PATH: '/x' } }), /set KISEKI_CA_PATH but not KISEKI_CERT_PATH, KISEKI_KEY_PATH/);
});

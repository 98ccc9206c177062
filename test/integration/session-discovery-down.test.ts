// Scenario 6 "All seed endpoints unreachable": real sockets that refuse connections, an injected
// clock for the backoff schedule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { ManualClock } from '../../src/cache/clock.js';
import { DiscoveryClient } from '../../src/client/discovery-client.js';
import { NodeChannels } from '../../src/client/node-channels.js';
import { RpcLiveness, callUnary } from '../../src/client/rpc.js';
import { DiscoveryServiceService } from '../../src/gen/kiseki/v1/discovery.js';
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
    assert.deepEqual(d.stats.retryDelays, [50]);
    assert.equal(clock.pendingTimers, 1, 'one retry pending');
    for (const [i, want] of [[2, 100], [3, 200], [4, 400]] as const) {
      const delay = d.stats.retryDelays.at(-1)!;
      clock.advance(delay - 1);
      assert.equal(d.stats.rounds, i - 1, 'no retry before its delay');
      clock.advance(1);
      await until(() => d.stats.failedRounds === i, `round ${i}`);
      assert.equal(d.state, 'failed');
      assert.equal(d.stats.retryDelays.at(-1), want);
      assert.equal(clock.pendingTimers, 1);
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

test('rpc: a call the caller aborts rejects with the caller\'s reason, not as a node failure; the deadline still bounds a silent node', async () => {
  // A TCP server that accepts and never speaks HTTP/2: the call hangs until aborted or its deadline.
  const sockets = new Set<Socket>();
  const silent = createServer((sock) => sockets.add(sock));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const { port } = silent.address() as { port: number };
  const channels = new NodeChannels({ kind: 'insecure' });
  const rpc = { channels, clock: new ManualClock(), liveness: new RpcLiveness(), deadlineMs: 300 };
  const seed = { kind: 'tcp', host: '127.0.0.1', port } as const;
  try {
    const ac = new AbortController();
    const reason = new Error('unmounting');
    setTimeout(() => ac.abort(reason), 50);
    await assert.rejects(callUnary(rpc, seed, DiscoveryServiceService.discover, {}, { signal: ac.signal, deadlineMs: 10_000 }), (e: unknown) => e === reason);
    const t0 = Date.now();
    await assert.rejects(callUnary(rpc, seed, DiscoveryServiceService.discover, {}), (e: unknown) => KisekiError.is(e, 'Unavailable') && /DEADLINE_EXCEEDED/.test(e.message));
    assert.ok(Date.now() - t0 < 5000, 'bounded by the 300 ms deadline');
    assert.equal(rpc.liveness.lastSuccessfulRpcAt, null);
  } finally {
    channels.close();
    for (const sock of sockets) sock.destroy();
    silent.close();
  }
});

// A node that stops answering without closing its connections (frozen with SIGSTOP, as a hung host
// or a dead peer whose connection the kernel has not reset yet looks): chunk calls on the gRPC path
// fail with TransportFailed once they made no progress for the stall timeout (KISEKI_STREAM_TIMEOUT_MS,
// 30 s by default; 3 s here) instead of holding the reader or writer forever — a writer once hung for
// good on a connection whose node had been kill -9ed. A stall condemns the whole connection: the
// other calls on it fail with the first, and later calls dial a new one (after a peer's kill -9, an
// HTTP/2 session was seen to stay "ready" over a socket already gone, and every new call on it stalled).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { KisekiError } from '../../src/errors.js';
import { GrpcChunkTransport } from '../../src/transport/transport-grpc.js';
import { type CertSet, clientCredentials, makeCerts } from '../helpers/certs.js';
import { type NodeProcess, startNode } from '../helpers/node-process.js';
import { sealed } from '../helpers/node-rpc.js';

const A = '0a0a0a0a-0000-4000-8000-0000000000f1';
let dir: string;
let certs: CertSet;
let node: NodeProcess;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kiseki-frozen-'));
  certs = await makeCerts(join(dir, 'certs'), { tenants: [A], nodes: [1] });
  node = await startNode({ dataDir: join(dir, 'data'), tls: { certs } });
});

after(async () => {
  try {
    process.kill(node.pid, 'SIGCONT');
  } catch {
    // already gone
  }
  await node?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('a frozen node: an in-flight PUT and a GET fail with TransportFailed after the stall timeout, never hang', { timeout: 120_000 }, async () => {
  const t = new GrpcChunkTransport({ target: node.address!, credentials: clientCredentials(certs, certs.tenant(A)), stallTimeoutMs: 3000 });
  try {
    const stored = sealed(randomBytes(1024 * 1024));
    await t.putChunks([stored]);
    process.kill(node.pid, 'SIGSTOP');
    const started = performance.now();
    // Big enough to fill the socket buffers and the HTTP/2 windows of a peer that reads nothing.
    const outcomes = await Promise.allSettled([
      t.putChunks([sealed(randomBytes(32 * 1024 * 1024))]),
      t.getChunks([stored.chunkId!.value]),
    ]);
    const waited = performance.now() - started;
    for (const o of outcomes) {
      assert.equal(o.status, 'rejected', 'a call to a frozen node cannot succeed');
      assert.ok(KisekiError.is((o as PromiseRejectedResult).reason, 'TransportFailed'), String((o as PromiseRejectedResult).reason));
    }
    assert.ok(waited >= 2_500 && waited < 20_000, `failed after ${Math.round(waited)} ms`);
  } finally {
    process.kill(node.pid, 'SIGCONT');
    await t.close();
  }
});

test('a stall condemns the connection: the other calls on it fail with the first, and the next call dials afresh', { timeout: 120_000 }, async () => {
  const stallMs = 3000;
  const t = new GrpcChunkTransport({ target: node.address!, credentials: clientCredentials(certs, certs.tenant(A)), stallTimeoutMs: stallMs });
  try {
    await t.putChunks([sealed(randomBytes(1024))]);
    process.kill(node.pid, 'SIGSTOP');
    const started = performance.now();
    const first = t.putChunks([sealed(randomBytes(32 * 1024 * 1024))]);
    first.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 2000));
    // On its own, this call would stall out at 2 s + 3 s; it shares the first call's connection.
    const second = t.putChunks([sealed(randomBytes(1024))]);
    const outcomes = await Promise.allSettled([first, second]);
    const secondFailedAt = performance.now() - started;
    for (const o of outcomes) {
      assert.equal(o.status, 'rejected');
      assert.ok(KisekiError.is((o as PromiseRejectedResult).reason, 'TransportFailed'), String((o as PromiseRejectedResult).reason));
    }
    assert.ok(secondFailedAt < 2000 + stallMs - 500, `the second call failed with the first (${Math.round(secondFailedAt)} ms), not after its own stall timeout`);
    process.kill(node.pid, 'SIGCONT');
    const stored = sealed(randomBytes(4096));
    await t.putChunks([stored]);
    const [back] = await t.getChunks([stored.chunkId!.value]);
    assert.deepEqual(back!.ciphertext, stored.ciphertext, 'the node is reached again over the new connection');
  } finally {
    process.kill(node.pid, 'SIGCONT');
    await t.close();
  }
});

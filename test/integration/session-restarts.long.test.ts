// Reliability tier: a ready session across repeated node restarts. While the node is down every
// namespace call fails with EIO (never ENOENT or another errno that would mislead an application)
// and fails fast; once the node is back the same session serves again without being reopened.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from '../../src/client/session.js';
import { KisekiError } from '../../src/errors.js';
import { makeCerts, type CertSet } from '../helpers/certs.js';
import { startNode, type NodeProcess } from '../helpers/node-process.js';

const TENANT = '7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d';
const RESTARTS = 25;
let dir: string;
let certs: CertSet;
let node: NodeProcess;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'krestart-'));
  certs = await makeCerts(join(dir, 'pki'), { tenants: [TENANT], nodes: [1] });
  node = await startNode({ dataDir: join(dir, 'node'), tls: { certs, nodeId: 1 } });
});

after(async () => {
  await node?.stop();
  await rm(dir, { recursive: true, force: true });
});

test(`session: ${RESTARTS} node restarts (SIGTERM and kill -9) — EIO while down, the same session serves again after`, async () => {
  const env = { KISEKI_CA_PATH: certs.ca, KISEKI_CERT_PATH: certs.tenant(TENANT).cert, KISEKI_KEY_PATH: certs.tenant(TENANT).key };
  const s = await Session.open({ dataAddr: node.address!, env, rpcDeadlineMs: 3000 });
  const ns = { value: 'restarts' };
  try {
    await s.namespace.openNamespace({ namespaceId: ns, create: true, defaultChunkSize: 0 });
    for (let i = 0; i < RESTARTS; i++) {
      if (i % 2 === 0) await node.stop();
      else await node.kill9();
      for (let j = 0; j < 10; j++) {
        const t0 = Date.now();
        await assert.rejects(s.namespace.getAttr({ namespaceId: ns, ino: 1 }), (e: unknown) => {
          assert.ok(KisekiError.is(e), String(e));
          assert.equal(e.errno, 5, `round ${i}: ${e.message}`);
          return true;
        });
        assert.ok(Date.now() - t0 < 3500, 'bounded by the call deadline');
      }
      node = await node.restart();
      const before = s.lastSuccessfulRpcAt!;
      const end = Date.now() + 20_000;
      for (;;) {
        try {
          const attr = await s.namespace.getAttr({ namespaceId: ns, ino: 1 });
          assert.equal(attr.attr?.ino, 1);
          break;
        } catch (err) {
          assert.ok(KisekiError.is(err) && err.errno === 5, String(err));
          if (Date.now() > end) throw new Error(`round ${i}: the session did not recover within 20 s: ${String(err)}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      assert.equal(s.state, 'ready');
      assert.ok(s.lastSuccessfulRpcAt! > before);
    }
  } finally {
    await s.close();
  }
});

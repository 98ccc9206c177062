// The client's read window against a listener process that dies in the middle of a GET (real
// tcp;ofi_rxm endpoints, SIGKILL): the GET fails as a transport failure, reads still waiting in the
// window are never posted, and its one RELEASE goes out after every read of it has settled (failed,
// completed or timed out), so no read of that GET is posted after it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { KisekiError } from '../../src/errors.js';
import { clientEndpointFor, closeClientEndpoints, FabricChunkTransport } from '../../src/transport/transport-fabric.js';
import { idOf, makeEnvelope } from '../helpers/fabric-chunks.js';
import { startFabricNode } from '../helpers/fabric-node.js';

const dir = mkdtempSync(path.join(tmpdir(), 'ksk-fabric-window-'));
after(async () => {
  await closeClientEndpoints();
  rmSync(dir, { recursive: true, force: true });
});

test('I-FW2: a node killed mid-GET fails the GET; queued reads are not posted and RELEASE waits for the posted ones', async () => {
  const node = await startFabricNode({ provider: 'tcp', dir: ':memory:', env: { KISEKI_FABRIC_RMA: '1' } });
  const t = new FabricChunkTransport({ name: 'fabric-tcp', provider: 'tcp', nodeFabricAddress: node.address, openSession: node.openSession, timeoutMs: 3000, readWindowBytes: 4 << 20 });
  const envs = Array.from({ length: 16 }, () => makeEnvelope(4 << 20));
  await t.putChunks(envs);
  const ep = await clientEndpointFor('tcp', '127.0.0.1');
  const read = ep.channel.read.bind(ep.channel);
  const notify = ep.notify.bind(ep);
  let posted = 0;
  let killed: Promise<void> | null = null;
  const events: string[] = [];
  ep.channel.read = (...a) => {
    posted++;
    events.push('read');
    if (posted === 2) killed = node.stop('SIGKILL'); // the first read completed: kill the node under the second
    return read(...a);
  };
  ep.notify = (peer, msg) => {
    events.push('release');
    notify(peer, msg);
  };
  try {
    const started = Date.now();
    await assert.rejects(t.getChunks(envs.map(idOf)), (e: unknown) => KisekiError.is(e, 'TransportFailed'));
    assert.ok(Date.now() - started < 3000 + 2000, 'failed within one read timeout');
  } finally {
    ep.channel.read = read;
    ep.notify = notify;
    await t.close();
    await (killed ?? node.stop()); // once: an IPC 'exit' sent to a killed child is an unhandled error
  }
  assert.ok(posted >= 2 && posted < 16, `${posted} of 16 reads posted: the ones queued behind the failure never were`);
  assert.equal(events.filter((e) => e === 'release').length, 1, 'one RELEASE for the GET');
  assert.equal(events.at(-1), 'release', 'no read was posted after the RELEASE');
});

// The fabric listener's pooled read buffers (src/node/fabric-listener.ts, chunk-read-pool.ts) on a
// real libfabric tcp endpoint and real chunk files, listener and client in this process: buffers go
// back to a session's pool only on the client's RELEASE, are reused within that session only, and a
// reused buffer never lets a shorter chunk carry the tail of a longer one.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { FabricListener } from '../../src/node/fabric-listener.js';
import { FileChunkStore } from '../../src/node/file-chunk-store.js';
import { closeClientEndpoints, FabricChunkTransport } from '../../src/transport/transport-fabric.js';
import { checkEnvelopes, idOf, makeEnvelope, TENANT_A, TENANT_B } from '../helpers/fabric-chunks.js';

let dir: string;
let listener: FabricListener;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'ksk-fabric-pool-'));
  const store = new FileChunkStore(dir);
  await store.open();
  listener = new FabricListener({ provider: 'tcp', host: '127.0.0.1', store });
});

after(async () => {
  await closeClientEndpoints();
  listener.close();
  rmSync(dir, { recursive: true, force: true });
});

const transport = (tenant: string): FabricChunkTransport => new FabricChunkTransport({
  name: 'fabric-tcp', provider: 'tcp', nodeFabricAddress: listener.address, timeoutMs: 10_000,
  openSession: async (req) => listener.openSession(tenant, req.provider),
});

test('I-RP3: read buffers are reused within a session only, and a reused one holds exactly its chunk (long and short chunks of two tenants alternating)', async () => {
  const a = transport(TENANT_A);
  const b = transport(TENANT_B);
  try {
    const longB = [makeEnvelope(4 << 20), makeEnvelope((4 << 20) - 7)];
    const shortA = [makeEnvelope(70_000), makeEnvelope(4095), makeEnvelope(1)];
    await b.putChunks(longB);
    await a.putChunks(shortA);
    for (let round = 0; round < 4; round++) {
      assert.equal(checkEnvelopes(longB, await b.getChunks(longB.map(idOf))), null);
      for (const e of shortA) assert.equal(checkEnvelopes([e], await a.getChunks([idOf(e)])), null);
      assert.equal(checkEnvelopes(shortA, await a.getChunks(shortA.map(idOf))), null);
    }
    assert.deepEqual(await a.getChunks([idOf(longB[0]!)]).then(() => 'served', (e: Error) => e.message.includes('not stored') ? 'NotFound' : e.message), 'NotFound', 'tenant A cannot read B\'s chunk');
    const stats = listener.readStats();
    const ofA = stats.filter((s) => s.tenant === TENANT_A);
    const ofB = stats.filter((s) => s.tenant === TENANT_B);
    assert.equal(ofA.length, 1);
    assert.equal(ofB.length, 1);
    // A pool shared between the sessions would count both tenants' reads in each.
    assert.equal(ofA[0]!.leased, 4 * 6, 'A\'s session pool served exactly A\'s reads');
    assert.equal(ofB[0]!.leased, 4 * 2, 'B\'s session pool served exactly B\'s reads');
    assert.ok(ofB[0]!.reused >= 6, `B's buffers came back on RELEASE and were reused (${JSON.stringify(ofB[0])})`);
    assert.ok(ofA[0]!.reused > 0, `A's session reused its own buffers (${JSON.stringify(ofA[0])})`);
    assert.ok(ofA[0]!.free + ofB[0]!.free <= 32, 'each session keeps at most 16 free buffers');
  } finally {
    await a.close();
    await b.close();
  }
});

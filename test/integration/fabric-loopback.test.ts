// The libfabric chunk path for real: a listener process (FabricListener over a file ChunkStore) and
// this process as client, over the tcp (tcp;ofi_rxm on 1.17) and net providers on 127.0.0.1, in RMA
// mode (fi_read of registered envelopes) and in the inline send/recv mode used when a provider has
// no FI_RMA. Every chunk comes back checked against its SHA-256 id.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { KisekiError } from '../../src/errors.js';
import { clientEndpointFor, closeClientEndpoints, FabricChunkTransport } from '../../src/transport/transport-fabric.js';
import { checkEnvelopes, idOf, makeEnvelope, SIZES, TENANT_A, TENANT_B } from '../helpers/fabric-chunks.js';
import { startFabricNode, type FabricNode } from '../helpers/fabric-node.js';

const modes: { provider: string; rma: boolean }[] = [
  { provider: 'tcp', rma: true },
  { provider: 'net', rma: true },
  { provider: 'tcp', rma: false },
];

for (const { provider, rma } of modes) {
  describe(`fabric chunk path over ${provider} (${rma ? 'fi_read' : 'inline send/recv'})`, () => {
    let dir: string;
    let node: FabricNode;
    const env = { KISEKI_FABRIC_RMA: rma ? '1' : '0' };
    const saved = process.env.KISEKI_FABRIC_RMA;

    before(async () => {
      process.env.KISEKI_FABRIC_RMA = env.KISEKI_FABRIC_RMA;
      dir = mkdtempSync(path.join(tmpdir(), 'ksk-fabric-'));
      node = await startFabricNode({ provider, dir, env });
    });
    after(async () => {
      await closeClientEndpoints();
      await node.stop();
      rmSync(dir, { recursive: true, force: true });
      if (saved === undefined) delete process.env.KISEKI_FABRIC_RMA;
      else process.env.KISEKI_FABRIC_RMA = saved;
    });

    const transport = (tenant = TENANT_A, timeoutMs = 10_000): FabricChunkTransport =>
      new FabricChunkTransport({ name: 'fabric-tcp', provider, nodeFabricAddress: node.address, openSession: node.sessionFor(tenant), timeoutMs });

    test('puts and gets chunks of every size with matching checksums', async () => {
      const t = transport();
      const envs = SIZES.concat(SIZES).map(makeEnvelope);
      await t.putChunks(envs);
      const got = await t.getChunks(envs.map(idOf).reverse());
      assert.equal(checkEnvelopes([...envs].reverse(), got), null);
      const total = envs.reduce((n, e) => n + e.ciphertext.length, 0);
      assert.equal(t.bytesIn, total, 'every ciphertext byte came over the fabric');
      assert.equal(t.bytesOut, total, 'every ciphertext byte went over the fabric');
      await t.close();
    });

    test('envelopes whose heads do not all fit one reply come back complete (Later, asked again)', async () => {
      const t = transport();
      const envs = Array.from({ length: 12 }, (_, i) => ({ ...makeEnvelope(3000 + i), tenantWrappedMaterial: Buffer.alloc(1500, i) }));
      await t.putChunks(envs);
      const got = await t.getChunks(envs.map(idOf));
      assert.equal(checkEnvelopes(envs, got), null);
      got.forEach((g, i) => assert.ok(Buffer.from(g.tenantWrappedMaterial).equals(Buffer.alloc(1500, i)), `chunk ${i} wrapped material`));
      await t.close();
    });

    test('I-FW1: concurrent GETs keep at most the read window (two 4 MiB chunks) outstanding and bring every byte back', { skip: !rma }, async () => {
      const t = new FabricChunkTransport({ name: 'fabric-tcp', provider, nodeFabricAddress: node.address, openSession: node.sessionFor(TENANT_A), timeoutMs: 10_000, readWindowBytes: 8 << 20 });
      const envs = Array.from({ length: 12 }, (_, i) => makeEnvelope((4 << 20) - i * 4096));
      await t.putChunks(envs);
      const channel = (await clientEndpointFor(provider, '127.0.0.1')).channel;
      const read = channel.read.bind(channel);
      let live = 0;
      let peak = 0;
      let reads = 0;
      channel.read = (...a) => {
        reads++;
        peak = Math.max(peak, ++live);
        return read(...a).finally(() => live--);
      };
      try {
        const ids = envs.map(idOf);
        const got = await Promise.all([t.getChunks(ids.slice(0, 5)), t.getChunks(ids.slice(5)), t.getChunks(ids.slice(3, 9))]);
        assert.equal(checkEnvelopes(envs.slice(0, 5), got[0]!), null);
        assert.equal(checkEnvelopes(envs.slice(5), got[1]!), null);
        assert.equal(checkEnvelopes(envs.slice(3, 9), got[2]!), null);
      } finally {
        channel.read = read;
      }
      assert.equal(reads, 18);
      assert.equal(peak, 2, 'the window was full but never exceeded');
      await t.close();
    });

    test('a putChunks of an already stored chunk is acknowledged (idempotent)', async () => {
      const t = transport();
      const e = makeEnvelope(10_000);
      await t.putChunks([e]);
      await t.putChunks([e]);
      assert.equal(checkEnvelopes([e], await t.getChunks([idOf(e)])), null);
      await t.close();
    });

    test('a missing chunk is NotFound, not a transport failure', async () => {
      const t = transport();
      await assert.rejects(t.getChunks([makeEnvelope(10).chunkId!.value as Buffer]), (e: unknown) => KisekiError.is(e, 'NotFound'));
      await t.close();
    });

    test("a tenant cannot read another tenant's chunk over the fabric", async () => {
      const a = transport(TENANT_A);
      const b = transport(TENANT_B);
      const e = makeEnvelope(5000);
      await a.putChunks([e]);
      await assert.rejects(b.getChunks([idOf(e)]), (err: unknown) => KisekiError.is(err, 'NotFound'));
      await a.close();
      await b.close();
    });

    test('a token the node never issued gets no session (request times out as TransportFailed)', async () => {
      const t = new FabricChunkTransport({
        name: 'fabric-tcp',
        provider,
        nodeFabricAddress: node.address,
        openSession: async () => ({ token: Buffer.alloc(16, 7), nodeFabricAddress: node.address, provider: node.provider }),
        timeoutMs: 400,
      });
      await assert.rejects(t.getChunks([idOf(makeEnvelope(10))]), (e: unknown) => KisekiError.is(e, 'TransportFailed'));
      await t.close();
    });
  });
}

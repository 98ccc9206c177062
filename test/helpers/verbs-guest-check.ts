// Run inside the verbs QEMU guest by scripts/verbs-qemu.sh (and usable on any RDMA host):
// a FabricListener process and this client move chunks over the given provider with checksums.
// argv: <provider> <host>. Prints "VERBS-CHUNKS ok <provider> <bytes>" or "VERBS-CHUNKS FAIL <why>".
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { closeClientEndpoints, FabricChunkTransport } from '../../src/transport/transport-fabric.js';
import { checkEnvelopes, idOf, makeEnvelope, SIZES } from './fabric-chunks.js';
import { startFabricNode } from './fabric-node.js';

async function main(): Promise<void> {
  const [provider = 'verbs', host = '127.0.0.1'] = process.argv.slice(2);
  const dir = mkdtempSync(path.join(tmpdir(), 'ksk-verbs-'));
  const node = await startFabricNode({ provider, host, dir });
  const t = new FabricChunkTransport({ name: 'verbs', provider, nodeFabricAddress: node.address, openSession: node.openSession, timeoutMs: 120_000 });
  try {
    const envs = SIZES.map(makeEnvelope);
    await t.putChunks(envs);
    const got = await t.getChunks(envs.map(idOf));
    const bad = checkEnvelopes(envs, got);
    const bytes = got.reduce((n, e) => n + e.ciphertext.length, 0);
    console.log(bad === null ? `VERBS-CHUNKS ok ${node.provider} ${bytes}` : `VERBS-CHUNKS FAIL ${bad}`);
    process.exitCode = bad === null ? 0 : 1;
  } catch (e) {
    console.log(`VERBS-CHUNKS FAIL ${(e as Error).message}`);
    process.exitCode = 1;
  } finally {
    await t.close();
    await closeClientEndpoints();
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();

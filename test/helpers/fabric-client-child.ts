// A fabric client process for transport tests that need the client somewhere the test process is
// not (another network namespace). Session tokens are relayed by the parent over IPC.
// In:  { op: 'run', provider, nodeAddress: hex, count } | { op: 'session', token, address, provider }
// Out: { op: 'session-request', provider, clientAddress: hex } | { op: 'result', error: string|null, bytes, provider }
import { closeClientEndpoints, FabricChunkTransport, type FabricSessionGrant } from '../../src/transport/transport-fabric.js';
import { checkEnvelopes, idOf, makeEnvelope, SIZES } from './fabric-chunks.js';

let pendingSession: ((g: FabricSessionGrant) => void) | null = null;

async function run(provider: string, nodeAddress: Buffer, count: number): Promise<void> {
  const t = new FabricChunkTransport({
    name: 'fabric-tcp',
    provider,
    nodeFabricAddress: nodeAddress,
    openSession: (req) =>
      new Promise((resolve) => {
        pendingSession = resolve;
        process.send!({ op: 'session-request', provider: req.provider, clientAddress: req.clientFabricAddress.toString('hex') });
      }),
  });
  try {
    const envs = Array.from({ length: count }, (_, i) => makeEnvelope(SIZES[i % SIZES.length]!));
    await t.putChunks(envs);
    const got = await t.getChunks(envs.map(idOf));
    const error = checkEnvelopes(envs, got);
    const bytes = got.reduce((n, e) => n + e.ciphertext.length, 0);
    process.send!({ op: 'result', error, bytes, provider });
  } catch (e) {
    process.send!({ op: 'result', error: (e as Error).message, bytes: 0, provider });
  } finally {
    await t.close();
    await closeClientEndpoints();
  }
}

process.on('message', (m: { op: string; provider: string; nodeAddress: string; count: number; token: string; address: string }) => {
  if (m.op === 'run') void run(m.provider, Buffer.from(m.nodeAddress, 'hex'), m.count).then(() => process.disconnect());
  if (m.op === 'session' && pendingSession) {
    pendingSession({ token: Buffer.from(m.token, 'hex'), nodeFabricAddress: Buffer.from(m.address, 'hex'), provider: m.provider });
    pendingSession = null;
  }
});

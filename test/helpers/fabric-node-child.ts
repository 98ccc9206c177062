// A bare fabric listener process for transport tests: FabricListener over kiseki-node's
// FileChunkStore (or an in-memory store for the bench, dir ':memory:'). Sessions are issued over the
// IPC channel, standing in for OpenFabricSession over mTLS gRPC (which the kiseki-node tests use).
// Messages in:  { op: 'session', tenant, provider? } | { op: 'exit' }
// Messages out: { op: 'ready', address: hex, provider, pid } | { op: 'session', token: hex, ... } | { op: 'error', message }
import type { Envelope } from '../../src/gen/kiseki/v1/chunk.js';
import type { ChunkStore, PutOutcome } from '../../src/node/chunk-store.js';
import { FabricListener } from '../../src/node/fabric-listener.js';
import { FileChunkStore } from '../../src/node/file-chunk-store.js';

/** In-memory store: keeps the transport, not the disk, under measurement (bench). */
export class MemoryChunkStore implements ChunkStore {
  private readonly m = new Map<string, { env: Envelope; at: number }>();
  async get(tenant: string, chunkId: Buffer): Promise<Envelope | null> {
    return this.m.get(`${tenant}/${chunkId.toString('hex')}`)?.env ?? null;
  }
  async put(tenant: string, env: Envelope): Promise<PutOutcome> {
    const k = `${tenant}/${Buffer.from(env.chunkId!.value).toString('hex')}`;
    if (this.m.has(k)) return 'deduplicated';
    this.m.set(k, { env, at: Date.now() });
    return 'stored';
  }
  async delete(tenant: string, chunkId: Buffer): Promise<boolean> {
    return this.m.delete(`${tenant}/${chunkId.toString('hex')}`);
  }
  async storedAtMs(tenant: string, chunkId: Buffer): Promise<number | null> {
    return this.m.get(`${tenant}/${chunkId.toString('hex')}`)?.at ?? null;
  }
  async has(tenant: string, chunkId: Buffer): Promise<boolean> {
    return this.m.has(`${tenant}/${chunkId.toString('hex')}`);
  }
}

async function main(): Promise<void> {
  const [provider = 'tcp', host = '127.0.0.1', port = '0', dir = ''] = process.argv.slice(2);
  const send = (m: object): void => void process.send!(m);
  let listener: FabricListener;
  try {
    let store: ChunkStore;
    if (dir === ':memory:') store = new MemoryChunkStore();
    else {
      const files = new FileChunkStore(dir);
      await files.open();
      store = files;
    }
    listener = new FabricListener({ provider, host, port, store });
  } catch (e) {
    send({ op: 'error', message: (e as Error).message });
    process.exit(3);
  }
  process.on('message', (m: { op: string; tenant?: string; provider?: string }) => {
    if (m.op === 'exit') {
      listener.close();
      process.exit(0);
    }
    if (m.op === 'session') {
      try {
        const g = listener.openSession(m.tenant!, m.provider);
        send({ op: 'session', token: g.token.toString('hex'), address: g.nodeFabricAddress.toString('hex'), provider: g.provider });
      } catch (e) {
        send({ op: 'error', message: (e as Error).message });
      }
    }
  });
  process.on('disconnect', () => process.exit(0));
  send({ op: 'ready', address: listener.address.toString('hex'), provider: listener.provider, pid: process.pid });
}

if (require.main === module) void main();

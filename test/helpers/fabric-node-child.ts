// A fabric listener process for transport tests: FabricListener over a ChunkStore of files in a
// temp dir (the test-side store the brief allows until kiseki-node serves it). Sessions are issued
// over the IPC channel, standing in for OpenFabricSession over mTLS gRPC.
// Messages in:  { op: 'session', tenant, provider? } | { op: 'exit' }
// Messages out: { op: 'ready', address: hex, provider, pid } | { op: 'session', token: hex, ... } | { op: 'error', message }
import { mkdirSync, promises as fs } from 'node:fs';
import path from 'node:path';
import type { Envelope } from '../../src/gen/kiseki/v1/chunk.js';
import { Envelope as EnvelopeCodec } from '../../src/gen/kiseki/v1/chunk.js';
import type { ChunkStore, PutOutcome } from '../../src/node/chunk-store.js';
import { FabricListener } from '../../src/node/fabric-listener.js';

export class FileChunkStore implements ChunkStore {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }
  private file(tenant: string, id: Buffer): string {
    return path.join(this.dir, Buffer.from(tenant).toString('hex'), id.toString('hex'));
  }
  async get(tenant: string, chunkId: Buffer): Promise<Envelope | null> {
    try {
      return EnvelopeCodec.decode(await fs.readFile(this.file(tenant, chunkId)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }
  async put(tenant: string, env: Envelope): Promise<PutOutcome> {
    const f = this.file(tenant, Buffer.from(env.chunkId!.value));
    if (await this.has(tenant, Buffer.from(env.chunkId!.value))) return 'deduplicated';
    await fs.mkdir(path.dirname(f), { recursive: true });
    const fh = await fs.open(`${f}.tmp`, 'w', 0o600);
    await fh.writeFile(EnvelopeCodec.encode(env).finish());
    await fh.sync();
    await fh.close();
    await fs.rename(`${f}.tmp`, f);
    return 'stored';
  }
  async has(tenant: string, chunkId: Buffer): Promise<boolean> {
    return fs.access(this.file(tenant, chunkId)).then(() => true, () => false);
  }
}

/** In-memory store: keeps the transport, not the disk, under measurement (bench). */
export class MemoryChunkStore implements ChunkStore {
  private readonly m = new Map<string, Envelope>();
  async get(tenant: string, chunkId: Buffer): Promise<Envelope | null> {
    return this.m.get(`${tenant}/${chunkId.toString('hex')}`) ?? null;
  }
  async put(tenant: string, env: Envelope): Promise<PutOutcome> {
    const k = `${tenant}/${Buffer.from(env.chunkId!.value).toString('hex')}`;
    if (this.m.has(k)) return 'deduplicated';
    this.m.set(k, env);
    return 'stored';
  }
  async has(tenant: string, chunkId: Buffer): Promise<boolean> {
    return this.m.has(`${tenant}/${chunkId.toString('hex')}`);
  }
}

function main(): void {
  const [provider = 'tcp', host = '127.0.0.1', port = '0', dir = ''] = process.argv.slice(2);
  const send = (m: object): void => void process.send!(m);
  let listener: FabricListener;
  try {
    listener = new FabricListener({ provider, host, port, store: dir === ':memory:' ? new MemoryChunkStore() : new FileChunkStore(dir) });
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

if (require.main === module) main();

// ChunkStore on the local filesystem: <data-dir>/chunks/<tenant-uuid>/<2 hex>/<64 hex>, each file the
// proto-encoded Envelope. Writes go tmp → fsync → rename → fsync dir, so a chunk file either holds a
// whole envelope or does not exist (I-N1); a full disk leaves no tmp file behind.
import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { KisekiError, kerr } from '../errors.js';
import type { Envelope } from '../gen/kiseki/v1/chunk.js';
import { decodeEnvelopeView, encodeEnvelopeParts } from './chunk-frames.js';
import type { ChunkReadPool, EnvelopeLease, LeasingChunkStore, ReadLease } from './chunk-read-pool.js';
import type { ChunkStore, PutOutcome } from './chunk-store.js';
import { isTenantUuid } from './identity.js';
import { CHUNK_ID_BYTES } from './validate.js';

const TMP_PREFIX = '.tmp-';

function isErrno(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException)?.code === code;
}

export class FileChunkStore implements ChunkStore, LeasingChunkStore {
  private readonly root: string;
  private readonly madeDirs = new Set<string>();

  constructor(dataDir: string) {
    this.root = join(dataDir, 'chunks');
  }

  /** Creates the root and removes tmp files a crash left behind. */
  async open(): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    for (const tenant of await readdir(this.root)) {
      for (const shard of await readdir(join(this.root, tenant)).catch(() => [] as string[])) {
        const dir = join(this.root, tenant, shard);
        for (const f of await readdir(dir).catch(() => [] as string[])) {
          if (f.startsWith(TMP_PREFIX)) await unlink(join(dir, f)).catch(() => undefined);
        }
      }
    }
  }

  private pathOf(tenant: string, chunkId: Buffer): { dir: string; file: string } {
    if (!isTenantUuid(tenant)) throw kerr('InvalidArgument', `tenant must be a UUID (got ${tenant})`);
    if (chunkId.length !== CHUNK_ID_BYTES) throw kerr('InvalidArgument', `chunk_id must be ${CHUNK_ID_BYTES} bytes`);
    const hex = chunkId.toString('hex');
    const dir = join(this.root, tenant, hex.slice(0, 2));
    return { dir, file: join(dir, hex) };
  }

  async get(tenant: string, chunkId: Buffer): Promise<Envelope | null> {
    return (await this.load(tenant, chunkId, null))?.envelope ?? null;
  }

  /** get() into a pooled buffer (the bulk stream's GET): release the lease once its bytes are sent. */
  getLeased(tenant: string, chunkId: Buffer, pool: ChunkReadPool): Promise<EnvelopeLease | null> {
    return this.load(tenant, chunkId, pool);
  }

  private async load(tenant: string, chunkId: Buffer, pool: ChunkReadPool | null): Promise<EnvelopeLease | null> {
    const { file } = this.pathOf(tenant, chunkId);
    let lease: ReadLease;
    try {
      lease = await readWhole(file, pool);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return null;
      throw kerr('Internal', `reading chunk ${chunkId.toString('hex')} failed`, err);
    }
    try {
      let env: Envelope;
      try {
        env = decodeEnvelopeView(lease.bytes);
      } catch (err) {
        throw kerr('Integrity', `stored chunk file ${file} is damaged (${(err as Error).message})`, err);
      }
      if (!env.chunkId?.value.equals(chunkId)) {
        throw kerr('Integrity', `stored chunk file ${file} does not hold chunk ${chunkId.toString('hex')}`);
      }
      return { envelope: env, release: lease.release };
    } catch (err) {
      lease.release();
      throw err;
    }
  }

  async has(tenant: string, chunkId: Buffer): Promise<boolean> {
    return (await this.storedAtMs(tenant, chunkId)) !== null;
  }

  async storedAtMs(tenant: string, chunkId: Buffer): Promise<number | null> {
    const { file } = this.pathOf(tenant, chunkId);
    try {
      return (await stat(file)).mtimeMs;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return null;
      throw err;
    }
  }

  async delete(tenant: string, chunkId: Buffer): Promise<boolean> {
    const { dir, file } = this.pathOf(tenant, chunkId);
    try {
      await unlink(file);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false;
      throw err;
    }
    await fsyncDir(dir);
    return true;
  }

  async put(tenant: string, envelope: Envelope): Promise<PutOutcome> {
    const chunkId = envelope.chunkId?.value;
    if (!chunkId) throw kerr('InvalidArgument', 'envelope.chunk_id is required');
    const { dir, file } = this.pathOf(tenant, chunkId);
    if (await this.has(tenant, chunkId)) return 'deduplicated';
    if (!this.madeDirs.has(dir)) {
      try {
        const created = await mkdir(dir, { recursive: true, mode: 0o700 });
        // New directories must survive power loss too: fsync each parent that gained an entry.
        if (created !== undefined) {
          for (let d = dir; d.length >= created.length; d = dirname(d)) await fsyncDir(dirname(d));
        }
      } catch (err) {
        throw mapWriteError(err, chunkId);
      }
      this.madeDirs.add(dir);
    }
    const tmp = join(dir, `${TMP_PREFIX}${randomBytes(8).toString('hex')}`);
    const parts = encodeEnvelopeParts(envelope);
    let fh;
    try {
      fh = await open(tmp, 'wx', 0o600);
      await writeAll(fh, parts);
      await fh.sync();
      await fh.close();
      fh = undefined;
      await rename(tmp, file);
      await fsyncDir(dir);
    } catch (err) {
      await fh?.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
      throw mapWriteError(err, chunkId);
    }
    return 'stored';
  }
}

/**
 * The whole file in one read where the kernel allows: readFile reads 512 KiB per call, i.e. 8 trips
 * through libuv's thread pool for a 4 MiB chunk, each a scheduling delay on a busy node. With a pool,
 * into a leased buffer; without, into a buffer the caller owns.
 */
async function readWhole(file: string, pool: ChunkReadPool | null): Promise<ReadLease> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const fill = async (bytes: Buffer): Promise<number> => {
      let got = 0;
      while (got < size) {
        const { bytesRead } = await fh.read(bytes, got, size - got, got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return got;
    };
    if (pool !== null) return await pool.read(size, fill);
    const own = Buffer.allocUnsafe(size);
    const got = await fill(own);
    return { bytes: got === size ? own : own.subarray(0, got), release: () => undefined };
  } finally {
    await fh.close();
  }
}

/** writev until every byte is written (a regular file may take fewer in one call). */
async function writeAll(fh: FileHandle, parts: Buffer[]): Promise<void> {
  let rest = parts;
  while (rest.length > 0) {
    let { bytesWritten } = await fh.writev(rest);
    if (bytesWritten === 0) throw new Error('writev wrote nothing');
    while (rest.length > 0 && bytesWritten >= rest[0]!.length) {
      bytesWritten -= rest[0]!.length;
      rest = rest.slice(1);
    }
    if (rest.length > 0) rest = [rest[0]!.subarray(bytesWritten), ...rest.slice(1)];
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function mapWriteError(err: unknown, chunkId: Buffer): KisekiError {
  if (KisekiError.is(err)) return err;
  if (isErrno(err, 'ENOSPC') || isErrno(err, 'EDQUOT')) {
    return kerr('NoSpace', `no space left on the node's data disk for chunk ${chunkId.toString('hex')}; free space or add capacity`, err);
  }
  return kerr('Internal', `storing chunk ${chunkId.toString('hex')} failed: ${(err as Error).message}`, err);
}

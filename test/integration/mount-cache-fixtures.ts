// Shared by the mount-level cache tests: a reader mount with its own short cache dir (so its control
// socket binds and `cache --stats` is live), its pool's chunk files, live stats, and reads driven
// from a separate python3 process that control exactly what reaches the FUSE daemon.
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { crc32 } from '../../src/crypto/crc32.js';
import type { CacheStatsSnapshot } from '../../src/cache/cache-stats.js';
import { sh, type MountHarness, type Mounted } from './mount-harness.js';

export const TENANT = '00000000-0000-0000-0000-000000000001'; // the node's local tenant on its unix socket
export const MiB = 1 << 20;
const CLIENT_CLI = resolve(__dirname, '../../src/cli/kiseki-client.js');

/** The local tenant addresses chunks by SHA-256 of the plaintext (I-CC1). */
export function chunkId(plaintext: Uint8Array): string {
  return createHash('sha256').update(plaintext).digest('hex');
}

export interface CacheMount {
  readonly mount: Mounted;
  /** This mount's own cache_dir (short, under /tmp, removed by the harness's close via cleanup()). */
  readonly cacheDir: string;
  cleanup(): Promise<void>;
}

/** Mounts `name` with its own cache_dir; `opts` are extra -o options (chunk_size=1M is always set). */
export async function mountWithOwnCache(h: MountHarness, name: string, opts: string): Promise<CacheMount> {
  // /tmp/kc-XXXXXX/<tenant>/<pool>/control.sock stays under the 108-byte socket path limit.
  const cacheDir = await mkdtemp('/tmp/kc-');
  const mount = await h.mount(name, ['-o', `chunk_size=1M,cache_dir=${cacheDir},${opts}`]);
  return { mount, cacheDir, cleanup: async () => { await mount.unmount(); await rm(cacheDir, { recursive: true, force: true }); } };
}

async function names(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** chunk id → file path of every L2 chunk file of every pool under cacheDir (temporary files excluded). */
export async function l2Files(cacheDir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const root = join(cacheDir, TENANT);
  for (const pool of await names(root)) {
    const chunks = join(root, pool, 'chunks');
    for (const prefix of await names(chunks)) {
      for (const f of await names(join(chunks, prefix))) if (/^[0-9a-f]{64}$/.test(f)) out.set(f, join(chunks, prefix, f));
    }
  }
  return out;
}

/** True when path holds exactly plaintext ‖ CRC32(plaintext) LE (I-CC13). */
export async function holdsValidEntry(path: string, plaintext: Buffer): Promise<boolean> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch {
    return false;
  }
  return bytes.length === plaintext.length + 4 && bytes.subarray(0, plaintext.length).equals(plaintext) &&
    bytes.readUInt32LE(plaintext.length) === crc32(plaintext);
}

/** The one live pool's stats under cacheDir, as `kiseki-client cache --stats --json` reports them. */
export async function poolStats(h: MountHarness, cacheDir: string): Promise<CacheStatsSnapshot> {
  const all = JSON.parse(await sh(process.execPath, [CLIENT_CLI, 'cache', '--stats', '--json', '--cache-dir', cacheDir], { env: h.env })) as CacheStatsSnapshot[];
  if (all.length !== 1) throw new Error(`expected one live pool under ${cacheDir}, found ${all.length}`);
  return all[0]!;
}

export async function until(pred: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await pred()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return pred();
}

const PY_READ = `
import hashlib, os, sys
mode, path = sys.argv[1], sys.argv[2]
if mode == "whole":
    # Drop the file's pages first so that every byte is asked of the FUSE daemon.
    fd = os.open(path, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    h = hashlib.sha256()
    while True:
        b = os.read(fd, 1 << 20)
        if not b: break
        h.update(b)
    print(h.hexdigest())
else:
    # O_DIRECT: exactly one FUSE READ request (one chunk lease, one cache lookup), no readahead.
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    print(os.pread(fd, 1, 0).hex())
os.close(fd)
`;

/** SHA-256 of a file's bytes as read through the mount by another process, page cache dropped first. */
export async function readThrough(path: string): Promise<string> {
  return (await sh('python3', ['-c', PY_READ, 'whole', path])).trim();
}

/** One FUSE READ of the file's first byte (O_DIRECT) from another process; returns it as hex. */
export async function readFirstByteDirect(path: string): Promise<string> {
  return (await sh('python3', ['-c', PY_READ, 'direct', path])).trim();
}

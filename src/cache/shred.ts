// Logical erasure on disk (I-CC2, brief §4.11): overwrite a file with zeros of its own length, make the
// zeros durable, then unlink. Shared by L2 eviction, pool wipes and the scrubber.
import { lstat, open, readdir, rmdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';

const ZERO_BLOCK = Buffer.alloc(1 << 20);

/** Zero-overwrites then unlinks one regular file. Returns its size, or 0 if it was already gone. */
export async function shredFile(path: string): Promise<number> {
  let size = 0;
  try {
    const h = await open(path, 'r+');
    try {
      size = (await h.stat()).size;
      for (let off = 0; off < size; off += ZERO_BLOCK.length) {
        const n = Math.min(ZERO_BLOCK.length, size - off);
        await h.write(ZERO_BLOCK, 0, n, off);
      }
      if (size > 0) await h.datasync();
    } finally {
      await h.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  await unlink(path).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOENT') throw err; });
  return size;
}

export interface ShredTally { files: number; bytes: number }

/**
 * Shreds every regular file below dir (symlinks are unlinked, never followed), then removes the
 * directories. With keepRoot the top directory itself stays.
 */
export async function shredTree(dir: string, opts: { keepRoot?: boolean } = {}, tally: ShredTally = { files: 0, bytes: 0 }): Promise<ShredTally> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return tally;
    throw err;
  }
  for (const name of names) {
    const p = join(dir, name);
    const st = await lstat(p).catch(() => null);
    if (st === null) continue;
    if (st.isDirectory()) await shredTree(p, {}, tally);
    else if (st.isFile()) {
      tally.bytes += await shredFile(p);
      tally.files++;
    } else await unlink(p).catch(() => undefined);
  }
  if (opts.keepRoot !== true) await rmdir(dir).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOENT') throw err; });
  return tally;
}

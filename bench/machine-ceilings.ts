// What this machine itself allows, measured in the same run as the mount bench, so a target set
// relative to a peer can be checked against physics: the disk's own durable-write rate (dd with
// conv=fsync on the filesystem that holds the node's data and every peer's backing store) and the
// rate at which both cores can do the per-byte crypto a verified read needs (SHA-256 content address,
// I-CC1, and AES-256-GCM), with nothing else: no I/O, no copies, no FUSE.
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { opensslSpeed } from './util-openssl.js';

const run = promisify(execFile);

export interface MachineCeilings {
  /** `dd bs=1M count=256 conv=fsync` into `dir`, best of three, MB/s. */
  diskFsyncMBps: number;
  /** openssl SHA-256 and AES-256-GCM, both cores (-multi 2), 4 MiB blocks, wall clock, MB/s each. */
  sha256MBps: number;
  aesGcmMBps: number;
  /** Both on every byte, both cores: 1 / (1/sha + 1/aes), MB/s. */
  verifiedOpenMBps: number;
}

async function ddFsync(dir: string): Promise<number> {
  const file = join(dir, 'dd-ceiling');
  try {
    const { stderr } = await run('dd', ['if=/dev/zero', `of=${file}`, 'bs=1M', 'count=256', 'conv=fsync'], { maxBuffer: 1 << 20 });
    const secs = /copied, ([\d.]+) s/.exec(stderr)?.[1];
    if (secs === undefined) throw new Error(`dd: no timing in ${stderr}`);
    return 256 * 1.048576 / parseFloat(secs);
  } finally {
    await rm(file, { force: true });
  }
}

export async function measureCeilings(dir: string): Promise<MachineCeilings> {
  let disk = 0;
  for (let i = 0; i < 3; i++) disk = Math.max(disk, await ddFsync(dir));
  const sha = (await opensslSpeed('sha256', 4 << 20, 3, 2, true)).bytesPerSecond / 1e6;
  const aes = (await opensslSpeed('aes-256-gcm', 4 << 20, 3, 2, true)).bytesPerSecond / 1e6;
  return { diskFsyncMBps: disk, sha256MBps: sha, aesGcmMBps: aes, verifiedOpenMBps: 1 / (1 / sha + 1 / aes) };
}

// Where the kernel keeps a mount's read-ahead: the read_ahead_kb file of the mount's bdi (backing
// device), named by the device number of the mounted filesystem (FUSE mounts have major 0). INIT can
// only lower it (ADR 0099), so the binding writes this file after INIT.
import { readFile, stat } from 'node:fs/promises';

/** /sys/class/bdi/<major>:<minor>/read_ahead_kb for a device number's parts. */
export function readAheadFileOf(major: number, minor: number): string {
  return `/sys/class/bdi/${major}:${minor}/read_ahead_kb`;
}

/** The same file from a `stat().dev` of the mount point (Linux's encoding of dev_t). */
export function readAheadFileOfDev(dev: number): string {
  return readAheadFileOf((dev >> 8) & 0xfff, (dev & 0xff) | ((dev >> 12) & 0xfff00));
}

/** The kernel read-ahead in force on the filesystem mounted at `mountPoint`, in KiB. */
export async function mountReadAheadKb(mountPoint: string): Promise<number> {
  return parseInt(await readFile(readAheadFileOfDev((await stat(mountPoint)).dev), 'utf8'), 10);
}

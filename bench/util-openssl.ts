// Runs `openssl speed` as a peer measured in the same run as a benchmark, and parses its result.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface OpensslSpeed {
  command: string;
  /** Total bytes per second over all processes (`-multi n` sums them). */
  bytesPerSecond: number;
}

/**
 * `openssl speed [-multi n] [-elapsed] -evp <cipher> -bytes <n> -seconds <s>`; throws if the output has no
 * result line. Without `elapsed`, openssl divides by its user CPU time; with it, by wall-clock time.
 */
export async function opensslSpeed(evp: string, bytes: number, seconds: number, multi = 1,
  elapsed = false): Promise<OpensslSpeed> {
  const args = [...(multi > 1 ? ['-multi', String(multi)] : []), ...(elapsed ? ['-elapsed'] : []), '-evp', evp, '-bytes', String(bytes), '-seconds', String(seconds)];
  const { stdout } = await run('openssl', ['speed', ...args], { maxBuffer: 1 << 20 });
  // Result line: "<NAME>    5523987.61k" — thousands of bytes per second.
  const line = stdout.split('\n').reverse().find((l) => /^\S+\s+[\d.]+k\s*$/.test(l.trim()));
  const value = line?.trim().split(/\s+/).pop();
  if (value === undefined) throw new Error(`openssl ${args.join(' ')}: no result line in:\n${stdout}`);
  return { command: `openssl speed ${args.join(' ')}`, bytesPerSecond: parseFloat(value) * 1000 };
}

export async function opensslVersion(): Promise<string> {
  return (await run('openssl', ['version'])).stdout.trim();
}

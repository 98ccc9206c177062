// Starts test/fixtures/memfs.ts in a child process and drives nothing itself: tests use real tools and
// async fs from this process on the child's mount (a FUSE process must never touch its own mount).
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

export const execFileP = promisify(execFile);

const FIXTURE = path.resolve(__dirname, '../fixtures/memfs.js');

export interface MemFsProcess {
  mnt: string;
  child: ChildProcess;
  negotiated: Record<string, number | null>;
  /** Every stdout line so far (READY, EVENT, STATS). */
  lines: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitLine(prefix: string | string[], timeoutMs?: number): Promise<string>;
  /** Send a stdin command (see memfs.ts) and wait for its DONE line. */
  command(line: string): Promise<void>;
  /** Ask for a clean unmount (stdin line) and wait for the process to exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  cleanup(): void;
}

export function isMounted(mnt: string): boolean {
  return readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === mnt);
}

export async function startMemFs(options: object = {}, env: Record<string, string> = {}): Promise<MemFsProcess> {
  const base = mkdtempSync(path.join(os.tmpdir(), 'kiseki-fuse-test-'));
  const mnt = path.join(base, 'mnt');
  mkdirSync(mnt);
  const child = spawn(process.execPath, [FIXTURE, mnt, JSON.stringify(options)], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  let buf = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => { for (const w of waiters.splice(0)) w(); resolve({ code, signal }); }));
  const waitLine = (prefix: string | string[], timeoutMs = 15_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const prefixes = typeof prefix === 'string' ? [prefix] : prefix;
      const timer = setTimeout(() => reject(new Error(`no '${prefix}' line within ${timeoutMs} ms; got ${lines.join(' | ')}`)), timeoutMs);
      const check = (): void => {
        const hit = lines.find((l) => prefixes.some((x) => l.startsWith(x)));
        if (hit !== undefined) { clearTimeout(timer); resolve(hit); return; }
        if (child.exitCode !== null || child.signalCode !== null) {
          clearTimeout(timer);
          reject(new Error(`fixture exited (${child.exitCode ?? child.signalCode}) without '${prefix}'; got ${lines.join(' | ')}`));
          return;
        }
        waiters.push(check);
      };
      check();
    });
  const p: MemFsProcess = {
    mnt, child, lines, exited, waitLine, negotiated: {},
    async command(line: string) {
      const before = lines.filter((l) => l.startsWith('DONE ')).length;
      child.stdin!.write(`${line}\n`);
      const end = Date.now() + 10_000;
      while (lines.filter((l) => l.startsWith('DONE ')).length === before) {
        if (Date.now() > end) throw new Error(`no DONE for '${line}'`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.stdin!.write('unmount\n');
      return exited;
    },
    cleanup() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      if (isMounted(mnt)) {
        try { execFileSync('fusermount3', ['-u', '-z', mnt]); } catch { /* the test reports the leftover mount */ }
      }
      rmSync(base, { recursive: true, force: true });
    },
  };
  const first = await waitLine(['READY', 'FAILED']);
  if (first.startsWith('READY ')) p.negotiated = JSON.parse(first.slice(6)) as Record<string, number | null>;
  return p;
}

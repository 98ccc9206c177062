// Shared by the stage-*.test.ts files: a real kiseki-node on a unix socket, datasets written through
// the filesystem core, and the real `kiseki-client` program.
import { spawn, type ChildProcess } from 'node:child_process';
import { constants as fsc } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { Session } from '../../src/client/session.js';
import { grpcTransportFactory, MountSession } from '../../src/client/mount-session.js';
import { parseMountOptions } from '../../src/client/mount-options.js';
import type { KisekiFileSystem } from '../../src/client/filesystem.js';
import { startNode, type NodeProcess } from '../helpers/node-process.js';

export const CLI = join(__dirname, '../../src/cli/kiseki-client.js');
const who = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };

export interface StageHarness {
  readonly dir: string;
  readonly cacheDir: string;
  readonly node: NodeProcess;
  /** Environment of every client process: this node, this cache directory, a private XDG tree. */
  env(extra?: Record<string, string>): NodeJS.ProcessEnv;
  /** An in-process client of the node (like a mount without FUSE). */
  open(extraEnv?: Record<string, string>, opts?: { control?: boolean }): Promise<MountSession>;
  /** Writes files (path → size) with random content; returns path → sha256. */
  write(files: Record<string, number>): Promise<Map<string, string>>;
  close(): Promise<void>;
}

export async function startStageHarness(): Promise<StageHarness> {
  const dir = await mkdtemp(join(tmpdir(), 'kiseki-stage-'));
  const node = await startNode({ dataDir: join(dir, 'node'), socket: true });
  const cacheDir = join(dir, 'cache');
  const opened: MountSession[] = [];
  const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
    ...process.env, KISEKI_SEEDS: `unix:${node.socketPath!}`, KISEKI_CACHE_DIR: cacheDir, XDG_RUNTIME_DIR: dir, XDG_DATA_HOME: dir,
    KISEKI_CACHE_POOL_ID: '', ...extra,
  });
  const open = async (extraEnv: Record<string, string> = {}, opts: { control?: boolean } = {}): Promise<MountSession> => {
    const e = env(extraEnv);
    const session = await Session.open({ seeds: [{ kind: 'unix', path: node.socketPath! }], env: e, transportFactory: grpcTransportFactory });
    const ms = await MountSession.open(session, { namespaceId: 'default', create: true, mount: parseMountOptions(['chunk_size=1M']), env: e, ...(opts.control === true ? {} : { statsIntervalMs: 0 }) });
    opened.push(ms);
    return ms;
  };
  return {
    dir, cacheDir, node, env, open,
    async write(files) {
      const ms = await open();
      const sums = new Map<string, string>();
      for (const [path, size] of Object.entries(files)) {
        const data = randomBytes(size);
        await writeFile(ms.fs, path, data);
        sums.set(path, createHash('sha256').update(data).digest('hex'));
      }
      await ms.close();
      opened.splice(opened.indexOf(ms), 1);
      return sums;
    },
    async close() {
      await Promise.all(opened.map((m) => m.close().catch(() => undefined)));
      await node.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** mkdir -p of the parent, then create and write the file in 1 MiB pieces. */
async function writeFile(fs: KisekiFileSystem, path: string, data: Buffer): Promise<void> {
  const parts = path.split('/').filter((p) => p !== '');
  let ino = 1;
  for (const p of parts.slice(0, -1)) {
    try {
      ino = (await fs.lookup(ino, Buffer.from(p))).ino;
    } catch {
      ino = (await fs.mkdir(ino, Buffer.from(p), 0o755, who)).ino;
    }
  }
  const { file } = await fs.create(ino, Buffer.from(parts[parts.length - 1]!), 0o644, fsc.O_RDWR | fsc.O_CREAT, who);
  for (let off = 0; off < data.length; off += 1 << 20) await fs.write(file.fh, off, data.subarray(off, off + (1 << 20)));
  await fs.release(file.fh);
}

/** Reads a whole file through a client; returns its sha256. */
export async function sumOf(fs: KisekiFileSystem, path: string): Promise<string> {
  let ino = 1;
  for (const p of path.split('/').filter((x) => x !== '')) ino = (await fs.lookup(ino, Buffer.from(p))).ino;
  const attr = await fs.getattr(ino);
  const file = await fs.open(ino, fsc.O_RDONLY);
  const h = createHash('sha256');
  for (let off = 0; off < attr.size; off += 1 << 20) h.update(await fs.read(file.fh, off, Math.min(1 << 20, attr.size - off)));
  await fs.release(file.fh);
  return h.digest('hex');
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs kiseki-client to completion (async: the node and the test keep running meanwhile). */
export function cli(args: string[], env: NodeJS.ProcessEnv, onStdoutLine?: (line: string, child: ChildProcess) => void): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
      if (onStdoutLine === undefined) return;
      partial += c;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        onStdoutLine(line, child);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The JSON event lines of `stage --json`. */
export function events(stdout: string): Record<string, unknown>[] {
  return stdout.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// The per-user registry of running mounts, so that `status` and `unmount` in another process find
// them: <runtime>/kiseki/mounts/<id>.json (the record) and <id>.sock (the mount's control socket,
// 0600, one JSON request and one JSON answer per connection). <runtime> is the embedded node's
// directory ($XDG_RUNTIME_DIR/kiseki, else ~/.local/share/kiseki).
import { createHash } from 'node:crypto';
import { createConnection, createServer, type Server } from 'node:net';
import { chmod, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { kerr } from '../errors.js';
import { processAlive } from '../util/process.js';
import { embeddedPaths } from './embedded-endpoint.js';

export interface MountRecord {
  mountpoint: string;
  pid: number;
  namespace: string;
  tenant: string;
  nodes: string[];
  transport: string;
  embedded: boolean;
  cacheMode: string;
  cacheDir: string;
  readOnly: boolean;
  startedAt: string;
  controlSocket: string;
}

export type ControlRequest = { op: 'status' } | { op: 'unmount' };

export function registryDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(dirname(embeddedPaths(env).socketPath), 'mounts');
}

function idOf(mountpoint: string): string {
  return createHash('sha256').update(mountpoint).digest('hex').slice(0, 16);
}

export function controlSocketPath(mountpoint: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(registryDir(env), `${idOf(mountpoint)}.sock`);
}

export async function writeRecord(rec: MountRecord, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const dir = registryDir(env);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${idOf(rec.mountpoint)}.json`);
  await writeFile(`${file}.tmp`, JSON.stringify(rec, null, 2), { mode: 0o600 });
  await rename(`${file}.tmp`, file);
}

export async function removeRecord(mountpoint: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const base = join(registryDir(env), idOf(mountpoint));
  await Promise.all([rm(`${base}.json`, { force: true }), rm(`${base}.sock`, { force: true })]);
}

/** Records of live mounts; records whose process is gone are removed on the way. */
export async function listRecords(env: NodeJS.ProcessEnv = process.env): Promise<MountRecord[]> {
  const dir = registryDir(env);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const out: MountRecord[] = [];
  for (const name of names.filter((n) => n.endsWith('.json'))) {
    try {
      const rec = JSON.parse(await readFile(join(dir, name), 'utf8')) as MountRecord;
      if (processAlive(rec.pid)) out.push(rec);
      else await removeRecord(rec.mountpoint, env);
    } catch {
      // A record being rewritten or a foreign file: skip it.
    }
  }
  return out.sort((a, b) => a.mountpoint.localeCompare(b.mountpoint));
}

/** Serves control requests for one mount. */
export async function serveControl(path: string, handle: (req: ControlRequest) => Promise<unknown>): Promise<Server> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await rm(path, { force: true });
  const server = createServer((sock) => {
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      let req: ControlRequest;
      try {
        req = JSON.parse(buf.slice(0, nl)) as ControlRequest;
      } catch {
        sock.end(`${JSON.stringify({ error: 'bad request' })}\n`);
        return;
      }
      handle(req).then(
        (res) => sock.end(`${JSON.stringify(res)}\n`),
        (err: unknown) => sock.end(`${JSON.stringify({ error: err instanceof Error ? err.message : String(err) })}\n`),
      );
    });
    sock.on('error', () => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  await chmod(path, 0o600);
  return server;
}

/** Sends one control request; rejects with Unavailable if the mount does not answer in time. */
export function askControl(path: string, req: ControlRequest, timeoutMs: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(kerr('Unavailable', `the mount's control socket ${path} did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(`${JSON.stringify(req)}\n`));
    sock.on('data', (d: string) => {
      buf += d;
    });
    sock.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(buf) as Record<string, unknown>);
      } catch {
        reject(kerr('Unavailable', `the mount's control socket ${path} gave no answer`));
      }
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(kerr('Unavailable', `cannot reach the mount's control socket ${path}: ${err.message}`, err));
    });
  });
}

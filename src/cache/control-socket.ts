// The live pool's control channel: a unix socket <pool>/control.sock (inside the 0700 pool directory,
// itself chmod 0600) answering one JSON line per request. `kiseki-client cache --stats/--wipe` in another
// process use it to read and wipe the pool of a running mount (ADR 0042).
//   → {"op":"stats"}            ← {"ok":true,"stats":{…CacheStatsSnapshot}}
//   → {"op":"wipe"}             ← {"ok":true,"stats":{…after the wipe}}
//   → {"op":"handoff"}          ← {"ok":true,"stats":{…}} then the owner hands the pool over (ADR 0090);
//                                 owners that do not hand pools over answer ok:false
//   anything else               ← {"ok":false,"error":"…"}
import { chmod, open, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { kerr } from '../errors.js';
import { FILE_MODE } from './pool-layout.js';
import { isStatsSnapshot, type CacheStatsSnapshot } from './cache-stats.js';

/** sun_path is 108 bytes on Linux including the NUL. */
export const MAX_SOCKET_PATH = 107;

export interface ControlHandlers {
  stats(): CacheStatsSnapshot;
  wipe(): Promise<CacheStatsSnapshot>;
  /**
   * A would-be adopter (KISEKI_CACHE_POOL_ID) asks this owner to release the pool. Called after the
   * acknowledgement is written: handing over stops this server, which waits for open connections.
   */
  handoff?(): void;
}

/**
 * A socket path that fits sun_path: the path itself, or, when it is too long (deep cache directories:
 * <cache>/<36-char tenant>/<32-hex pool>/control.sock easily exceeds 107 bytes), the same file reached
 * through an open descriptor of its directory, /proc/self/fd/<n>/control.sock (Linux resolves it at
 * bind and connect time). The caller closes `dir` once bound or connected.
 */
async function shortPath(path: string): Promise<{ path: string; dir: FileHandle | null }> {
  if (Buffer.byteLength(path) <= MAX_SOCKET_PATH) return { path, dir: null };
  const dir = await open(dirname(path), 'r');
  const short = `/proc/self/fd/${dir.fd}/${basename(path)}`;
  if (Buffer.byteLength(short) > MAX_SOCKET_PATH) {
    await dir.close();
    throw kerr('InvalidArgument', `socket name ${basename(path)} is too long`);
  }
  return { path: short, dir };
}

export class ControlServer {
  readonly #server: Server;
  readonly path: string;

  private constructor(server: Server, path: string) {
    this.#server = server;
    this.path = path;
  }

  static async listen(path: string, handlers: ControlHandlers): Promise<ControlServer> {
    await unlink(path).catch(() => undefined);
    const server = createServer((sock) => serve(sock, handlers));
    const bind = await shortPath(path);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(bind.path, () => { server.off('error', reject); resolve(); });
      });
    } finally {
      await bind.dir?.close();
    }
    server.unref();
    await chmod(path, FILE_MODE);
    return new ControlServer(server, path);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    await unlink(this.path).catch(() => undefined);
  }
}

function serve(sock: Socket, handlers: ControlHandlers): void {
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('error', () => sock.destroy());
  sock.on('data', (chunk: string) => {
    buf += chunk;
    if (buf.length > 4096) {
      sock.end(`${JSON.stringify({ ok: false, error: 'request too long' })}\n`);
      return;
    }
    const nl = buf.indexOf('\n');
    if (nl < 0) return;
    const line = buf.slice(0, nl);
    buf = '';
    void answer(line, handlers).then((reply) => {
      sock.end(`${JSON.stringify(reply)}\n`, () => {
        if ((reply as { handoff?: boolean }).handoff === true) handlers.handoff?.();
      });
    });
  });
}

async function answer(line: string, handlers: ControlHandlers): Promise<unknown> {
  try {
    const req = JSON.parse(line) as { op?: unknown };
    if (req.op === 'stats') return { ok: true, stats: handlers.stats() };
    if (req.op === 'wipe') return { ok: true, stats: await handlers.wipe() };
    if (req.op === 'handoff') {
      if (handlers.handoff === undefined) return { ok: false, error: `the process holding this pool (pid ${process.pid}) does not hand pools over; stop it first` };
      return { ok: true, stats: handlers.stats(), handoff: true };
    }
    return { ok: false, error: `unknown op ${JSON.stringify(req.op)}` };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

/** One request to a live pool. Rejects with Unavailable when nobody listens (the pool is not live). */
export async function controlRequest(path: string, op: 'stats' | 'wipe' | 'handoff', timeoutMs = 5000): Promise<CacheStatsSnapshot> {
  let target: { path: string; dir: FileHandle | null };
  try {
    target = await shortPath(path);
  } catch (err) {
    throw kerr('Unavailable', `no live cache pool at ${path}: ${(err as Error).message}`, err);
  }
  try {
    return await request(target.path, path, op, timeoutMs);
  } finally {
    await target.dir?.close();
  }
}

function request(connectTo: string, path: string, op: string, timeoutMs: number): Promise<CacheStatsSnapshot> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(connectTo);
    let buf = '';
    const fail = (msg: string, cause?: unknown) => { sock.destroy(); reject(kerr('Unavailable', msg, cause)); };
    sock.setTimeout(timeoutMs, () => fail(`cache pool control socket ${path} did not answer within ${timeoutMs} ms`));
    sock.setEncoding('utf8');
    sock.on('error', (err) => fail(`no live cache pool at ${path}: ${err.message}`, err));
    sock.on('data', (c: string) => { buf += c; });
    sock.on('end', () => {
      try {
        const reply = JSON.parse(buf) as { ok?: unknown; stats?: unknown; error?: unknown };
        if (reply.ok === true && isStatsSnapshot(reply.stats)) resolve(reply.stats);
        else reject(kerr('Internal', `cache pool at ${path} refused ${op}: ${String(reply.error)}`));
      } catch (err) {
        reject(kerr('Internal', `cache pool at ${path} sent an unreadable reply`, err));
      }
    });
    sock.write(`${JSON.stringify({ op })}\n`);
  });
}

// The embedded default: with no --data-addr and no KISEKI_SEEDS, the client talks to a kiseki-node
// of this user over a unix socket at a well-known place (ADR 0060), starting one if none answers.
//   socket  $XDG_RUNTIME_DIR/kiseki/node.sock, else $XDG_DATA_HOME/kiseki/node.sock
//           ($XDG_DATA_HOME defaults to ~/.local/share)
//   data    $XDG_DATA_HOME/kiseki/node/       log  $XDG_DATA_HOME/kiseki/node.log
//   pid     next to the socket, node.pid
import { spawn } from 'node:child_process';
import { mkdir, open, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { DiscoveryServiceService } from '../gen/kiseki/v1/discovery.js';
import { kerr } from '../errors.js';
import { projectRoot } from '../util/native.js';
import { processAlive } from '../util/process.js';
import { systemClock } from '../cache/clock.js';
import { NodeChannels } from './node-channels.js';
import { callUnary, RpcLiveness } from './rpc.js';
import type { SeedAddress } from './seeds.js';

/** sockaddr_un.sun_path holds 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH = 107;

export interface EmbeddedPaths {
  socketPath: string;
  pidPath: string;
  lockPath: string;
  dataDir: string;
  logPath: string;
}

export function embeddedPaths(env: NodeJS.ProcessEnv = process.env): EmbeddedPaths {
  const dataHome = env.XDG_DATA_HOME !== undefined && env.XDG_DATA_HOME.startsWith('/') ? env.XDG_DATA_HOME : join(env.HOME ?? homedir(), '.local/share');
  const runtime = env.XDG_RUNTIME_DIR !== undefined && env.XDG_RUNTIME_DIR.startsWith('/') ? join(env.XDG_RUNTIME_DIR, 'kiseki') : join(dataHome, 'kiseki');
  const socketPath = join(runtime, 'node.sock');
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
    throw kerr('InvalidArgument', `embedded node socket path ${socketPath} is longer than ${MAX_SOCKET_PATH} bytes; set XDG_RUNTIME_DIR to a shorter directory or pass --data-addr`);
  }
  return {
    socketPath,
    pidPath: join(runtime, 'node.pid'),
    lockPath: join(runtime, 'start.lock'),
    dataDir: join(dataHome, 'kiseki', 'node'),
    logPath: join(dataHome, 'kiseki', 'node.log'),
  };
}

export function embeddedSeed(env: NodeJS.ProcessEnv = process.env): SeedAddress {
  return { kind: 'unix', path: embeddedPaths(env).socketPath };
}

/** True when a kiseki-node answers Discover on the socket. */
export async function embeddedNodeAnswers(socketPath: string, deadlineMs = 1_000): Promise<boolean> {
  const channels = new NodeChannels({ kind: 'none' });
  try {
    await callUnary({ channels, clock: systemClock, liveness: new RpcLiveness(), deadlineMs }, { kind: 'unix', path: socketPath }, DiscoveryServiceService.discover, {});
    return true;
  } catch {
    return false;
  } finally {
    channels.close();
  }
}

export interface EmbeddedNode {
  socketPath: string;
  /** The node's pid when known (from its pid file). */
  pid: number | null;
  /** False when an already running node was reused. */
  started: boolean;
  paths: EmbeddedPaths;
}

export interface StartEmbeddedOptions {
  env?: NodeJS.ProcessEnv;
  /** The kiseki-node entry script; default dist/src/cli/kiseki-node.js of this package. */
  nodeScript?: string;
  timeoutMs?: number;
}

async function readPid(path: string): Promise<number | null> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const pid = Number(text.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Returns the running embedded node, or starts one (detached: it outlives this process, like a
 * user daemon). Concurrent callers serialise on an O_EXCL lock file; a lock whose owner died is taken over.
 */
export async function startEmbeddedNode(opts: StartEmbeddedOptions = {}): Promise<EmbeddedNode> {
  const env = opts.env ?? process.env;
  const paths = embeddedPaths(env);
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const deadline = Date.now() + timeoutMs;
  const reuse = async (): Promise<EmbeddedNode | null> =>
    (await embeddedNodeAnswers(paths.socketPath)) ? { socketPath: paths.socketPath, pid: await readPid(paths.pidPath), started: false, paths } : null;

  const running = await reuse();
  if (running !== null) return running;
  await mkdir(dirname(paths.socketPath), { recursive: true, mode: 0o700 });
  await mkdir(paths.dataDir, { recursive: true, mode: 0o700 });

  for (;;) {
    try {
      const lock = await open(paths.lockPath, 'wx', 0o600);
      await lock.writeFile(String(process.pid));
      await lock.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = await readPid(paths.lockPath);
      if (owner !== null && processAlive(owner) && Date.now() < deadline) {
        await sleep(100);
        const other = await reuse();
        if (other !== null) return other;
        continue;
      }
      await rm(paths.lockPath, { force: true });
    }
  }
  try {
    const other = await reuse();
    if (other !== null) return other;
    // A socket file nobody answers on is left over from a node that died.
    await unlink(paths.socketPath).catch(() => undefined);
    const script = opts.nodeScript ?? join(projectRoot(), 'dist/src/cli/kiseki-node.js');
    await stat(script).catch(() => {
      throw kerr('NotFound', `cannot start the embedded node: ${script} is missing; run npm run build`);
    });
    const log = await open(paths.logPath, 'a', 0o600);
    const child = spawn(process.execPath, [script, '--data-dir', paths.dataDir, '--socket', paths.socketPath], {
      detached: true,
      stdio: ['ignore', log.fd, log.fd],
      env,
    });
    await log.close();
    let exited: string | null = null;
    child.once('exit', (code, signal) => {
      exited = `exited with ${signal ?? `code ${code}`}`;
    });
    child.once('error', (err) => {
      exited = err.message;
    });
    child.unref();
    const pid = child.pid ?? null;
    if (pid !== null) await writeFile(paths.pidPath, `${pid}\n`, { mode: 0o600 });
    while (exited === null && Date.now() < deadline) {
      if (await embeddedNodeAnswers(paths.socketPath, 500)) return { socketPath: paths.socketPath, pid, started: true, paths };
      await sleep(100);
    }
    if (exited === null && pid !== null) process.kill(pid, 'SIGTERM');
    const tail = (await readFile(paths.logPath, 'utf8').catch(() => '')).split('\n').slice(-6).join('\n');
    throw kerr('Unavailable', `the embedded kiseki-node on ${paths.socketPath} did not come up (${exited ?? `no answer within ${timeoutMs} ms`}); log ${paths.logPath}:\n${tail}`);
  } finally {
    await rm(paths.lockPath, { force: true });
  }
}

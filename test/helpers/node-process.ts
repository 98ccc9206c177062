// Real kiseki-node processes for tests (dist/src/cli/kiseki-node.js), started and awaited on their
// ready line. Every process started here is killed when the test process exits, even on failure;
// call stop() in `after` for a graceful end.
//   const n = await startNode({ dataDir, tls: { certs, nodeId: 1 }, socket: true });
//   n.address ('127.0.0.1:PORT'), n.socketPath, await n.kill9(), await n.restart(), await n.stop()
//   const c = await startCluster(3, { certs, dataRoot, replicas: 2 }); c.nodes[0].address; await c.stop()
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import type { CertSet } from './certs.js';

const BIN = resolve(__dirname, '../../src/cli/kiseki-node.js');
const READY = /^kiseki-node ready node_id=(\d+) listen=(\S+) socket=(\S+)$/m;

export interface StartNodeOptions {
  dataDir: string;
  /** TLS with node `nodeId`'s certificate (default node 1). Without tls and without insecure: socket only. */
  tls?: { certs: CertSet; nodeId?: number };
  /** true: <dataDir>.sock; a string: that path. */
  socket?: boolean | string;
  /** host:port (default 127.0.0.1 on a freePort() when tls or insecure is given). */
  listen?: string;
  insecure?: boolean;
  /** id@host:port,… */
  peers?: string;
  nodeId?: number;
  replicas?: number;
  localTenant?: string;
  args?: string[];
  env?: Record<string, string>;
  readyTimeoutMs?: number;
}

export interface NodeProcess {
  /** host:port of the TCP listener (actual port), or null. */
  readonly address: string | null;
  readonly socketPath: string | null;
  /** The bulk chunk stream addresses it printed (host:port, unix:/path; ADR 0033). */
  readonly bulk: string[];
  readonly pid: number;
  readonly nodeId: number;
  /** The node's --data-dir (chunks under <dataDir>/chunks/<tenant>/<2 hex>/<64 hex>). */
  readonly dataDir: string;
  /** Everything written to stderr so far (pino JSON lines). */
  stderr(): string;
  /** SIGTERM, wait for exit; resolves with the exit code (0 = clean shutdown). */
  stop(): Promise<number | null>;
  /** SIGKILL, wait for exit (crash simulation). */
  kill9(): Promise<void>;
  /** Starts the same node again (same data dir; same port when it had one). */
  restart(): Promise<NodeProcess>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/** Resolves with the exit code (null when killed by a signal). */
function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((r) => child.once('exit', (code) => r(code)));
}

export async function startNode(o: StartNodeOptions): Promise<NodeProcess> {
  const nodeId = o.nodeId ?? o.tls?.nodeId ?? 1;
  const socketPath = o.socket === true ? `${o.dataDir}.sock` : typeof o.socket === 'string' ? o.socket : null;
  const args = [BIN, '--data-dir', o.dataDir, '--node-id', String(nodeId)];
  // A fixed port, so that restart() finds it again (freePort).
  const listen = o.listen ?? (o.tls || o.insecure ? `127.0.0.1:${await freePort()}` : undefined);
  if (listen && !o.peers) args.push('--listen', listen);
  if (o.peers) args.push('--peers', o.peers);
  if (socketPath) args.push('--socket', socketPath);
  if (o.insecure) args.push('--insecure');
  if (o.replicas) args.push('--replicas', String(o.replicas));
  if (o.localTenant) args.push('--local-tenant', o.localTenant);
  args.push(...(o.args ?? []));
  const env = { ...process.env, ...(o.tls ? o.tls.certs.nodeEnv(nodeId) : {}), ...o.env };
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  let out = '';
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
  const ready = await new Promise<RegExpExecArray>((resolveReady, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`kiseki-node not ready after ${o.readyTimeoutMs ?? 20000} ms:\n${err}`)); }, o.readyTimeoutMs ?? 20000);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = READY.exec(out);
      if (m) { clearTimeout(timer); resolveReady(m); }
    });
    child.once('exit', (code, signal) => { clearTimeout(timer); reject(new Error(`kiseki-node exited (${code ?? signal}) before ready:\n${err}`)); });
  });
  const address = ready[2] === '-' ? null : ready[2]!;
  const bulk = [...out.matchAll(/^kiseki-node bulk stream=(\S+)$/gm)].map((m) => m[1]!);
  const self: NodeProcess = {
    address,
    socketPath,
    bulk,
    pid: child.pid!,
    nodeId,
    dataDir: o.dataDir,
    stderr: () => err,
    async stop() { child.kill('SIGTERM'); return exited(child); },
    async kill9() { child.kill('SIGKILL'); await exited(child); },
    async restart() {
      await self.stop();
      return startNode({ ...o, ...(address && !o.peers ? { listen: address } : {}) });
    },
  };
  return self;
}

/** Ports handed out below the kernel's ephemeral range (32768–60999 by default). */
const PORT_RANGE = [20_000, 32_000] as const;

function canBind(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });
}

/**
 * A free loopback TCP port for a node (bound, then released: fine for tests on one machine), below the
 * ephemeral range: a killed node's port must still be free when it restarts, and an ephemeral port can
 * be taken meanwhile by any client socket, even by a client redialling that very port (on loopback a
 * connect from port P to port P connects to itself).
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = PORT_RANGE[0] + Math.floor(Math.random() * (PORT_RANGE[1] - PORT_RANGE[0]));
    if (await canBind(port)) return port;
  }
}

export interface ClusterProcess {
  readonly nodes: NodeProcess[];
  /** The --peers value: 1@127.0.0.1:p1,2@127.0.0.1:p2,… */
  readonly peers: string;
  stop(): Promise<void>;
}

/** n TLS nodes (ids 1…n) on loopback, node i's data in <dataRoot>/node-i; `args` go to every node. */
export async function startCluster(n: number, o: { certs: CertSet; dataRoot: string; replicas?: number; args?: string[] }): Promise<ClusterProcess> {
  const ports = await Promise.all(Array.from({ length: n }, () => freePort()));
  const peers = ports.map((p, i) => `${i + 1}@127.0.0.1:${p}`).join(',');
  const nodes = await Promise.all(ports.map((_p, i) => startNode({
    dataDir: join(o.dataRoot, `node-${i + 1}`), tls: { certs: o.certs, nodeId: i + 1 }, peers, nodeId: i + 1, replicas: o.replicas ?? 1,
    ...(o.args ? { args: o.args } : {}),
  })));
  return { nodes, peers, stop: async () => { await Promise.all(nodes.map((x) => x.stop())); } };
}

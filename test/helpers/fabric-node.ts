// Starts test/helpers/fabric-node-child.js as a real process (optionally inside a network namespace)
// and exposes its sessions as an OpenFabricSession function.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { OpenFabricSession } from '../../src/transport/transport-fabric.js';
import { TENANT_A } from './fabric-chunks.js';

export interface FabricNode {
  child: ChildProcess;
  address: Buffer;
  provider: string;
  openSession: OpenFabricSession;
  /** Opens a session for another tenant (isolation tests). */
  sessionFor(tenant: string): OpenFabricSession;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function startFabricNode(opts: {
  provider: string;
  host?: string;
  port?: string;
  dir: string;
  tenant?: string;
  netns?: string;
  env?: NodeJS.ProcessEnv;
}): Promise<FabricNode> {
  const script = path.join(__dirname, 'fabric-node-child.js');
  const args = [script, opts.provider, opts.host ?? '127.0.0.1', opts.port ?? '0', opts.dir];
  const [cmd, argv] = opts.netns ? ['ip', ['netns', 'exec', opts.netns, process.execPath, ...args]] : [process.execPath, args];
  const child = spawn(cmd, argv as string[], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, ...opts.env } });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = await new Promise<{ address: string; provider: string }>((resolve, reject) => {
    child.once('message', (m: { op: string; address: string; provider: string; message?: string }) =>
      m.op === 'ready' ? resolve(m) : reject(new Error(`fabric node failed: ${m.message}`)),
    );
    child.once('exit', (code) => reject(new Error(`fabric node exited with ${code} before ready`)));
  });
  let queue = Promise.resolve();
  const sessionFor = (tenant: string): OpenFabricSession => (req) => {
    const p = queue.then(
      () =>
        new Promise<{ token: Buffer; nodeFabricAddress: Buffer; provider: string }>((resolve, reject) => {
          if (!child.connected) return reject(new Error('fabric node is gone'));
          child.once('message', (m: { op: string; token: string; address: string; provider: string; message?: string }) =>
            m.op === 'session'
              ? resolve({ token: Buffer.from(m.token, 'hex'), nodeFabricAddress: Buffer.from(m.address, 'hex'), provider: m.provider })
              : reject(new Error(m.message)),
          );
          child.send({ op: 'session', tenant, provider: req.provider });
        }),
    );
    queue = p.then(() => undefined, () => undefined);
    return p;
  };
  return {
    child,
    address: Buffer.from(ready.address, 'hex'),
    provider: ready.provider,
    openSession: sessionFor(opts.tenant ?? TENANT_A),
    sessionFor,
    async stop(signal?: NodeJS.Signals) {
      if (child.exitCode === null && child.signalCode === null) {
        if (signal) child.kill(signal);
        // A child killed a moment ago may still look connected: a failed send must not become an
        // unhandled 'error' (under node:test that aborts the whole process).
        else if (child.connected) child.send({ op: 'exit' }, (err) => { if (err !== null) child.kill('SIGTERM'); });
        else child.kill('SIGTERM');
      }
      await exited;
    },
  };
}

// Opens the filesystem core in this process against a real kiseki-node (unix socket, no FUSE).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from '../../src/client/session.js';
import { grpcTransportFactory, MountSession } from '../../src/client/mount-session.js';
import { parseMountOptions } from '../../src/client/mount-options.js';
import { startNode, type NodeProcess } from '../helpers/node-process.js';

export interface CoreHarness {
  readonly dir: string;
  readonly node: NodeProcess;
  /** A fresh client (its own session, cache and file states), like a second mount. */
  open(namespaceId: string, options?: string[]): Promise<MountSession>;
  close(): Promise<void>;
}

export async function startCore(): Promise<CoreHarness> {
  const dir = await mkdtemp(join(tmpdir(), 'kiseki-fs-core-'));
  const node = await startNode({ dataDir: join(dir, 'node'), socket: true });
  const opened: MountSession[] = [];
  return {
    dir,
    node,
    async open(namespaceId, options = []) {
      const env = { ...process.env, KISEKI_CACHE_DIR: join(dir, 'cache'), XDG_RUNTIME_DIR: dir, XDG_DATA_HOME: dir };
      const session = await Session.open({ seeds: [{ kind: 'unix', path: node.socketPath! }], env, transportFactory: grpcTransportFactory });
      const ms = await MountSession.open(session, {
        namespaceId, create: true, mount: parseMountOptions(['chunk_size=1M', ...options]), env, statsIntervalMs: 0,
      });
      opened.push(ms);
      return ms;
    },
    async close() {
      await Promise.all(opened.map((m) => m.close().catch(() => undefined)));
      await node.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

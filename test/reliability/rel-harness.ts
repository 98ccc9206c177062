// Real TLS clusters with real mounts for the reliability suite: certificates for two tenants, an
// R-replica kiseki-node cluster on loopback, and `kiseki-client-fuse mount` daemons talking to it
// over TCP+TLS as tenant A (or B). Built on test/helpers (nodes, certs) and the mount harness; the
// test process touches mounts only through child processes and async fs calls.
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { makeCerts, type CertSet } from '../helpers/certs.js';
import { startCluster, type ClusterProcess } from '../helpers/node-process.js';
import { CLI, isMounted, sh, startMountHarness, type MountHarness, type Mounted } from '../integration/mount-harness.js';

export const MiB = 1 << 20;

export interface TlsRig {
  readonly dir: string;
  readonly certs: CertSet;
  readonly cluster: ClusterProcess;
  readonly A: string;
  readonly B: string;
  readonly h: MountHarness;
  /** The environment of a client presenting `tenant`'s certificate (registry and cache under dir). */
  envFor(tenant: string): NodeJS.ProcessEnv;
  /** --data-addr of every node. */
  dataAddr(): string;
  /** Mounts namespace-bearing `args` as tenant A (default) or B over TCP+TLS to the whole cluster. */
  mount(name: string, args?: string[], tenant?: string): Promise<Mounted>;
  close(): Promise<void>;
}

export async function startTlsRig(o: { nodes: number; replicas: number }): Promise<TlsRig> {
  const h = await startMountHarness({ node: false });
  const A = randomUUID();
  const B = randomUUID();
  const certs = await makeCerts(join(h.dir, 'certs'), { tenants: [A, B], nodes: Array.from({ length: o.nodes }, (_v, i) => i + 1) });
  const cluster = await startCluster(o.nodes, { certs, dataRoot: join(h.dir, 'nodes'), replicas: o.replicas });
  const envFor = (t: string): NodeJS.ProcessEnv => ({ ...h.env, KISEKI_CA_PATH: certs.ca, KISEKI_CERT_PATH: certs.tenant(t).cert, KISEKI_KEY_PATH: certs.tenant(t).key });
  Object.assign(h.env, envFor(A));
  const others: Mounted[] = [];
  const rig: TlsRig = {
    dir: h.dir, certs, cluster, A, B, h, envFor,
    dataAddr: () => cluster.nodes.map((n) => n.address).join(','),
    async mount(name, args = [], tenant = A) {
      if (tenant === A) return h.mount(name, ['--data-addr', rig.dataAddr(), ...args]);
      const env = envFor(tenant);
      const path = join(h.dir, name);
      await mkdir(path, { recursive: true });
      const out = await sh(process.execPath, [CLI, 'mount', path, '--data-addr', rig.dataAddr(), ...args], { env, timeoutMs: 60_000 });
      const m: Mounted = {
        path, pid: Number(/pid (\d+)/.exec(out)?.[1]),
        async unmount() {
          if (await isMounted(path)) await sh(process.execPath, [CLI, 'unmount', path], { env, timeoutMs: 120_000 });
        },
      };
      others.push(m);
      return m;
    },
    async close() {
      for (const m of others) await m.unmount().catch(() => sh('fusermount3', ['-uz', m.path]).catch(() => undefined));
      await cluster.stop().catch(() => undefined);
      await h.close();
    },
  };
  return rig;
}

/** Polls `check` every 50 ms until it holds; returns the time it took. */
export async function until(check: () => Promise<boolean>, ms: number, what = 'condition'): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (await check().catch(() => false)) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} not met within ${ms} ms`);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

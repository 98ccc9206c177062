// One running mount: session → mounted namespace → FUSE session, the registry record and control
// socket that `status`/`unmount` use, an optional /metrics endpoint, and an orderly shutdown:
//   starting ──mounted──▶ serving ──unmount request | SIGINT/SIGTERM | external umount──▶ draining ──▶ stopped
// Draining waits for in-flight requests (the binding's unmount), flushes every dirty file (data on all
// replicas and committed), wipes this mount's cache pool and keys, and removes the registry entry.
import { createServer, type Server } from 'node:http';
import type { Server as NetServer } from 'node:net';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { registerCacheMetrics } from '../cache/cache-stats.js';
import { Session } from '../client/session.js';
import { formatSeed } from '../client/seeds.js';
import { MountSession, selectingTransportFactory } from '../client/mount-session.js';
import { readAheadKbOf, type MountOptions } from '../client/mount-options.js';
import { controlSocketPath, removeRecord, serveControl, writeRecord, type MountRecord } from '../client/mount-registry.js';
import { kerr } from '../errors.js';
import { TransportMetrics } from '../transport/transport-metrics.js';
import type { TransportDecision } from '../transport/transport-probe.js';
import type { TransportStatus } from '../transport/transport-selector.js';
import { mount, type FuseSession } from './fuse-binding.js';
import { dentryMirror, KisekiFuse } from './kiseki-fuse.js';
import { ReadMirror } from './read-mirror.js';

export type MountState = 'starting' | 'serving' | 'draining' | 'stopped';

export interface StartMountOptions {
  readonly mountpoint: string;
  readonly dataAddr?: string;
  readonly tenant?: string;
  readonly namespace: string;
  readonly options: MountOptions;
  readonly env?: NodeJS.ProcessEnv;
  readonly log: (msg: string) => void;
}

export class RunningMount {
  private state_: MountState = 'serving';
  private stopping: Promise<number> | null = null;
  private watcher: NodeJS.Timeout | null = null;
  private resolveDone!: (code: number) => void;
  /** Resolves with the exit code once the mount is stopped. */
  readonly done = new Promise<number>((r) => { this.resolveDone = r; });

  private constructor(
    readonly record: MountRecord,
    private readonly ms: MountSession,
    private readonly fuse: FuseSession,
    private readonly control: NetServer,
    private readonly metrics: Server | null,
    private readonly env: NodeJS.ProcessEnv,
    private readonly log: (msg: string) => void,
    private readonly transports: () => TransportStatus[] = () => [],
  ) {}

  get state(): MountState {
    return this.state_;
  }

  static async start(o: StartMountOptions): Promise<RunningMount> {
    const env = o.env ?? process.env;
    const mountpoint = resolve(o.mountpoint);
    const transportMetrics = new TransportMetrics();
    const { factory, decision, transports } = await selectingTransportFactory(env, transportMetrics);
    const session = await Session.open({
      ...(o.dataAddr !== undefined ? { dataAddr: o.dataAddr } : {}), env, transportFactory: factory,
    });
    let ms: MountSession | null = null;
    let fuse: FuseSession | null = null;
    try {
      ms = await MountSession.open(session, { namespaceId: o.namespace, create: true, mount: o.options, env });
      if (o.tenant !== undefined && o.tenant !== session.keys.tenantId) {
        throw kerr('PermissionDenied', `--tenant ${o.tenant} does not match the tenant of this client's identity (${session.keys.tenantId})`);
      }
      const ttlSeconds = ms.cacheConfig.metaTtlMs / 1000;
      const ops = new KisekiFuse(ms.fs, { ttlSeconds });
      const mounted = await mount(mountpoint, {
        fsname: o.options.fsname ?? 'kiseki', subtype: 'kiseki', ro: ms.readOnly,
        allowOther: o.options.allowOther, defaultPermissions: o.options.defaultPermissions,
        ...(o.options.replyThreads !== undefined ? { replyThreads: o.options.replyThreads } : {}),
        readaheadKb: readAheadKbOf(o.options),
      }, ops, (msg: string) => o.log(msg));
      fuse = mounted;
      const dentries = dentryMirror(mounted.answers, () => session.keys.indexKey);
      ms.fs.attachMirror(dentries);
      // Reads of clean L1 chunks are answered on the worker threads; L1 letting a chunk go (eviction,
      // every wipe) unpublishes it first, and their hits count as L1 hits.
      const reads = new ReadMirror(mounted.reads, (id, hits) => ms!.cache.noteL1Hits(id, hits));
      ms.fs.attachReadMirror(reads);
      ms.cache.onL1Drop((id) => reads.dropChunk(id));
      ms.cache.addHitSource(() => reads.harvest());
      // I-CC12, I-CC6: the kernel's page cache holds plaintext of files read through the mount; a
      // cache wipe (crypto-shred, disconnect, manual) drops those pages too.
      ms.cache.onWipe(() => {
        for (const ino of ops.openedInodes()) mounted.invalidateInode(ino);
        dentries.clear();
      });
      const d = session.discovered();
      const record: MountRecord = {
        mountpoint, pid: process.pid, namespace: o.namespace, tenant: session.keys.tenantId,
        nodes: d.nodes.map((n) => `${n.id}@${formatSeed(n.address)}${n.leader ? ' (leader)' : ''}`),
        transport: transportLabel(decision, d.nodes.every((n) => n.address.kind === 'unix')), embedded: session.embedded !== null, cacheMode: ms.cache.mode,
        cacheDir: ms.cacheConfig.cacheDir, readOnly: ms.readOnly, startedAt: new Date().toISOString(),
        controlSocket: controlSocketPath(mountpoint, env),
      };
      let running: RunningMount | null = null;
      const control = await serveControl(record.controlSocket, async (req) => {
        if (running === null) throw kerr('Unavailable', 'the mount is still starting');
        if (req.op === 'unmount') return { ok: true, code: await running.stop('unmount request') };
        return running.status();
      });
      const metrics = o.options.metricsAddr !== undefined ? await serveMetrics(o.options.metricsAddr, ms, transportMetrics) : null;
      running = new RunningMount(record, ms, fuse, control, metrics, env, o.log, transports);
      await writeRecord(record, env);
      running.watchExternalUnmount();
      return running;
    } catch (err) {
      if (fuse !== null) await fuse.unmount().catch(() => undefined);
      if (ms !== null) await ms.close().catch(() => undefined);
      else await session.close().catch(() => undefined);
      throw err;
    }
  }

  status(): Record<string, unknown> {
    return {
      ...this.record, state: this.state_, inFlight: this.fuse.inFlight, openFiles: this.ms.fs.files.size, cache: this.ms.cache.stats(),
      transports: this.transports(), workerAnswers: this.fuse.answers.stats(), workerReads: this.fuse.reads.stats(),
      readAheadKb: this.fuse.negotiated.readaheadKb,
    };
  }

  /** Drains and stops; idempotent. Resolves with the exit code (0 = everything flushed). */
  stop(reason: string): Promise<number> {
    this.stopping ??= this.drain(reason);
    return this.stopping;
  }

  private async drain(reason: string): Promise<number> {
    this.state_ = 'draining';
    this.log(`unmounting ${this.record.mountpoint}: ${reason}`);
    if (this.watcher !== null) clearInterval(this.watcher);
    let code = 0;
    await this.fuse.unmount();
    const failures = await this.ms.close();
    for (const f of failures) this.log(`flush failed, data not stored: ${f.message}`);
    if (failures.length > 0) code = 1;
    this.metrics?.close();
    await removeRecord(this.record.mountpoint, this.env);
    this.state_ = 'stopped';
    // `done` waits until the control socket has closed, i.e. after an `unmount` caller got its answer.
    this.control.close(() => this.resolveDone(code));
    return code;
  }

  /** `umount`/`fusermount3 -u` by someone else ends the mount: notice it and drain. */
  private watchExternalUnmount(): void {
    this.watcher = setInterval(() => {
      readFile('/proc/self/mountinfo', 'utf8').then((info) => {
        const present = info.split('\n').some((line) => line.split(' ')[4] === this.record.mountpoint.replace(/ /g, '\\040'));
        if (!present && this.state_ === 'serving') void this.stop('unmounted externally');
      }, () => undefined);
    }, 1000);
    this.watcher.unref();
  }
}

function transportLabel(decision: TransportDecision | null, unix: boolean): string {
  const grpc = unix ? 'grpc over unix socket' : 'grpc over tcp+tls';
  if (decision === null) return grpc;
  const stream = `bulk stream where nodes advertise it, else ${grpc}`;
  if (decision.chosen === 'tcp-tls') return decision.forced ? grpc : stream;
  if (decision.chosen === 'stream') return stream;
  return `${decision.chosen} (${decision.provider}) where nodes advertise it, else ${decision.forced ? grpc : stream}`;
}

async function serveMetrics(addr: string, ms: MountSession, transportMetrics: TransportMetrics): Promise<Server> {
  const { registry } = registerCacheMetrics(() => ms.cache.stats(), transportMetrics.registry);
  const i = addr.lastIndexOf(':');
  const host = addr.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(addr.slice(i + 1));
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then((text) => {
      res.writeHead(200, { 'content-type': registry.contentType }).end(text);
    }, (err: unknown) => res.writeHead(500).end(String(err)));
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => ok());
  });
  return server;
}

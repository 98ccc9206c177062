// Typed wrapper over native/transport (loadNative().transport). The native layer is thin on purpose:
// it posts fi_recv/fi_send/fi_read and hands completions back in batches. This file owns what the
// native layer must not: argument validation, -FI_EAGAIN re-posting, per-operation promises, and
// keeping a receive ring posted so the endpoint always makes progress.
import { constants as osConstants } from 'node:os';
import { kerr } from '../errors.js';
import { loadNative } from '../util/native.js';

/** What fi_getinfo said for one provider question (probe.cc GetinfoResult). */
export interface GetinfoFacts {
  attempted: boolean;
  rc: number;
  error: string;
  ms: number;
  entries: number;
  provider: string;
  domain: string;
}

/** Raw facts gathered by the native probe; transport-probe.ts turns them into a decision. */
export interface ProbeFacts {
  libfabric: {
    loaded: boolean;
    path: string;
    error: string;
    version: string;
    dlopenMs: number;
    providersMs: number;
    providers: string[];
  };
  cxi: { devices: number; getinfo: GetinfoFacts };
  verbs: {
    loaded: boolean;
    path: string;
    error: string;
    dlopenMs: number;
    listMs: number;
    devices: number;
    ports: { device: string; port: number; state: number; active: boolean; linkLayer: string }[];
    getinfo: GetinfoFacts;
  };
  fabricTcp: { provider: string; getinfo: GetinfoFacts };
  totalMs: number;
}

export interface FabricInfo {
  provider: string;
  fabric: string;
  domain: string;
  rma: boolean;
  mrLocal: boolean;
  mrVirtAddr: boolean;
  mrEndpoint: boolean;
  mrProvKey: boolean;
  manualProgress: boolean;
  maxMsgSize: number;
  injectSize: number;
}

export interface MemoryRegion {
  readonly id: number;
  readonly key: bigint;
  /** The address a peer passes to fi_read (virtual address under FI_MR_VIRT_ADDR, else 0). */
  readonly addr: bigint;
}

interface NativeEndpoint {
  name(): Buffer;
  info(): FabricInfo;
  insertPeer(address: Buffer): number;
  removePeer(peer: number): number;
  register(buf: Buffer, access: number): MemoryRegion;
  deregister(id: number): void;
  recv(buf: Buffer, mrId: number | null, opId: number): number;
  send(peer: number, buf: Buffer, mrId: number | null, opId: number): number;
  read(peer: number, buf: Buffer, mrId: number | null, addr: bigint, key: bigint, opId: number): number;
  setKeepAlive(on: boolean): void;
  close(): void;
}

interface NativeTransport {
  probe(fabricTcpProvider: string): Promise<ProbeFacts>;
  FabricEndpoint: new (opts: {
    provider: string;
    node?: string;
    service?: string;
    rma: boolean;
    cqSize?: number;
    onEvents: (events: number[]) => void;
  }) => NativeEndpoint;
  access: { SEND: number; RECV: number; READ: number; WRITE: number; REMOTE_READ: number; REMOTE_WRITE: number };
  errno: { EAGAIN: number; ECANCELED: number };
}

function nativeTransport(): NativeTransport {
  // verbs;ofi_rxm sizes its MSG CQ by FI_UNIVERSE_SIZE (default 1024), which overflows Soft-RoCE's
  // max_cqe and makes fi_enable fail with EINVAL (research/fabric.md §2b). Must be set before the
  // first fi_getinfo; an admin's own value wins.
  process.env.FI_UNIVERSE_SIZE ??= '64';
  const t = loadNative().transport as unknown as NativeTransport;
  if (typeof t.probe !== 'function' || typeof t.FabricEndpoint !== 'function') {
    throw kerr('Internal', 'kiseki_native.node has no transport namespace: rebuild it with `npm run build:native`');
  }
  return t;
}

/** Runs the native probe on the libuv thread pool (never on the JS thread). */
export function probeFacts(fabricTcpProvider: string): Promise<ProbeFacts> {
  return nativeTransport().probe(fabricTcpProvider);
}

export function accessFlags(): NativeTransport['access'] {
  return nativeTransport().access;
}

/** libfabric's FI_E* codes are errno values; name them for messages. */
export function fiErrorName(status: number): string {
  const code = -status;
  const name = Object.entries(osConstants.errno).find(([, v]) => v === code)?.[0];
  return name ?? `FI_ERRNO_${code}`;
}

export interface FabricChannelOptions {
  provider: string;
  /** Local address to bind (FI_SOURCE), e.g. 127.0.0.1 or the namespace's veth address. */
  host: string;
  /** Local port; '0' picks one. */
  port: string;
  /** Ask for FI_RMA (one-sided reads). */
  rma: boolean;
  /** Size of each posted receive buffer: the largest message this side accepts. */
  recvSize: number;
  /** Number of receives kept posted. */
  recvDepth: number;
  /** Called synchronously for each received message; `msg` is only valid during the call. */
  onMessage(msg: Buffer): void;
}

interface PendingOp {
  resolve(): void;
  reject(err: Error): void;
  what: string;
}

type Post = () => number;

const MAX_OP_ID = 0xffffffff;

/**
 * One FI_EP_RDM endpoint with a posted receive ring and promise-returning send/read.
 * States: open → closed (close() is idempotent; pending operations reject with Closed).
 */
export class FabricChannel {
  readonly info: FabricInfo;
  private readonly ep: NativeEndpoint;
  private readonly access: NativeTransport['access'];
  private readonly eagain: number;
  private readonly pending = new Map<number, PendingOp>();
  private readonly recvRing = new Map<number, { buf: Buffer; mr: MemoryRegion | null }>();
  private readonly backlog: { post: Post; op: number }[] = [];
  // fi_av_remove while an operation to that address is in flight crashes tcp;ofi_rxm (measured):
  // removal waits until the peer's last operation completes, and nothing new is posted to it.
  private readonly peers = new Map<number, { inflight: number; removed: boolean }>();
  private backlogTimer: NodeJS.Timeout | null = null;
  private nextOp = 1;
  private state: 'open' | 'closed' = 'open';

  constructor(private readonly opts: FabricChannelOptions) {
    if (!Number.isInteger(opts.recvSize) || opts.recvSize < 64) throw kerr('InvalidArgument', `fabric recvSize ${opts.recvSize} must be an integer ≥ 64`);
    if (!Number.isInteger(opts.recvDepth) || opts.recvDepth < 1 || opts.recvDepth > 512) {
      throw kerr('InvalidArgument', `fabric recvDepth ${opts.recvDepth} must be 1..512`);
    }
    const t = nativeTransport();
    this.access = t.access;
    this.eagain = -t.errno.EAGAIN;
    try {
      this.ep = new t.FabricEndpoint({
        provider: opts.provider,
        node: opts.host,
        service: opts.port,
        rma: opts.rma,
        cqSize: Math.max(1024, opts.recvDepth * 4),
        onEvents: (ev) => this.onEvents(ev),
      });
    } catch (e) {
      throw kerr('TransportFailed', `cannot open libfabric provider '${opts.provider}' on ${opts.host}:${opts.port}: ${(e as Error).message}`, e);
    }
    this.info = this.ep.info();
    for (let i = 0; i < opts.recvDepth; i++) this.postRecv(Buffer.allocUnsafe(opts.recvSize));
  }

  /** This endpoint's raw fi_getname() address (what peers insert into their AV). */
  address(): Buffer {
    return this.ep.name();
  }

  insertPeer(address: Buffer): number {
    if (address.length === 0 || address.length > 256) throw kerr('InvalidArgument', `fabric address of ${address.length} bytes`);
    const peer = this.ep.insertPeer(address);
    const known = this.peers.get(peer);
    if (known) known.removed = false;
    else this.peers.set(peer, { inflight: 0, removed: false });
    return peer;
  }

  removePeer(peer: number): void {
    const p = this.peers.get(peer);
    if (p === undefined || p.removed) return;
    p.removed = true;
    this.reapPeer(peer);
  }

  private reapPeer(peer: number): void {
    const p = this.peers.get(peer);
    if (p === undefined || !p.removed || p.inflight > 0) return;
    this.peers.delete(peer);
    if (this.state === 'open') this.ep.removePeer(peer);
  }

  register(buf: Buffer, access: 'remote-read' | 'local'): MemoryRegion {
    this.assertOpen();
    const a = this.access;
    const flags = access === 'remote-read' ? a.REMOTE_READ : a.SEND | a.RECV | a.READ;
    return this.ep.register(buf, flags);
  }

  deregister(mr: MemoryRegion | null): void {
    if (mr !== null && this.state === 'open') this.ep.deregister(mr.id);
  }

  /** Keeps the process alive while this endpoint is open (listeners), or not (clients). */
  setKeepAlive(on: boolean): void {
    if (this.state === 'open') this.ep.setKeepAlive(on);
  }

  send(peer: number, buf: Buffer): Promise<void> {
    this.assertLength(buf);
    const mr = this.info.mrLocal ? this.register(buf, 'local') : null;
    return this.toPeer(peer, 'fi_send', (op) => this.ep.send(peer, buf, mr?.id ?? null, op)).finally(() => this.deregister(mr));
  }

  /** One-sided read of `dst.length` bytes from the peer's registered window at (addr, key). */
  read(peer: number, dst: Buffer, addr: bigint, key: bigint): Promise<void> {
    this.assertLength(dst);
    if (!this.info.rma) throw kerr('NotSupported', `provider ${this.info.provider} offers no FI_RMA`);
    const mr = this.info.mrLocal ? this.register(dst, 'local') : null;
    return this.toPeer(peer, 'fi_read', (op) => this.ep.read(peer, dst, mr?.id ?? null, addr, key, op)).finally(() => this.deregister(mr));
  }

  private toPeer(peer: number, what: string, post: (op: number) => number): Promise<void> {
    const p = this.peers.get(peer);
    if (p === undefined || p.removed) return Promise.reject(kerr('TransportFailed', `${what} to a peer that was removed`));
    p.inflight++;
    return this.post(what, post).finally(() => {
      p.inflight--;
      this.reapPeer(peer);
    });
  }

  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.backlogTimer) clearTimeout(this.backlogTimer);
    this.ep.close();
    const err = kerr('Closed', 'fabric endpoint closed');
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.recvRing.clear();
    this.backlog.length = 0;
    this.peers.clear();
  }

  private assertOpen(): void {
    if (this.state !== 'open') throw kerr('Closed', 'fabric endpoint closed');
  }

  private assertLength(buf: Buffer): void {
    this.assertOpen();
    if (buf.length === 0 || buf.length > this.info.maxMsgSize) {
      throw kerr('InvalidArgument', `fabric transfer of ${buf.length} bytes (provider max ${this.info.maxMsgSize})`);
    }
  }

  private opId(): number {
    const id = this.nextOp;
    this.nextOp = this.nextOp >= MAX_OP_ID ? 1 : this.nextOp + 1;
    return id;
  }

  private post(what: string, post: (op: number) => number): Promise<void> {
    this.assertOpen();
    const op = this.opId();
    return new Promise<void>((resolve, reject) => {
      this.pending.set(op, { resolve, reject, what });
      this.tryPost({ post: () => post(op), op });
    });
  }

  private tryPost(item: { post: Post; op: number }): void {
    let rc: number;
    try {
      rc = item.post();
    } catch (e) {
      const p = this.pending.get(item.op);
      this.pending.delete(item.op);
      p?.reject(kerr('TransportFailed', `${p.what}: ${(e as Error).message}`, e));
      return;
    }
    if (rc === this.eagain) {
      this.backlog.push(item);
      this.armBacklog();
    }
  }

  // Queue full / connection not yet up: retry after completions or on a short timer.
  private armBacklog(): void {
    if (this.backlogTimer !== null || this.state !== 'open') return;
    this.backlogTimer = setTimeout(() => {
      this.backlogTimer = null;
      this.flushBacklog();
    }, 1);
  }

  private flushBacklog(): void {
    const items = this.backlog.splice(0);
    for (const item of items) {
      if (this.state !== 'open') return;
      this.tryPost(item);
    }
  }

  private postRecv(buf: Buffer, mr: MemoryRegion | null = null): void {
    const region = mr ?? (this.info.mrLocal ? this.register(buf, 'local') : null);
    const op = this.opId();
    this.recvRing.set(op, { buf, mr: region });
    this.tryPostRecv(op);
  }

  private tryPostRecv(op: number): void {
    const slot = this.recvRing.get(op);
    if (slot === undefined || this.state !== 'open') return;
    const rc = this.ep.recv(slot.buf, slot.mr?.id ?? null, op);
    if (rc === this.eagain) setTimeout(() => this.tryPostRecv(op), 1);
  }

  private onEvents(ev: number[]): void {
    for (let i = 0; i < ev.length; i += 3) {
      const op = ev[i]!;
      const status = ev[i + 1]!;
      const len = ev[i + 2]!;
      const slot = this.recvRing.get(op);
      if (slot !== undefined) {
        this.recvRing.delete(op);
        if (status === 0) {
          try {
            this.opts.onMessage(slot.buf.subarray(0, len));
          } catch (e) {
            process.emitWarning(`fabric message handler threw: ${(e as Error).message}`);
          }
        }
        if (this.state === 'open') this.postRecv(slot.buf, slot.mr);
        continue;
      }
      const p = this.pending.get(op);
      if (p === undefined) continue;
      this.pending.delete(op);
      if (status === 0) p.resolve();
      else p.reject(kerr('TransportFailed', `${p.what} completed with ${fiErrorName(status)}`));
    }
    if (this.backlog.length > 0) this.flushBacklog();
  }
}

/**
 * Opens a channel in the mode this process uses on the wire (fabric-protocol.ts wireMode): RMA when
 * the provider grants FI_RMA, else the inline send/recv path with big receive buffers.
 */
export function openWireChannel(
  base: Omit<FabricChannelOptions, 'rma' | 'recvSize' | 'recvDepth'>,
  wireMode: (providerHasRma: boolean) => { rma: boolean; recvSize: number; recvDepth: number },
): { channel: FabricChannel; rma: boolean } {
  const want = wireMode(true);
  if (want.rma) {
    try {
      const channel = new FabricChannel({ ...base, ...want });
      if (channel.info.rma) return { channel, rma: true };
      channel.close();
    } catch {
      // the provider refused FI_RMA: fall through to send/recv
    }
  }
  const mode = wireMode(false);
  return { channel: new FabricChannel({ ...base, ...mode }), rma: false };
}

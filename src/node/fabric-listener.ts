// kiseki-node's libfabric listener (DESIGN D5): an FI_EP_RDM endpoint that serves sealed chunks from
// a ChunkStore to clients holding a session token issued over mTLS gRPC (OpenFabricSession). The
// fabric carries no TLS: chunks are sealed, and the token binds each request to the tenant that the
// mTLS certificate authenticated, so a tenant can never be served another tenant's chunk.
// Imports only the transport's leaf modules (native binding and wire format), never client code.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { kerr, KisekiError } from '../errors.js';
import { Envelope } from '../gen/kiseki/v1/chunk.js';
import type { OpenFabricSessionRequest, OpenFabricSessionResponse } from '../gen/kiseki/v1/chunk_data.js';
import { TransportKind, type NodeInfo } from '../gen/kiseki/v1/discovery.js';
import { openWireChannel, type FabricChannel, type MemoryRegion } from '../transport/fabric-binding.js';
import * as P from '../transport/fabric-protocol.js';
import type { FabricSessionIssuer } from './chunk-data-service.js';
import { canLease, ChunkReadPool, type EnvelopeLease } from './chunk-read-pool.js';
import type { ChunkStore } from './chunk-store.js';
import type { EndpointSource } from './cluster.js';
import { envelopeOf, MAX_CHUNK_BYTES } from './validate.js';

export interface FabricListenerOptions {
  /** libfabric provider name asked for (cxi, verbs, tcp, net, sockets …). */
  provider: string;
  /** Address to bind: the node's fabric-facing IP. */
  host: string;
  /** Port; '0' picks one (the address advertised in discovery carries it). */
  port?: string;
  store: ChunkStore;
  /** A session unused this long is forgotten (OpenFabricSessionResponse.idle_ms). */
  idleMs?: number;
  /** A window a client never released is deregistered after this long. */
  windowMs?: number;
}

interface Exposed {
  mr: MemoryRegion;
  /** Held so the registered memory stays alive as long as the registration. */
  buf: Buffer;
  /** Gives a pooled read buffer back to its session's pool. */
  lease: EnvelopeLease;
}

/** Free read buffers a session keeps (one GET batch of the client, 4 MiB each); dropped when the session goes quiet. */
const SESSION_FREE_BUFFERS = 16;
/** A session with no windows and no request for this long drops its free read buffers. */
const SESSION_POOL_IDLE_MS = 30_000;

interface Windows {
  regions: Exposed[];
  timer: NodeJS.Timeout;
}

interface Session {
  id: number;
  tenant: string;
  token: Buffer;
  peer: number | null;
  lastUsed: number;
  windows: Map<number, Windows>;
  /**
   * Read buffers of this session's GETs. Per session, so a buffer only ever goes from one of this
   * tenant's chunks to another (I-RP3), and only after the client's RELEASE (never after a window
   * timed out: a read may still be in flight). The bulk stream's pool is per listener: there the
   * node itself writes the bytes and knows when the socket is done with them.
   */
  reads: ChunkReadPool;
}

export interface FabricSessionGrant {
  token: Buffer;
  nodeFabricAddress: Buffer;
  provider: string;
  idleMs: number;
}

export class FabricListener {
  readonly provider: string;
  readonly address: Buffer;
  private readonly channel: FabricChannel;
  private readonly rma: boolean;
  private readonly sessions = new Map<number, Session>();
  private readonly idleMs: number;
  private readonly windowMs: number;
  private readonly sweeper: NodeJS.Timeout;
  private nextSession = 1;
  private state: 'serving' | 'closed' = 'serving';

  constructor(private readonly opts: FabricListenerOptions) {
    this.idleMs = opts.idleMs ?? 10 * 60_000;
    this.windowMs = opts.windowMs ?? 60_000;
    const { channel, rma } = openWireChannel(
      { provider: opts.provider, host: opts.host, port: opts.port ?? '0', onMessage: (msg) => this.onMessage(msg) },
      (hasRma) => P.wireMode(hasRma),
    );
    this.channel = channel;
    this.rma = rma;
    this.channel.setKeepAlive(true);
    this.provider = channel.info.provider;
    this.address = channel.address();
    this.sweeper = setInterval(() => this.sweep(), Math.min(this.idleMs, 30_000));
    this.sweeper.unref();
  }

  /** Called by OpenFabricSession once mTLS has authenticated `tenant`. */
  openSession(tenant: string, provider?: string): FabricSessionGrant {
    if (this.state !== 'serving') throw kerr('Unavailable', 'the fabric listener is closed');
    if (provider !== undefined && provider !== '' && provider !== this.provider) {
      throw kerr('InvalidArgument', `client probed provider '${provider}' but this node serves '${this.provider}'`);
    }
    const id = this.nextSession++;
    const token = randomBytes(P.TOKEN_SIZE);
    this.sessions.set(id, { id, tenant, token, peer: null, lastUsed: Date.now(), windows: new Map(), reads: new ChunkReadPool(undefined, SESSION_FREE_BUFFERS) });
    return { token, nodeFabricAddress: this.address, provider: this.provider, idleMs: this.idleMs };
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Per session: its tenant and how its read buffers were used (tests, diagnostics). */
  readStats(): { session: number; tenant: string; leased: number; reused: number; free: number }[] {
    return [...this.sessions.values()].map((s) => ({ session: s.id, tenant: s.tenant, ...s.reads.stats, free: s.reads.freeCount }));
  }

  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearInterval(this.sweeper);
    for (const s of this.sessions.values()) this.dropWindows(s);
    this.sessions.clear();
    this.channel.close();
  }

  private onMessage(msg: Buffer): void {
    let h: P.Header;
    try {
      h = P.readHeader(msg);
    } catch {
      return; // not ours: nobody to answer
    }
    if (h.op === P.Op.Hello) return this.onHello(h, msg);
    const s = this.sessions.get(h.session);
    if (s === undefined || s.peer === null) return; // unknown session: no address to answer to
    if (!timingSafeEqual(s.token, h.token)) {
      this.reply(s, P.encodeReply(this.replyOp(h.op), h.reqId, P.Status.Denied, s.id, 0, 'bad session token'));
      return;
    }
    s.lastUsed = Date.now();
    switch (h.op) {
      case P.Op.Get: {
        let ids: Buffer[];
        try {
          ids = P.decodeGetIds(msg);
        } catch (e) {
          this.reply(s, P.encodeReply(P.Op.GetReply, h.reqId, P.Status.Invalid, s.id, 0, (e as Error).message));
          return;
        }
        return void this.onGet(s, h, ids);
      }
      case P.Op.Put:
        return void this.onPut(s, h, msg);
      case P.Op.Release:
        return this.release(s, h.reqId, true);
      default:
        return;
    }
  }

  private replyOp(op: P.Op): P.Op {
    return op === P.Op.Put ? P.Op.PutReply : op === P.Op.Get ? P.Op.GetReply : P.Op.HelloReply;
  }

  // The token in HELLO's header names the session OpenFabricSession created; HELLO tells us where
  // the client's endpoint is so replies can reach it.
  private onHello(h: P.Header, msg: Buffer): void {
    let address: Buffer;
    try {
      address = P.decodeHelloAddress(msg);
    } catch {
      return;
    }
    const s = [...this.sessions.values()].find((x) => timingSafeEqual(x.token, h.token));
    if (s === undefined) return; // no session: we cannot know the tenant, stay silent
    if (s.peer !== null) this.channel.removePeer(s.peer);
    try {
      s.peer = this.channel.insertPeer(address);
    } catch {
      return;
    }
    s.lastUsed = Date.now();
    this.reply(s, P.encodeHelloReply(h.reqId, P.Status.Ok, s.id, this.rma ? 0 : P.FLAG_INLINE));
  }

  private async onGet(s: Session, h: P.Header, ids: Buffer[]): Promise<void> {
    try {
      if (!this.rma) {
        if (ids.length !== 1) throw kerr('InvalidArgument', 'inline mode serves one chunk per GET');
        const env = await this.opts.store.get(s.tenant, ids[0]!);
        if (env === null) {
          this.reply(s, P.encodeReply(P.Op.GetReply, h.reqId, P.Status.NotFound, s.id, 0, `chunk ${ids[0]!.toString('hex')} not found`));
        } else {
          this.reply(s, P.encodeGetReplyInline(h.reqId, s.id, Envelope.encode(env).finish()));
        }
        return;
      }
      const leases = await Promise.all(ids.map((id) => this.read(s, id)));
      // Zero-copy: each stored ciphertext itself is a window the client reads; heads go inline.
      // Whatever does not fit one control message is answered Later (the client asks again).
      this.release(s, h.reqId, false);
      const exposed: Exposed[] = [];
      const entries: P.GetEntry[] = [];
      let size = P.HEADER_SIZE + 1;
      for (const lease of leases) {
        let entry: P.GetEntry;
        if (lease === null) entry = { status: P.Status.NotFound };
        else {
          const { head, ciphertext } = P.splitEnvelope(lease.envelope);
          if (size + 1 + 24 + 2 + head.length > P.CONTROL_SIZE) {
            entry = { status: P.Status.Later };
            lease.release(); // never exposed
          } else {
            const mr = this.channel.register(ciphertext, 'remote-read');
            exposed.push({ mr, buf: ciphertext, lease });
            entry = { status: P.Status.Ok, window: { len: ciphertext.length, addr: mr.addr, key: mr.key }, head };
          }
        }
        size += P.getEntrySize(entry);
        entries.push(entry);
      }
      if (exposed.length > 0) {
        const timer = setTimeout(() => this.release(s, h.reqId, false), this.windowMs);
        timer.unref();
        s.windows.set(h.reqId, { regions: exposed, timer });
      }
      this.reply(s, P.encodeGetReplyRma(h.reqId, s.id, entries));
    } catch (e) {
      const status = KisekiError.is(e, 'InvalidArgument') ? P.Status.Invalid : P.Status.Failed;
      this.reply(s, P.encodeReply(P.Op.GetReply, h.reqId, status, s.id, 0, (e as Error).message));
    }
  }

  private async onPut(s: Session, h: P.Header, msg: Buffer): Promise<void> {
    try {
      const chunkId = P.decodeChunkId(msg);
      const at = P.HEADER_SIZE + 1 + chunkId.length;
      let env: Envelope;
      if ((h.flags & P.FLAG_INLINE) !== 0) {
        env = Envelope.decode(P.readInline(msg, at));
      } else {
        const w = P.readWindow(msg, at, P.MAX_CIPHERTEXT);
        const head = P.readHead(msg, at + 24);
        const ciphertext = Buffer.allocUnsafe(w.len);
        await this.channel.read(s.peer!, ciphertext, w.addr, w.key);
        env = P.joinEnvelope(head, ciphertext);
      }
      envelopeOf(env, 'envelope', MAX_CHUNK_BYTES); // the same checks as the gRPC path
      if (!Buffer.from(env.chunkId!.value).equals(chunkId)) {
        throw kerr('InvalidArgument', 'envelope.chunk_id: differs from the chunk id the PUT names');
      }
      const outcome = await this.opts.store.put(s.tenant, env);
      const code = outcome === 'deduplicated' ? P.PutOutcomeCode.Deduplicated : P.PutOutcomeCode.Stored;
      this.reply(s, P.encodePutReply(h.reqId, s.id, P.Status.Ok, code));
    } catch (e) {
      const status = KisekiError.is(e, 'NoSpace') ? P.Status.NoSpace : KisekiError.is(e, 'InvalidArgument') ? P.Status.Invalid : P.Status.Failed;
      this.reply(s, P.encodePutReply(h.reqId, s.id, status, P.PutOutcomeCode.Stored, (e as Error).message));
    }
  }

  /** The chunk, in a buffer of the session's pool when the store can read into one. */
  private async read(s: Session, id: Buffer): Promise<EnvelopeLease | null> {
    const store = this.opts.store;
    if (canLease(store)) return store.getLeased(s.tenant, id, s.reads);
    const envelope = await store.get(s.tenant, id);
    return envelope === null ? null : { envelope, release: () => undefined };
  }

  /**
   * Closes a GET's windows. `byClient`: the client's RELEASE says its reads are done, so the read
   * buffers go back to the session's pool; otherwise (timeout, request id reused, session dropped)
   * they are left to the GC — an fi_read may still be copying out of them.
   */
  private release(s: Session, reqId: number, byClient: boolean): void {
    const w = s.windows.get(reqId);
    if (w === undefined) return;
    clearTimeout(w.timer);
    for (const r of w.regions) this.channel.deregister(r.mr);
    s.windows.delete(reqId);
    if (byClient) for (const r of w.regions) r.lease.release();
  }

  private dropWindows(s: Session): void {
    for (const reqId of [...s.windows.keys()]) this.release(s, reqId, false);
  }

  private reply(s: Session, msg: Buffer): void {
    if (this.state !== 'serving' || s.peer === null) return;
    this.channel.send(s.peer, msg).catch(() => {
      // The client is gone; its requests time out on its side and the session ages out here.
    });
  }

  private sweep(): void {
    const now = Date.now();
    for (const s of [...this.sessions.values()]) {
      if (s.windows.size === 0 && now - s.lastUsed > SESSION_POOL_IDLE_MS) s.reads.clear();
      if (now - s.lastUsed > this.idleMs) {
        this.dropWindows(s);
        if (s.peer !== null) this.channel.removePeer(s.peer);
        this.sessions.delete(s.id);
      }
    }
  }
}

/**
 * kiseki-node's fabric endpoint as the node's services see it: issues OpenFabricSession tokens
 * (FabricSessionIssuer) and advertises the endpoint in discovery (EndpointSource). States:
 * stopped ⇄ listening. stop() closes the listener (clients fail over to TCP+TLS; kiseki-node does
 * this on SIGUSR1 for fabric maintenance) and start() reopens it on the same address (SIGUSR2), so
 * clients that re-probe find it where discovery said it was.
 */
export class NodeFabric implements FabricSessionIssuer, EndpointSource {
  private listener: FabricListener | null = null;
  private port: string;

  constructor(private readonly opts: FabricListenerOptions & { nodeId: number }) {
    this.port = opts.port ?? '0';
  }

  get listening(): boolean {
    return this.listener !== null;
  }

  /** The listening endpoint's provider and address (null while stopped). */
  get endpoint(): { provider: string; address: Buffer } | null {
    return this.listener ? { provider: this.listener.provider, address: this.listener.address } : null;
  }

  start(): void {
    if (this.listener) return;
    this.listener = new FabricListener({ ...this.opts, port: this.port });
    // Reopen on the very port discovery advertises (sockaddr_in: port in bytes 2–3, big-endian).
    if (this.listener.address.length >= 4 && this.listener.address.readUInt16LE(0) === 2) {
      this.port = String(this.listener.address.readUInt16BE(2));
    }
  }

  stop(): void {
    this.listener?.close();
    this.listener = null;
  }

  async open(tenant: string, req: OpenFabricSessionRequest): Promise<OpenFabricSessionResponse> {
    if (!this.listener) throw kerr('Unavailable', 'the fabric endpoint is down for maintenance; use the gRPC chunk path');
    const g = this.listener.openSession(tenant, req.provider);
    return { token: g.token, nodeFabricAddress: g.nodeFabricAddress, provider: g.provider, idleMs: g.idleMs };
  }

  fabricEndpoints(nodeId: number): NodeInfo['endpoints'] {
    if (nodeId !== this.opts.nodeId || !this.listener) return [];
    return [{ kind: TransportKind.TRANSPORT_KIND_FABRIC, address: '', provider: this.listener.provider, fabricAddress: this.listener.address }];
  }
}

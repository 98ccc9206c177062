// kiseki-node's libfabric listener (DESIGN D5): an FI_EP_RDM endpoint that serves sealed chunks from
// a ChunkStore to clients holding a session token issued over mTLS gRPC (OpenFabricSession). The
// fabric carries no TLS: chunks are sealed, and the token binds each request to the tenant that the
// mTLS certificate authenticated, so a tenant can never be served another tenant's chunk.
// Imports only the transport's leaf modules (native binding and wire format), never client code.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { kerr, KisekiError } from '../errors.js';
import { Envelope } from '../gen/kiseki/v1/chunk.js';
import { openWireChannel, type FabricChannel, type MemoryRegion } from '../transport/fabric-binding.js';
import * as P from '../transport/fabric-protocol.js';
import type { ChunkStore } from './chunk-store.js';

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
  buf: Buffer;
  timer: NodeJS.Timeout;
}

interface Session {
  id: number;
  tenant: string;
  token: Buffer;
  peer: number | null;
  lastUsed: number;
  windows: Map<number, Exposed>;
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
    this.sessions.set(id, { id, tenant, token, peer: null, lastUsed: Date.now(), windows: new Map() });
    return { token, nodeFabricAddress: this.address, provider: this.provider, idleMs: this.idleMs };
  }

  get sessionCount(): number {
    return this.sessions.size;
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
      case P.Op.Get:
        return void this.onGet(s, h, P.decodeChunkId(msg));
      case P.Op.Put:
        return void this.onPut(s, h, msg);
      case P.Op.Release:
        return this.release(s, h.reqId);
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

  private async onGet(s: Session, h: P.Header, chunkId: Buffer): Promise<void> {
    try {
      const env = await this.opts.store.get(s.tenant, chunkId);
      if (env === null) {
        this.reply(s, P.encodeReply(P.Op.GetReply, h.reqId, P.Status.NotFound, s.id, 0, `chunk ${chunkId.toString('hex')} not found`));
        return;
      }
      if (!this.rma) {
        this.reply(s, P.encodeGetReplyInline(h.reqId, s.id, Envelope.encode(env).finish()));
        return;
      }
      // Zero-copy: the stored ciphertext itself is the window the client reads; the head is inline.
      const { head, ciphertext } = P.splitEnvelope(env);
      const mr = this.channel.register(ciphertext, 'remote-read');
      this.release(s, h.reqId);
      const timer = setTimeout(() => this.release(s, h.reqId), this.windowMs);
      timer.unref();
      s.windows.set(h.reqId, { mr, buf: ciphertext, timer });
      this.reply(s, P.encodeGetReplyRma(h.reqId, s.id, { len: ciphertext.length, addr: mr.addr, key: mr.key }, head));
    } catch (e) {
      this.reply(s, P.encodeReply(P.Op.GetReply, h.reqId, P.Status.Failed, s.id, 0, (e as Error).message));
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
      const id = env.chunkId?.value;
      if (id === undefined || !Buffer.from(id).equals(chunkId)) {
        throw kerr('Integrity', 'PUT envelope does not carry the chunk id it was sent under');
      }
      const outcome = await this.opts.store.put(s.tenant, env);
      const code = outcome === 'deduplicated' ? P.PutOutcomeCode.Deduplicated : P.PutOutcomeCode.Stored;
      this.reply(s, P.encodePutReply(h.reqId, s.id, P.Status.Ok, code));
    } catch (e) {
      const status = KisekiError.is(e, 'NoSpace') ? P.Status.NoSpace : P.Status.Failed;
      this.reply(s, P.encodePutReply(h.reqId, s.id, status, P.PutOutcomeCode.Stored, (e as Error).message));
    }
  }

  private release(s: Session, reqId: number): void {
    const w = s.windows.get(reqId);
    if (w === undefined) return;
    clearTimeout(w.timer);
    this.channel.deregister(w.mr);
    s.windows.delete(reqId);
  }

  private dropWindows(s: Session): void {
    for (const reqId of [...s.windows.keys()]) this.release(s, reqId);
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
      if (now - s.lastUsed > this.idleMs) {
        this.dropWindows(s);
        if (s.peer !== null) this.channel.removePeer(s.peer);
        this.sessions.delete(s.id);
      }
    }
  }
}

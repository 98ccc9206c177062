// The client side of the libfabric chunk path (DESIGN D5): one FI_EP_RDM endpoint per process and
// provider (FabricClientEndpoint), shared by one FabricChunkTransport per node session. A GET asks the
// node for a chunk; the node registers the sealed envelope and answers with an RMA window which we
// fi_read into our own buffer, then RELEASE it. Providers without FI_RMA get the envelope inline.
// Nothing here decrypts: envelopes are sealed; a reply that does not carry the requested chunk id is
// an Integrity error, never data.
import dgram from 'node:dgram';
import { kerr, KisekiError } from '../errors.js';
import { Envelope } from '../gen/kiseki/v1/chunk.js';
import { openWireChannel, type FabricChannel } from './fabric-binding.js';
import * as P from './fabric-protocol.js';
import { fabricReadWindowBytes, ReadWindow } from './fabric-read-window.js';
import { dropUnseen, Handoff, type EachChunkTransport, type OnChunk } from './chunk-handoff.js';
import { receiveBuffers } from './receive-buffers.js';
import type { TransportName } from './transport.js';

/** What OpenFabricSession (gRPC over mTLS) returns. */
export interface FabricSessionGrant {
  token: Buffer;
  nodeFabricAddress: Buffer;
  provider: string;
}

/** Obtains a session token for this client's fabric address (the gRPC OpenFabricSession call). */
export type OpenFabricSession = (req: { provider: string; clientFabricAddress: Buffer }) => Promise<FabricSessionGrant>;

interface Waiter {
  session: number;
  resolve(msg: Buffer): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/** Default time a fabric request may take before it counts as a transport failure. */
export function fabricTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.KISEKI_FABRIC_TIMEOUT_MS ?? 5000);
  if (!Number.isFinite(v) || v < 10) throw kerr('InvalidArgument', `KISEKI_FABRIC_TIMEOUT_MS=${env.KISEKI_FABRIC_TIMEOUT_MS} must be ≥ 10`);
  return v;
}

/** The IPv4 address of a raw FI_SOCKADDR_IN fabric address (struct sockaddr_in), or null. */
export function sockaddrIn(address: Buffer): { host: string; port: number } | null {
  if (address.length < 8 || address.readUInt16LE(0) !== 2) return null;
  return { host: `${address[4]}.${address[5]}.${address[6]}.${address[7]}`, port: address.readUInt16BE(2) };
}

/** The local IPv4 address the kernel would use to reach `host` (no packet is sent). */
export async function localAddressFor(host: string): Promise<string> {
  const s = dgram.createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.connect(9, host, () => resolve());
    });
    return s.address().address;
  } finally {
    s.close();
  }
}

/** One client endpoint per (provider, local address), shared by every node session. */
export class FabricClientEndpoint {
  readonly provider: string;
  readonly rma: boolean;
  readonly channel: FabricChannel;
  private readonly waiting = new Map<number, Waiter>();
  private nextReq = 1;
  private state: 'open' | 'closed' = 'open';

  constructor(provider: string, host: string) {
    const { channel, rma } = openWireChannel(
      { provider, host, port: '0', onMessage: (msg) => this.onMessage(msg) },
      (hasRma) => P.wireMode(hasRma),
    );
    this.channel = channel;
    this.rma = rma;
    this.provider = channel.info.provider;
  }

  address(): Buffer {
    return this.channel.address();
  }

  reqId(): number {
    const id = this.nextReq;
    this.nextReq = this.nextReq >= 0xffffffff ? 1 : this.nextReq + 1;
    return id;
  }

  /** Sends a request and resolves with a copy of its reply (matched by request and session id). */
  request(peer: number, session: number, reqId: number, msg: Buffer, timeoutMs: number, signal?: AbortSignal): Promise<Buffer> {
    if (this.state !== 'open') return Promise.reject(kerr('Closed', 'fabric client endpoint closed'));
    return new Promise<Buffer>((resolve, reject) => {
      const fail = (err: Error): void => {
        if (!this.waiting.delete(reqId)) return;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        reject(err);
      };
      const onAbort = (): void => fail(kerr('Unavailable', 'fabric request aborted'));
      const timer = setTimeout(() => fail(kerr('TransportFailed', `fabric request ${reqId} got no reply within ${timeoutMs} ms`)), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.set(reqId, {
        session,
        timer,
        resolve: (m) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(m);
        },
        reject: fail,
      });
      this.channel.send(peer, msg).catch(fail);
    });
  }

  /** Fire-and-forget message (RELEASE). */
  notify(peer: number, msg: Buffer): void {
    if (this.state === 'open') this.channel.send(peer, msg).catch(() => undefined);
  }

  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    for (const w of this.waiting.values()) {
      clearTimeout(w.timer);
      w.reject(kerr('Closed', 'fabric client endpoint closed'));
    }
    this.waiting.clear();
    this.channel.close();
  }

  private onMessage(msg: Buffer): void {
    let h: P.Header;
    try {
      h = P.readHeader(msg);
    } catch {
      return;
    }
    const w = this.waiting.get(h.reqId);
    if (w === undefined || (h.op !== P.Op.HelloReply && w.session !== h.session)) return;
    this.waiting.delete(h.reqId);
    clearTimeout(w.timer);
    w.resolve(Buffer.from(msg)); // the receive buffer is reposted as soon as we return
  }
}

const endpoints = new Map<string, Promise<FabricClientEndpoint>>();

/** The shared client endpoint for `provider` on the local address that routes to `nodeHost`. */
export function clientEndpointFor(provider: string, nodeHost: string): Promise<FabricClientEndpoint> {
  const fixed = process.env.KISEKI_FABRIC_HOST;
  const key = `${provider}|${fixed ?? nodeHost}|${process.env.KISEKI_FABRIC_RMA ?? ''}`;
  let ep = endpoints.get(key);
  if (ep === undefined) {
    ep = (async () => new FabricClientEndpoint(provider, fixed ?? (await localAddressFor(nodeHost))))();
    ep.catch(() => endpoints.delete(key));
    endpoints.set(key, ep);
  }
  return ep;
}

/** Closes every shared client endpoint (process shutdown, tests). */
export async function closeClientEndpoints(): Promise<void> {
  const all = [...endpoints.values()];
  endpoints.clear();
  for (const p of all) (await p.catch(() => null))?.close();
}

export interface FabricChunkTransportOptions {
  name: Exclude<TransportName, 'tcp-tls'>;
  /** The provider the probe chose (as passed to fi_getinfo: cxi, verbs, tcp, net …). */
  provider: string;
  /** The node's advertised fabric address (discovery TransportEndpoint.fabric_address). */
  nodeFabricAddress: Buffer;
  openSession: OpenFabricSession;
  timeoutMs?: number;
  /** Chunks in flight per call. */
  window?: number;
  /** Bytes of fi_reads in flight towards the node (default KISEKI_FABRIC_READ_WINDOW_MIB, 16 MiB). */
  readWindowBytes?: number;
}

interface Live {
  ep: FabricClientEndpoint;
  peer: number;
  session: number;
  token: Buffer;
  inline: boolean;
  reads: ReadWindow;
}

/** ChunkTransport to one node over libfabric. States: idle → connecting → live → (reset) idle; closed. */
export class FabricChunkTransport implements EachChunkTransport {
  readonly name: Exclude<TransportName, 'tcp-tls'>;
  private readonly timeoutMs: number;
  private readonly window: number;
  private live: Promise<Live> | null = null;
  private closed = false;
  /** Bytes of sealed envelopes moved (for metrics). */
  bytesIn = 0;
  bytesOut = 0;

  constructor(private readonly opts: FabricChunkTransportOptions) {
    this.name = opts.name;
    this.timeoutMs = opts.timeoutMs ?? fabricTimeoutMs();
    this.window = opts.window ?? 8;
    if (sockaddrIn(opts.nodeFabricAddress) === null && process.env.KISEKI_FABRIC_HOST === undefined) {
      throw kerr('InvalidArgument', 'node fabric address is not an IPv4 sockaddr; set KISEKI_FABRIC_HOST to the local fabric address');
    }
  }

  async getChunks(chunkIds: readonly Buffer[], signal?: AbortSignal): Promise<Envelope[]> {
    const out = new Array<Envelope>(chunkIds.length);
    try {
      await this.getEach(chunkIds, (i, env) => (out[i] = env), signal);
    } catch (err) {
      dropUnseen(out); // the caller never sees them
      throw err;
    }
    return out;
  }

  /** Hands each chunk on as its fi_read settles (chunk-handoff.ts: I-HO1, I-HO2; ADR 0036). */
  async getEach(chunkIds: readonly Buffer[], onChunk: OnChunk, signal?: AbortSignal): Promise<void> {
    const h = new Handoff(chunkIds.length, onChunk);
    // I-HO2: an abort ends the handing on at once, not when the reads in flight have landed.
    const onAbort = (): void => h.fail(kerr('Unavailable', 'fabric request aborted'));
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const l = await this.session(signal);
      // RMA: up to MAX_GET_BATCH ids per GET (one round trip, then the reads in parallel), two GETs
      // in flight so the next batch's reply overlaps this batch's reads. Inline: one chunk per GET.
      const batch = l.inline ? 1 : Math.min(P.MAX_GET_BATCH, 16);
      const starts: number[] = [];
      for (let i = 0; i < chunkIds.length; i += batch) starts.push(i);
      await this.each(starts.length, l.inline ? this.window : 2, async (b) => {
        if (h.failed) return;
        const index = Array.from({ length: Math.min(batch, chunkIds.length - starts[b]!) }, (_v, k) => starts[b]! + k);
        await this.getBatch(index.map((i) => chunkIds[i]!), index, h, signal).catch((err: unknown) => h.fail(err));
      });
    } catch (err) {
      h.fail(err);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    h.settle();
  }

  async putChunks(envelopes: readonly Envelope[], signal?: AbortSignal): Promise<void> {
    await this.each(envelopes.length, this.window, (i) => this.putOne(envelopes[i]!, signal));
  }

  /** Forgets the session (and the node's AV entry): the next call opens a fresh one. */
  async reset(): Promise<void> {
    const live = this.live;
    this.live = null;
    const l = await live?.catch(() => null);
    if (l) l.ep.channel.removePeer(l.peer);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.reset();
  }

  /** Opens the session now (used by health re-probes). */
  async connect(signal?: AbortSignal): Promise<void> {
    await this.session(signal);
  }

  private async each(n: number, width: number, fn: (i: number) => Promise<void>): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < n) await fn(next++);
    };
    await Promise.all(Array.from({ length: Math.min(width, n) }, worker));
  }

  private session(signal?: AbortSignal): Promise<Live> {
    if (this.closed) return Promise.reject(kerr('Closed', `${this.name} transport closed`));
    if (this.live === null) {
      const p = this.hello(signal);
      this.live = p;
      p.catch(() => {
        if (this.live === p) this.live = null;
      });
    }
    return this.live;
  }

  private async hello(signal?: AbortSignal): Promise<Live> {
    const node = sockaddrIn(this.opts.nodeFabricAddress);
    const ep = await clientEndpointFor(this.opts.provider, node?.host ?? '127.0.0.1');
    const grant = await this.opts.openSession({ provider: ep.provider, clientFabricAddress: ep.address() });
    if (grant.token.length !== P.TOKEN_SIZE) throw kerr('TransportFailed', `fabric session token of ${grant.token.length} bytes`);
    const peer = ep.channel.insertPeer(grant.nodeFabricAddress);
    try {
      const reqId = ep.reqId();
      const reply = await ep.request(peer, 0, reqId, P.encodeHello(reqId, grant.token, ep.address()), this.timeoutMs, signal);
      const h = P.readHeader(reply);
      if (h.op !== P.Op.HelloReply || h.status !== P.Status.Ok) {
        throw kerr('TransportFailed', `node refused the fabric session: ${P.replyDetail(reply) || P.Status[h.status]}`);
      }
      const inline = (h.flags & P.FLAG_INLINE) !== 0;
      if (inline === ep.rma) {
        throw kerr('TransportFailed', `fabric mode mismatch: node moves envelopes ${inline ? 'inline' : 'by RMA'}, this client ${ep.rma ? 'by RMA' : 'inline'}`);
      }
      return { ep, peer, session: h.session, token: grant.token, inline, reads: new ReadWindow(this.opts.readWindowBytes ?? fabricReadWindowBytes()) };
    } catch (e) {
      ep.channel.removePeer(peer);
      throw e;
    }
  }

  /**
   * One GET for `ids` (one id in inline mode), chunk `ids[k]` handed on as chunk `index[k]` of the
   * call; chunks answered Later are asked for again.
   */
  private async getBatch(ids: readonly Buffer[], index: readonly number[], h: Handoff, signal?: AbortSignal): Promise<void> {
    const l = await this.session(signal);
    const reqId = l.ep.reqId();
    const what = ids.length === 1 ? `chunk ${ids[0]!.toString('hex')}` : `${ids.length} chunks`;
    const reply = await l.ep.request(l.peer, l.session, reqId, P.encodeGet({ reqId, session: l.session, token: l.token }, ids), this.timeoutMs, signal);
    const h0 = P.readHeader(reply);
    if (h0.op !== P.Op.GetReply) throw kerr('Integrity', `fabric GET answered with op ${h0.op}`);
    this.throwStatus(h0.status, reply, what);
    if ((h0.flags & P.FLAG_INLINE) !== 0) {
      if (ids.length !== 1) throw kerr('Integrity', 'inline GET reply to a batched GET');
      const env = this.decode(P.readInline(reply, P.HEADER_SIZE), ids[0]!);
      this.checkId(env, ids[0]!);
      this.bytesIn += env.ciphertext.length;
      h.give(index[0]!, env);
      return;
    }
    const entries = P.decodeGetReplyRma(reply, ids.length, P.MAX_CIPHERTEXT);
    const later: number[] = [];
    try {
      // NotFound names the first missing chunk in request order, as the gRPC path does.
      const missing = entries.findIndex((e) => e.status === P.Status.NotFound);
      if (missing >= 0) throw kerr('NotFound', `chunk ${ids[missing]!.toString('hex')} is not stored on this node`);
      // I-FW2: every read of this GET settles before its RELEASE goes out (the node then closes the
      // windows and reuses the buffers); after a failure of the call, reads still waiting in the window
      // are not posted.
      await Promise.all(
        entries.map(async (e, k) => {
          try {
            if (e.status === P.Status.Later) return void later.push(k);
            if (e.status !== P.Status.Ok) throw kerr('TransportFailed', `node failed chunk ${ids[k]!.toString('hex')}: ${P.Status[e.status]}`);
            await l.reads.run(e.window.len, () => this.readOne(l, e, ids[k]!, index[k]!, h, signal));
          } catch (err) {
            h.fail(err);
          }
        }),
      );
    } finally {
      if (entries.some((e) => e.status === P.Status.Ok)) l.ep.notify(l.peer, P.encodeRelease({ reqId, session: l.session, token: l.token }));
    }
    if (later.length > 0 && !h.failed) await this.getBatch(later.map((k) => ids[k]!), later.map((k) => index[k]!), h, signal);
  }

  /**
   * One posted fi_read, run inside the read window. The receive buffer is taken when the read is
   * posted, not when it is queued, and the chunk is handed on before the window admits the next read:
   * a caller that recycles at once gives that read this same buffer, still warm in the cache (the
   * pool's free list is LIFO). A buffer whose read failed is never reused (the read may still land).
   */
  private async readOne(l: Live, e: Extract<P.GetEntry, { status: P.Status.Ok }>, chunkId: Buffer, index: number, h: Handoff, signal?: AbortSignal): Promise<void> {
    if (h.failed) return; // I-FW2: not posted after the call failed
    if (signal?.aborted) throw kerr('Unavailable', 'fabric request aborted');
    const ciphertext = receiveBuffers.take(e.window.len) ?? Buffer.allocUnsafe(e.window.len);
    await this.withTimeout(l.ep.channel.read(l.peer, ciphertext, e.window.addr, e.window.key), `fi_read of chunk ${chunkId.toString('hex')}`);
    const env = P.joinEnvelope(e.head, ciphertext);
    receiveBuffers.adopt(env, ciphertext);
    try {
      this.checkId(env, chunkId);
    } catch (err) {
      receiveBuffers.recycle(env);
      throw err;
    }
    this.bytesIn += ciphertext.length;
    if (!h.give(index, env)) receiveBuffers.recycle(env); // I-HO2: the call failed, nobody saw it
  }

  private async putOne(env: Envelope, signal?: AbortSignal): Promise<void> {
    const id = env.chunkId?.value;
    if (id === undefined || id.length === 0) throw kerr('InvalidArgument', 'envelope without a chunk id');
    const chunkId = Buffer.from(id);
    const l = await this.session(signal);
    const reqId = l.ep.reqId();
    const h0 = { reqId, session: l.session, token: l.token };
    let reply: Buffer;
    if (l.inline) {
      reply = await l.ep.request(l.peer, l.session, reqId, P.encodePutInline(h0, chunkId, Envelope.encode(env).finish()), this.timeoutMs, signal);
    } else {
      // The caller's ciphertext is registered as it is and read by the node: no copy here.
      const { head, ciphertext } = P.splitEnvelope(env);
      const mr = l.ep.channel.register(ciphertext, 'remote-read');
      try {
        reply = await l.ep.request(l.peer, l.session, reqId, P.encodePutRma(h0, chunkId, { len: ciphertext.length, addr: mr.addr, key: mr.key }, head), this.timeoutMs, signal);
      } finally {
        l.ep.channel.deregister(mr);
      }
    }
    const h = P.readHeader(reply);
    if (h.op !== P.Op.PutReply) throw kerr('Integrity', `fabric PUT answered with op ${h.op}`);
    this.throwStatus(h.status, reply, `chunk ${chunkId.toString('hex')}`);
    this.bytesOut += env.ciphertext.length;
  }

  private throwStatus(status: P.Status, reply: Buffer, what: string): void {
    const detail = P.replyDetail(reply);
    switch (status) {
      case P.Status.Ok:
        return;
      case P.Status.NotFound:
        throw kerr('NotFound', `${what} is not stored on this node`);
      case P.Status.NoSpace:
        throw kerr('NoSpace', `node is out of space storing ${what}: ${detail}`);
      case P.Status.Invalid:
        throw kerr('InvalidArgument', `node rejected ${what}: ${detail}`);
      case P.Status.Denied:
        this.live = null; // the token is no longer valid: reopen next time
        throw kerr('TransportFailed', `node denied the fabric session: ${detail}`);
      default:
        throw kerr('TransportFailed', `node failed ${what}: ${detail || P.Status[status]}`);
    }
  }

  private decode(bytes: Buffer, chunkId: Buffer): Envelope {
    try {
      return Envelope.decode(bytes);
    } catch (e) {
      throw kerr('Integrity', `undecodable envelope for chunk ${chunkId.toString('hex')}`, e);
    }
  }

  private checkId(env: Envelope, chunkId: Buffer): void {
    const got = env.chunkId?.value;
    if (got === undefined || !Buffer.from(got).equals(chunkId)) {
      throw kerr('Integrity', `node returned a different chunk than ${chunkId.toString('hex')}`);
    }
  }

  private withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout;
    const t = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(kerr('TransportFailed', `${what} did not complete within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    return Promise.race([p, t]).finally(() => clearTimeout(timer));
  }
}

/** True for errors that say the transport failed (fail over), false for answers (NotFound …). */
export function isTransportFailure(err: unknown): boolean {
  if (!KisekiError.is(err)) return true;
  return err.kind === 'TransportFailed' || err.kind === 'Closed' || err.kind === 'Internal';
}

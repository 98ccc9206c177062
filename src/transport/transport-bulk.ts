// ChunkTransport over the node's bulk chunk stream (ADR 0033): KSB1 frames (bulk-protocol.ts) on one
// raw connection per node — mTLS over TCP, or the node's bulk unix socket — beside the gRPC control
// plane. Many requests share the connection, matched by id. Envelopes arrive as the node stores them
// and are decoded as views of the received body (no second copy); PUTs go out as one writev of the
// envelope's parts. Any connection trouble rejects every request on it with TransportFailed, which the
// selector answers by retrying on gRPC; the next call (or a re-probe) dials afresh.
import { type Socket, connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { KisekiError, kerr } from '../errors.js';
import type { Envelope } from '../gen/kiseki/v1/chunk.js';
import { decodeEnvelopeView, encodeEnvelopeParts } from '../node/chunk-frames.js';
import { CHUNK_ID_BYTES, MAX_CHUNK_BYTES, envelopeOf } from '../node/validate.js';
import {
  BulkProtocolError, type Frame, FrameReader, MAX_BULK_GET_IDS, Op, errorOfStatus, writeEachBufferAlone, writeFrame,
} from './bulk-protocol.js';
import { receiveBuffers } from './receive-buffers.js';
import { stallTimeoutMs, type ChunkTransport } from './transport.js';

export interface BulkTls { ca: Buffer; cert: Buffer; key: Buffer }

export interface BulkTransportOptions {
  /** The node's STREAM endpoint: 'host:port' (mTLS) or 'unix:/path'. */
  address: string;
  /** Client certificate material for a TCP address (the gRPC channel's own); unused for unix. */
  tls: BulkTls | null;
  /** A connection with requests outstanding and no reply bytes for this long is dropped. */
  timeoutMs?: number;
  /** PUT requests one putChunks call keeps in flight (the node stores them in parallel). */
  putsInFlight?: number;
}

/** Requests one getChunks call is split into (when it has that many ids). */
const GET_SPLIT = 4;

interface Pending {
  op: Op;
  /** GET: envelopes by index; filled counts them. */
  out?: (Envelope | undefined)[];
  ids?: readonly Buffer[];
  filled: number;
  /** The caller gave up (abort, integrity): reply frames are still consumed, then dropped. */
  settled: boolean;
  /** Identifies the request to abandon() on abort. */
  tag?: object;
  resolve: (v: unknown) => void;
  reject: (e: KisekiError) => void;
}

type ConnState = 'connecting' | 'open' | 'broken';

/** One connection and its in-flight requests. */
class BulkConnection {
  state: ConnState = 'connecting';
  // CHUNK bodies that span reads land in the receive pool (recycled by the reader once opened).
  private readonly reader = new FrameReader('client', (h) => (h.op === Op.CHUNK ? receiveBuffers.take(h.length) : null));
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private lastProgress = Date.now();
  private readonly watchdog: NodeJS.Timeout;
  /** Settles once: connected (TLS handshake done), or the connection broke first. */
  readonly ready: Promise<void>;
  private settleReady: ((err: KisekiError | null) => void) | null = null;

  constructor(private readonly sock: Socket, private readonly timeoutMs: number) {
    this.ready = new Promise((resolve, reject) => {
      this.settleReady = (err) => { this.settleReady = null; if (err) reject(err); else resolve(); };
    });
    this.ready.catch(() => undefined);
    sock.once('encrypted' in sock ? 'secureConnect' : 'connect', () => {
      if (this.state !== 'connecting') return;
      this.state = 'open';
      this.lastProgress = Date.now();
      this.settleReady?.(null);
    });
    sock.setNoDelay?.(true);
    writeEachBufferAlone(sock);
    sock.on('data', (d: Buffer) => this.onData(d));
    sock.on('error', (err) => this.break(kerr('TransportFailed', `bulk stream: ${this.state === 'connecting' ? 'cannot connect: ' : ''}${err.message}`, err)));
    sock.on('close', () => this.break(kerr('TransportFailed', 'bulk stream: the node closed the connection')));
    // A connect or handshake that hangs, or requests with no reply bytes, end the connection.
    this.watchdog = setInterval(() => {
      if ((this.pending.size > 0 || this.state === 'connecting') && Date.now() - this.lastProgress > this.timeoutMs) {
        this.break(kerr('TransportFailed', `bulk stream: ${this.state === 'connecting' ? 'not connected' : 'no reply'} after ${this.timeoutMs} ms`));
      }
    }, Math.min(1000, this.timeoutMs)).unref();
  }

  /** Sends one request frame; the promise settles with its reply. */
  request<T>(op: Op, arg: number, parts: readonly Buffer[], extra: Partial<Pending> = {}): Promise<T> {
    if (this.state === 'broken') return Promise.reject(kerr('TransportFailed', 'bulk stream: connection is broken'));
    const id = this.nextId;
    this.nextId = (this.nextId + 1) >>> 0 || 1;
    if (this.pending.size === 0) this.lastProgress = Date.now();
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { op, filled: 0, settled: false, resolve: resolve as (v: unknown) => void, reject, ...extra });
      let length = 0;
      for (const p of parts) length += p.length;
      writeFrame(this.sock, { op, status: 0, id, arg, length }, parts);
    });
  }

  /** Marks a request abandoned: its remaining reply frames are consumed and dropped. */
  abandon(p: Pending | undefined, err: KisekiError): void {
    if (!p || p.settled) return;
    p.settled = true;
    p.reject(err);
  }

  pendingOf(promiseOwner: (p: Pending) => boolean): Pending | undefined {
    for (const p of this.pending.values()) if (promiseOwner(p)) return p;
    return undefined;
  }

  private onData(d: Buffer): void {
    this.lastProgress = Date.now();
    let frames: Frame[];
    try {
      frames = this.reader.push(d);
    } catch (err) {
      if (!(err instanceof BulkProtocolError)) throw err;
      return this.break(kerr('TransportFailed', `bulk stream: node sent a malformed frame: ${err.message}`));
    }
    for (const f of frames) {
      if (this.state === 'broken') return;
      this.onFrame(f);
    }
  }

  private onFrame(f: Frame): void {
    const p = this.pending.get(f.id);
    if (!p) return this.break(kerr('TransportFailed', `bulk stream: reply for unknown request ${f.id}`));
    const done = (): void => { this.pending.delete(f.id); };
    if (f.op === Op.ERROR) {
      done();
      if (!p.settled) { p.settled = true; p.reject(errorOfStatus(f.status, f.body.toString('utf8'))); }
      return;
    }
    const expected = p.op === Op.GET ? Op.CHUNK : p.op === Op.PUT ? Op.PUT_DONE : Op.PONG;
    if (f.op !== expected) return this.break(kerr('TransportFailed', `bulk stream: reply op 0x${f.op.toString(16)} to request op ${p.op}`));
    if (f.op !== Op.CHUNK) {
      done();
      if (!p.settled) { p.settled = true; p.resolve(f.arg); }
      return;
    }
    const ids = p.ids!;
    if (f.arg >= ids.length || p.out![f.arg] !== undefined) return this.break(kerr('TransportFailed', `bulk stream: chunk index ${f.arg} repeated or out of range`));
    let env: Envelope;
    try {
      env = envelopeOf(decodeEnvelopeView(f.body), 'envelope', MAX_CHUNK_BYTES);
    } catch (err) {
      return this.break(kerr('TransportFailed', `bulk stream: node sent a malformed envelope: ${(err as Error).message}`));
    }
    receiveBuffers.adopt(env, f.body);
    p.out![f.arg] = env;
    p.filled++;
    if (p.filled === ids.length) done();
    if (p.settled) return;
    // I-BS1: an envelope that does not carry the chunk id asked for is an Integrity error, never data.
    if (!env.chunkId!.value.equals(ids[f.arg]!)) {
      p.settled = true;
      p.reject(kerr('Integrity', `bulk stream: asked for chunk ${ids[f.arg]!.toString('hex')}, node sent ${env.chunkId!.value.toString('hex')}`));
      return;
    }
    if (p.filled === ids.length) { p.settled = true; p.resolve(p.out); }
  }

  /** Fails every request on this connection and drops it. Idempotent. */
  break(err: KisekiError): void {
    if (this.state === 'broken') return;
    this.state = 'broken';
    clearInterval(this.watchdog);
    this.settleReady?.(err);
    for (const p of this.pending.values()) if (!p.settled) { p.settled = true; p.reject(err); }
    this.pending.clear();
    this.sock.destroy();
  }

  /** Ends the connection politely once nothing is in flight. */
  end(): void {
    clearInterval(this.watchdog);
    this.settleReady?.(kerr('Closed', 'bulk stream: the transport was closed'));
    if (this.state !== 'broken') { this.state = 'broken'; this.sock.end(); }
  }
}

type TransportState = 'open' | 'closing' | 'closed';

export class BulkChunkTransport implements ChunkTransport {
  readonly name = 'stream' as const;
  private conn: BulkConnection | null = null;
  private state: TransportState = 'open';
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly timeoutMs: number;
  private readonly putsInFlight: number;

  constructor(private readonly opts: BulkTransportOptions) {
    this.timeoutMs = opts.timeoutMs ?? stallTimeoutMs();
    this.putsInFlight = Math.max(1, opts.putsInFlight ?? 8);
    if (!opts.address.startsWith('unix:') && opts.tls === null) throw kerr('InvalidArgument', `bulk stream ${opts.address} is TCP and needs TLS material`);
  }

  /** The live connection, dialling a new one when there is none or it broke. */
  private async connection(): Promise<BulkConnection> {
    if (this.conn === null || this.conn.state === 'broken') this.conn = new BulkConnection(this.dial(), this.timeoutMs);
    const c = this.conn;
    await c.ready;
    return c;
  }

  private dial(): Socket {
    const a = this.opts.address;
    if (a.startsWith('unix:')) return netConnect(a.slice('unix:'.length));
    const m = /^\[?(.+?)\]?:(\d+)$/.exec(a);
    // A bad advertised address is this transport failing (the selector moves on to gRPC).
    if (!m) throw kerr('TransportFailed', `bulk stream address '${a}' is not host:port or unix:/path`);
    const t = this.opts.tls!;
    // Hostname checks as grpc-js does them for the same node (the node certificate's SANs).
    return tlsConnect({ host: m[1]!, port: Number(m[2]), ca: t.ca, cert: t.cert, key: t.key, minVersion: 'TLSv1.2' });
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    const done = (): void => { this.inflight.delete(p); };
    p.then(done, done);
    return p;
  }

  private refuse(signal: AbortSignal | undefined, what: string): KisekiError | null {
    if (this.state !== 'open') return kerr('Closed', 'the bulk stream transport was closed');
    return signal?.aborted ? kerr('Closed', `${what} aborted`) : null;
  }

  getChunks(chunkIds: readonly Buffer[], signal?: AbortSignal): Promise<Envelope[]> {
    const refused = this.refuse(signal, 'getChunks');
    if (refused) return Promise.reject(refused);
    if (chunkIds.length === 0) return Promise.resolve([]);
    for (const id of chunkIds) {
      if (id.length !== CHUNK_ID_BYTES) return Promise.reject(kerr('InvalidArgument', `chunk id must be ${CHUNK_ID_BYTES} bytes (got ${id.length})`));
    }
    return this.track((async () => {
      const c = await this.connection();
      const batches: Promise<Envelope[]>[] = [];
      // A large call goes out as GET_SPLIT requests: the node serves requests concurrently (reading
      // several chunk files at once) but the chunks of one request one after another.
      const per = Math.min(MAX_BULK_GET_IDS, Math.ceil(chunkIds.length / GET_SPLIT));
      for (let i = 0; i < chunkIds.length; i += per) {
        const ids = chunkIds.slice(i, i + per);
        batches.push(this.abortable(c, signal, 'getChunks', (extra) => c.request<Envelope[]>(Op.GET, ids.length, ids, { ...extra, ids, out: new Array(ids.length) })));
      }
      return (await Promise.all(batches)).flat();
    })());
  }

  putChunks(envelopes: readonly Envelope[], signal?: AbortSignal): Promise<void> {
    const refused = this.refuse(signal, 'putChunks');
    if (refused) return Promise.reject(refused);
    if (envelopes.length === 0) return Promise.resolve();
    return this.track((async () => {
      const c = await this.connection();
      let next = 0;
      // Up to putsInFlight PUTs at once: the node fsyncs them in parallel. The first failure wins.
      await Promise.all(Array.from({ length: Math.min(this.putsInFlight, envelopes.length) }, async () => {
        while (next < envelopes.length) {
          const env = envelopes[next++]!;
          await this.abortable(c, signal, 'putChunks', (extra) => c.request<number>(Op.PUT, 1, encodeEnvelopeParts(env), extra));
        }
      }));
    })());
  }

  /** Runs one request, rejecting it (and dropping its late replies) when `signal` aborts. */
  private abortable<T>(c: BulkConnection, signal: AbortSignal | undefined, what: string, send: (extra: Partial<Pending>) => Promise<T>): Promise<T> {
    if (!signal) return send({});
    if (signal.aborted) return Promise.reject(kerr('Closed', `${what} aborted`));
    const tag = {};
    const p = send({ tag });
    const onAbort = (): void => c.abandon(c.pendingOf((x) => x.tag === tag), kerr('Closed', `${what} aborted`));
    signal.addEventListener('abort', onAbort, { once: true });
    const off = (): void => signal.removeEventListener('abort', onAbort);
    p.then(off, off);
    return p;
  }

  /** The selector's re-probe: forget the old connection. */
  async reset(): Promise<void> {
    this.conn?.break(kerr('TransportFailed', 'bulk stream: reset for a re-probe'));
    this.conn = null;
  }

  /** The selector's re-probe: a new connection and one PING round trip (TLS handshake + tenant check). */
  async connect(): Promise<void> {
    const c = await this.connection();
    await c.request<number>(Op.PING, 0, []);
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closing';
    await Promise.allSettled([...this.inflight]);
    this.conn?.end();
    this.conn = null;
    this.state = 'closed';
  }
}

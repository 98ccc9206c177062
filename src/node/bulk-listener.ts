// kiseki-node's bulk chunk stream (ADR 0033): sealed envelopes over a raw byte stream beside gRPC, in
// KSB1 frames (src/transport/bulk-protocol.ts). Two kinds of listener:
//   tls   TLS over TCP with the gRPC listener's mTLS credentials and CA; the tenant is the client
//         certificate's URI SAN, derived by the very function the gRPC path uses (identity.ts).
//   unix  a 0600 unix socket next to the gRPC one; every connection is the node's local tenant,
//         exactly as on the gRPC unix socket.
// A malformed frame closes that connection (logged); the node and its other connections go on.
import { chmodSync } from 'node:fs';
import { type Server, type Socket, createServer as createNetServer } from 'node:net';
import { type TLSSocket, createServer as createTlsServer } from 'node:tls';
import type { Logger } from 'pino';
import { KisekiError, kerr } from '../errors.js';
import type { Envelope } from '../gen/kiseki/v1/chunk.js';
import { TransportKind, type NodeInfo } from '../gen/kiseki/v1/discovery.js';
import {
  BulkProtocolError, CHUNK_ID_BYTES, type Frame, FrameReader, MAX_BULK_ERROR_BODY, Op, statusOfError, writeEachBufferAlone, writeFrame,
} from '../transport/bulk-protocol.js';
import type { ChunkRepairer } from './chunk-data-service.js';
import { decodeEnvelopeView, encodeEnvelopeParts } from './chunk-frames.js';
import { ChunkReadPool, type EnvelopeLease, canLease } from './chunk-read-pool.js';
import type { ChunkStore } from './chunk-store.js';
import { identityFromCertificate } from './identity.js';
import type { TlsMaterial } from './node-server.js';
import { removeStaleSocket, socketAnswers } from './unix-socket.js';
import { MAX_CHUNK_BYTES, envelopeOf } from './validate.js';

/** Requests one connection may have in flight; beyond this the node stops reading it (back-pressure). */
export const BULK_REQUESTS_PER_CONNECTION = 8;

/** Reply bytes a connection may queue before a sender waits for 'drain' (about two 4 MiB chunks). */
const SEND_QUEUE_BYTES = 8 * 1024 * 1024;

export type BulkListenerSpec =
  | { kind: 'tls'; host: string; port: number; tls: TlsMaterial }
  | { kind: 'unix'; path: string; tenant: string };

export interface BulkListenerOptions {
  spec: BulkListenerSpec;
  store: ChunkStore;
  /** Buffers GETs read chunk files into; default one pool per listener, shared by its connections. */
  readPool?: ChunkReadPool;
  repairer?: ChunkRepairer | null;
  log: Logger;
}

type ListenerState = 'closed' | 'listening';

export class BulkListener {
  private state: ListenerState = 'closed';
  private server: Server | null = null;
  private readonly connections = new Set<Socket>();
  /** The TCP port bound first; a reopen binds it again so the advertised address stays valid. */
  private port: number;

  private readonly readPool: ChunkReadPool;

  constructor(private readonly opts: BulkListenerOptions) {
    this.port = opts.spec.kind === 'tls' ? opts.spec.port : 0;
    this.readPool = opts.readPool ?? new ChunkReadPool();
  }

  get listening(): boolean {
    return this.state === 'listening';
  }

  /** host:port or unix:/path while listening. */
  get address(): string | null {
    if (this.state !== 'listening') return null;
    const s = this.opts.spec;
    return s.kind === 'unix' ? `unix:${s.path}` : `${s.host.includes(':') ? `[${s.host}]` : s.host}:${this.port}`;
  }

  endpoint(): NodeInfo['endpoints'][number] | null {
    const address = this.address;
    return address === null ? null : { kind: TransportKind.TRANSPORT_KIND_STREAM, address, provider: '', fabricAddress: Buffer.alloc(0) };
  }

  async start(): Promise<void> {
    if (this.state === 'listening') return;
    const s = this.opts.spec;
    if (s.kind === 'tls') {
      const server = createTlsServer({
        ca: s.tls.ca, cert: s.tls.cert, key: s.tls.key, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2',
      }, (sock) => this.accept(sock, tenantOfTls(sock)));
      server.on('tlsClientError', (err) => this.opts.log.debug({ err }, 'bulk stream: TLS handshake refused'));
      await listen(server, () => server.listen(this.port, s.host));
      this.port = (server.address() as { port: number }).port;
      this.server = server;
    } else {
      if (await socketAnswers(s.path)) throw new Error(`another process already serves ${s.path}`);
      removeStaleSocket(s.path);
      const server = createNetServer((sock) => this.accept(sock, s.tenant));
      const old = process.umask(0o177);
      try {
        await listen(server, () => server.listen(s.path));
      } finally {
        process.umask(old);
      }
      chmodSync(s.path, 0o600);
      this.server = server;
    }
    this.server.on('error', (err) => this.opts.log.error({ err }, 'bulk stream listener error'));
    this.state = 'listening';
  }

  /** Stops accepting and drops every connection (clients fail over to gRPC at once). */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    const server = this.server!;
    this.server = null;
    for (const c of this.connections) c.destroy();
    this.connections.clear();
    await new Promise<void>((r) => server.close(() => r()));
    if (this.opts.spec.kind === 'unix') removeStaleSocket(this.opts.spec.path);
  }

  private accept(sock: Socket, tenant: string | Error): void {
    if (tenant instanceof Error) {
      this.opts.log.warn({ err: tenant }, 'bulk stream: connection refused');
      sock.destroy();
      return;
    }
    this.connections.add(sock);
    sock.once('close', () => this.connections.delete(sock));
    sock.setNoDelay?.(true);
    writeEachBufferAlone(sock);
    new BulkConnection(sock, tenant, this.opts, this.readPool).run();
  }
}

/** The tenant of a TLS connection, as the gRPC path derives it (identity.ts); peers are refused. */
function tenantOfTls(sock: TLSSocket): string | Error {
  try {
    const cert = sock.getPeerCertificate();
    if (!cert || Object.keys(cert).length === 0) return kerr('PermissionDenied', 'no verified client certificate on this TLS connection');
    const id = identityFromCertificate(cert);
    if (id.kind !== 'tenant') return kerr('PermissionDenied', 'peer-node certificates may not use the tenant bulk stream');
    return id.tenant;
  } catch (err) {
    return err as Error;
  }
}

function listen(server: Server, go: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.once('listening', () => { server.off('error', reject); resolve(); });
    go();
  });
}

/** One client connection: frames in, requests served concurrently (bounded), reply frames out whole. */
class BulkConnection {
  private readonly reader = new FrameReader('node');
  private active = 0;
  private dead = false;

  constructor(
    private readonly sock: Socket,
    private readonly tenant: string,
    private readonly opts: BulkListenerOptions,
    private readonly readPool: ChunkReadPool,
  ) {}

  run(): void {
    this.sock.on('data', (d: Buffer) => this.onData(d));
    this.sock.on('error', (err) => { this.dead = true; this.opts.log.debug({ err }, 'bulk stream connection error'); });
    this.sock.on('close', () => { this.dead = true; });
  }

  private onData(d: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.reader.push(d);
    } catch (err) {
      if (!(err instanceof BulkProtocolError)) throw err;
      this.opts.log.warn({ tenant: this.tenant, reason: err.message }, 'bulk stream: malformed frame; closing the connection');
      this.dead = true;
      this.sock.destroy();
      return;
    }
    for (const f of frames) this.serve(f);
  }

  private serve(f: Frame): void {
    this.active++;
    if (this.active >= BULK_REQUESTS_PER_CONNECTION) this.sock.pause();
    const work = f.op === Op.GET ? this.get(f) : f.op === Op.PUT ? this.put(f) : this.send(Op.PONG, f.id, 0, []);
    work.catch((err: unknown) => this.fail(f.id, err)).finally(() => {
      this.active--;
      if (this.active < BULK_REQUESTS_PER_CONNECTION && !this.dead) this.sock.resume();
    });
  }

  private async get(f: Frame): Promise<void> {
    const n = f.arg;
    const idAt = (i: number): Buffer => f.body.subarray(i * CHUNK_ID_BYTES, (i + 1) * CHUNK_ID_BYTES);
    const read = (i: number): Promise<EnvelopeLease | null> => this.read(idAt(i));
    // The next chunk is read from disk while this one is written to the socket.
    let next: Promise<EnvelopeLease | null> | null = read(0);
    try {
      for (let i = 0; i < n; i++) {
        const lease = await next!;
        next = i + 1 < n && !this.dead ? read(i + 1) : null;
        next?.catch(() => undefined);
        if (lease === null) throw kerr('NotFound', `chunk ${idAt(i).toString('hex')} is not stored on this node${this.opts.repairer ? ' nor on its peers' : ''}`);
        // The stored encoding, as parts sharing the read buffer's memory, which goes back to the pool
        // once the socket has taken it (I-RP1).
        await this.send(Op.CHUNK, f.id, i, encodeEnvelopeParts(lease.envelope), 0, lease.release);
        if (this.dead) return;
      }
    } finally {
      // A read started ahead for a request that ended early (NotFound, a dead connection) goes back unsent.
      void next?.then((l) => l?.release(), () => undefined);
    }
  }

  /** The chunk, in a pooled buffer when the store can read into one. */
  private async read(id: Buffer): Promise<EnvelopeLease | null> {
    const { store, repairer } = this.opts;
    const get = async (): Promise<EnvelopeLease | null> => {
      if (canLease(store)) return store.getLeased(this.tenant, id, this.readPool);
      const envelope = await store.get(this.tenant, id);
      return envelope === null ? null : { envelope, release: () => undefined };
    };
    const got = await get();
    if (got !== null || !repairer) return got;
    return (await repairer.repair(this.tenant, id)) ? get() : null;
  }

  private async put(f: Frame): Promise<void> {
    let env: Envelope;
    try {
      env = decodeEnvelopeView(f.body);
    } catch (err) {
      throw kerr('InvalidArgument', `envelope could not be decoded: ${(err as Error).message}`);
    }
    // The same checks as a gRPC PutChunks (validate.ts), on the whole envelope.
    envelopeOf(env, 'envelope', MAX_CHUNK_BYTES);
    const outcome = await this.opts.store.put(this.tenant, env);
    await this.send(Op.PUT_DONE, f.id, outcome === 'stored' ? 1 : 0, []);
  }

  private fail(id: number, err: unknown): Promise<void> {
    if (this.dead) return Promise.resolve();
    const status = statusOfError(err);
    if (!KisekiError.is(err) || err.kind === 'Internal') this.opts.log.error({ err, tenant: this.tenant }, 'bulk stream: request failed');
    const msg = Buffer.from(KisekiError.is(err) ? err.message : `internal error: ${(err as Error)?.message ?? String(err)}`).subarray(0, MAX_BULK_ERROR_BODY);
    return this.send(Op.ERROR, id, 0, [msg], status).catch(() => undefined);
  }

  /**
   * One whole frame (header + body parts; bulk-protocol.ts writeFrame); resolves at once while less than
   * SEND_QUEUE_BYTES wait in the socket, else when it drained. Keeping the next chunk queued behind
   * the current one means the kernel never runs dry while this process waits to be scheduled.
   */
  private send(op: Op, id: number, arg: number, parts: Buffer[], status = 0, written?: () => void): Promise<void> {
    if (this.dead) return Promise.resolve();
    let length = 0;
    for (const p of parts) length += p.length;
    const s = this.sock;
    writeFrame(s, { op, status, id, arg, length }, parts, written);
    if (s.writableLength < SEND_QUEUE_BYTES) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => { s.off('drain', done); s.off('close', done); resolve(); };
      s.once('drain', done);
      s.once('close', done);
    });
  }
}

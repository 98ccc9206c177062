// The one place where node code meets grpc-js: identity per call, malformed input, and the mapping
// of every failure to a gRPC status plus trailing metadata `kiseki-errno` (namespace.proto header).
// Service files export plain async functions over decoded requests; these wrappers do the rest.
import * as grpc from '@grpc/grpc-js';
import { constants } from 'node:os';
import { KisekiError, kerr } from '../errors.js';
import type { Identity } from './identity.js';
import { identityFromCertificate } from './identity.js';

const E = constants.errno;

/** Messages of up to 80 MiB: chunks are 1–64 MiB (GetFragment/PutFragment carry whole envelopes). */
export const MAX_MESSAGE_BYTES = 80 * 1024 * 1024;

export const ERRNO_KEY = 'kiseki-errno';
export const LEADER_KEY = 'kiseki-leader';

/** How a listener tells who is calling: from the client certificate (TLS) or a fixed local tenant. */
export type IdentitySource = { readonly mode: 'tls' } | { readonly mode: 'local'; readonly tenant: string };

export interface CallContext {
  readonly identity: Identity;
}

/** A request the generated decoder refused: answered with INVALID_ARGUMENT, never a crash. */
class Malformed {
  constructor(readonly reason: string) {}
}

/** The status and errno a failure is answered with. */
export function statusOf(err: unknown): { code: grpc.status; errno: number; details: string; extra?: Record<string, string> } {
  if (err instanceof RedirectToLeader) {
    return { code: grpc.status.UNAVAILABLE, errno: E.EIO, details: err.message, extra: { [LEADER_KEY]: err.leader } };
  }
  const code = (err as { code?: unknown })?.code;
  if (code === 'SQLITE_FULL' || code === 'ENOSPC') {
    return { code: grpc.status.RESOURCE_EXHAUSTED, errno: E.ENOSPC, details: 'no space left on the node\'s metadata disk; free space or add capacity' };
  }
  if (!KisekiError.is(err)) {
    return { code: grpc.status.INTERNAL, errno: E.EIO, details: `internal error: ${(err as Error)?.message ?? String(err)}` };
  }
  const status = ((): grpc.status => {
    switch (err.kind) {
      case 'NotFound': return grpc.status.NOT_FOUND;
      case 'AlreadyExists': return grpc.status.ALREADY_EXISTS;
      case 'InvalidArgument': return grpc.status.INVALID_ARGUMENT;
      case 'NoSpace': return grpc.status.RESOURCE_EXHAUSTED;
      case 'StaleGeneration': return grpc.status.ABORTED;
      case 'Unavailable': return grpc.status.UNAVAILABLE;
      // A stored chunk that is not what it should be: the client reads another replica or fails at once.
      case 'Integrity': return grpc.status.DATA_LOSS;
      case 'PermissionDenied': return err.errno === E.EPERM ? grpc.status.FAILED_PRECONDITION : grpc.status.PERMISSION_DENIED;
      case 'NotEmpty': case 'NotDirectory': case 'IsDirectory': case 'CrossDevice': case 'ReadOnly':
      case 'NoData': case 'KeyDestroyed': case 'NotSupported':
        return grpc.status.FAILED_PRECONDITION;
      default: return grpc.status.INTERNAL;
    }
  })();
  return { code: status, errno: err.errno, details: err.message };
}

/** A namespace call reached a node that is not the metadata leader. */
export class RedirectToLeader extends Error {
  constructor(readonly leader: string) {
    super(`this node is not the metadata leader; retry at ${leader}`);
  }
}

export function toServiceError(err: unknown): Partial<grpc.ServiceError> {
  const s = statusOf(err);
  const metadata = new grpc.Metadata();
  metadata.set(ERRNO_KEY, String(s.errno));
  for (const [k, v] of Object.entries(s.extra ?? {})) metadata.set(k, v);
  return { code: s.code, details: s.details, metadata };
}

interface SurfaceCall {
  getAuthContext(): { sslPeerCertificate?: import('node:tls').PeerCertificate } | null;
}

function identityOf(call: SurfaceCall, source: IdentitySource): Identity {
  if (source.mode === 'local') return { kind: 'tenant', tenant: source.tenant };
  const cert = call.getAuthContext()?.sslPeerCertificate;
  if (!cert) throw kerr('PermissionDenied', 'no verified client certificate on this TLS connection');
  return identityFromCertificate(cert);
}

export type Guard = (identity: Identity) => void;

/** Only tenant certificates (or the local tenant) may call tenant services. */
export const tenantsOnly: Guard = (id) => {
  if (id.kind !== 'tenant') throw kerr('PermissionDenied', 'peer-node certificates may only call ClusterChunkService');
};
/** Only peer-node certificates may call ClusterChunkService. */
export const peersOnly: Guard = (id) => {
  if (id.kind !== 'peer') throw kerr('PermissionDenied', 'ClusterChunkService is for peer nodes (spiffe://cluster/fabric/<id>) only');
};
export const anyone: Guard = () => {};

export function tenantOf(ctx: CallContext): string {
  if (ctx.identity.kind !== 'tenant') throw kerr('PermissionDenied', 'this call needs a tenant identity');
  return ctx.identity.tenant;
}

function checkDecoded(req: unknown): void {
  if (req instanceof Malformed) throw kerr('InvalidArgument', `request could not be decoded: ${req.reason}`);
}

type Unary<Req, Res> = (req: Req, ctx: CallContext) => Promise<Res> | Res;
type ServerStream<Req, Res> = (req: Req, ctx: CallContext, write: (res: Res) => Promise<void>) => Promise<void>;
type ClientStream<Req, Res> = (reqs: AsyncIterable<Req>, ctx: CallContext) => Promise<Res>;

export interface HandlerFactory {
  unary<Req, Res>(guard: Guard, fn: Unary<Req, Res>): grpc.handleUnaryCall<Req, Res>;
  serverStream<Req, Res>(guard: Guard, fn: ServerStream<Req, Res>): grpc.handleServerStreamingCall<Req, Res>;
  clientStream<Req, Res>(guard: Guard, fn: ClientStream<Req, Res>): grpc.handleClientStreamingCall<Req, Res>;
}

export function handlers(source: IdentitySource, onInternal: (err: unknown, path: string) => void): HandlerFactory {
  const fail = (err: unknown, path: string): Partial<grpc.ServiceError> => {
    const se = toServiceError(err);
    if (se.code === grpc.status.INTERNAL) onInternal(err, path);
    return se;
  };
  return {
    unary: (guard, fn) => (call, callback) => {
      const path = call.getPath();
      (async () => {
        const identity = identityOf(call, source);
        guard(identity);
        checkDecoded(call.request);
        return fn(call.request, { identity });
      })().then((res) => callback(null, res), (err) => callback(fail(err, path) as grpc.ServiceError));
    },
    serverStream: (guard, fn) => (call) => {
      const path = call.getPath();
      let cancelled = false;
      call.on('cancelled', () => { cancelled = true; });
      const write = (res: Parameters<typeof call.write>[0]): Promise<void> => {
        if (cancelled) return Promise.reject(kerr('Closed', 'the client cancelled the call'));
        if (call.write(res)) return Promise.resolve();
        return new Promise((resolve, reject) => {
          const onDrain = (): void => { call.off('cancelled', onCancel); resolve(); };
          const onCancel = (): void => { call.off('drain', onDrain); reject(kerr('Closed', 'the client cancelled the call')); };
          call.once('drain', onDrain);
          call.once('cancelled', onCancel);
        });
      };
      (async () => {
        const identity = identityOf(call, source);
        guard(identity);
        checkDecoded(call.request);
        await fn(call.request, { identity }, write as never);
      })().then(() => { if (!cancelled) call.end(); }, (err) => { if (!cancelled) call.emit('error', fail(err, path)); });
    },
    clientStream: (guard, fn) => (call, callback) => {
      const path = call.getPath();
      async function* frames(): AsyncGenerator<never> {
        for await (const req of call) {
          checkDecoded(req);
          yield req as never;
        }
      }
      (async () => {
        const identity = identityOf(call, source);
        guard(identity);
        return fn(frames(), { identity });
      })().then((res) => callback(null, res), (err) => callback(fail(err, path) as grpc.ServiceError));
    },
  };
}

/**
 * The generated service definition with decoders that never throw: a request the decoder refuses
 * becomes a Malformed value the handler answers with INVALID_ARGUMENT (grpc-js would say INTERNAL).
 */
export function tolerantDefinition<D extends grpc.ServiceDefinition>(def: D): D {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, m] of Object.entries(def)) {
    out[name] = {
      ...m,
      requestDeserialize: (buf: Buffer) => {
        try {
          return m.requestDeserialize(buf);
        } catch (e) {
          return new Malformed((e as Error).message);
        }
      },
    };
  }
  return out as D;
}

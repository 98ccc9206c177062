// The one path every unary RPC of the client takes: a deadline, the mapping of a gRPC failure to a
// KisekiError carrying the errno the node put in trailing metadata "kiseki-errno" (namespace.proto
// header), a single hop to the metadata leader when a follower answers UNAVAILABLE with
// "kiseki-leader", and the record of every success for the disconnect timer (I-CC6).
import { Metadata, status, type Client, type ServiceError } from '@grpc/grpc-js';
import { constants } from 'node:os';
import { ERROR_TABLE, KisekiError, type ErrorKind } from '../errors.js';
import type { Clock } from '../cache/clock.js';
import type { NodeChannels } from './node-channels.js';
import { formatSeed, parseSeed, type SeedAddress } from './seeds.js';

/** The shape of a ts-proto grpc-js unary method definition (e.g. DiscoveryServiceService.discover). */
export interface UnaryMethod<Req, Res> {
  readonly path: string;
  readonly requestStream: false;
  readonly responseStream: false;
  requestSerialize(value: Req): Buffer;
  responseDeserialize(value: Buffer): Res;
}

/** I-CC6: when the last RPC to any canonical endpoint succeeded (null: never), on the session's clock. */
export class RpcLiveness {
  #last: number | null = null;
  #successes = 0;
  readonly #listeners = new Set<() => void>();

  /** Calls `listener` after every success (e.g. the cache's DisconnectWatcher.recordSuccess). */
  onSuccess(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get lastSuccessfulRpcAt(): number | null {
    return this.#last;
  }

  get successes(): number {
    return this.#successes;
  }

  record(at: number): void {
    this.#last = this.#last === null ? at : Math.max(this.#last, at);
    this.#successes++;
    for (const l of this.#listeners) l();
  }
}

export interface RpcEnv {
  channels: NodeChannels;
  clock: Clock;
  liveness: RpcLiveness;
  /** Per-call deadline unless the call sets its own. */
  deadlineMs: number;
  /** Told when a follower names the metadata leader, so that later calls go there first. */
  onLeaderRedirect?: (leader: SeedAddress) => void;
}

export interface CallOptions {
  deadlineMs?: number;
  signal?: AbortSignal;
}

const E = constants.errno;
const ERRNO_KIND = new Map<number, ErrorKind>([
  [E.ENOENT, 'NotFound'], [E.EEXIST, 'AlreadyExists'], [E.ENOTEMPTY, 'NotEmpty'], [E.ENOTDIR, 'NotDirectory'],
  [E.EISDIR, 'IsDirectory'], [E.EXDEV, 'CrossDevice'], [E.EROFS, 'ReadOnly'], [E.EPERM, 'PermissionDenied'],
  [E.EACCES, 'PermissionDenied'], [E.ENOSPC, 'NoSpace'], [E.ENODATA, 'NoData'], [E.EINVAL, 'InvalidArgument'],
  [E.ENAMETOOLONG, 'InvalidArgument'], [E.ENOTSUP, 'NotSupported'], [E.EAGAIN, 'StaleGeneration'],
]);

const STATUS_KIND: Partial<Record<status, ErrorKind>> = {
  [status.NOT_FOUND]: 'NotFound',
  [status.ALREADY_EXISTS]: 'AlreadyExists',
  [status.ABORTED]: 'StaleGeneration',
  [status.RESOURCE_EXHAUSTED]: 'NoSpace',
  [status.INVALID_ARGUMENT]: 'InvalidArgument',
  [status.PERMISSION_DENIED]: 'PermissionDenied',
  [status.UNAUTHENTICATED]: 'PermissionDenied',
  [status.UNIMPLEMENTED]: 'NotSupported',
  [status.UNAVAILABLE]: 'Unavailable',
  [status.DEADLINE_EXCEEDED]: 'Unavailable',
  [status.CANCELLED]: 'Unavailable',
};

/** True for failures where another try (later, or at another node) may succeed. */
export function isRetriable(err: unknown): boolean {
  return KisekiError.is(err, 'Unavailable');
}

function shortName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/**
 * Maps a failed call to the error currency. The node's errno wins; the status picks the kind when
 * there is none. "KEK_DESTROYED" (FAILED_PRECONDITION) is the crypto-shred signal (I-CC12).
 */
export function errorFromStatus(err: ServiceError, address: string, path: string): KisekiError {
  const where = `${shortName(path)} at ${address}`;
  const raw = err.metadata?.get('kiseki-errno')[0];
  const errno = typeof raw === 'string' && /^\d{1,4}$/.test(raw) ? Number(raw) : undefined;
  if (err.code === status.FAILED_PRECONDITION && err.details === 'KEK_DESTROYED') {
    return new KisekiError('KeyDestroyed', `${where}: the tenant key was destroyed (crypto-shred); cached data is wiped and nothing can be read`, { cause: err });
  }
  const kind: ErrorKind = (errno !== undefined ? ERRNO_KIND.get(errno) : undefined) ?? STATUS_KIND[err.code] ?? 'Internal';
  const hint = kind === 'Unavailable' ? ' (node unreachable or busy; retried later)' : '';
  return new KisekiError(kind, `${where}: ${status[err.code] ?? err.code}: ${err.details}${hint}`, {
    cause: err,
    errno: errno ?? ERROR_TABLE[kind].errno,
  });
}

function leaderOf(err: ServiceError): SeedAddress | null {
  if (err.code !== status.UNAVAILABLE) return null;
  const raw = err.metadata?.get('kiseki-leader')[0];
  if (typeof raw !== 'string' || raw === '') return null;
  try {
    return parseSeed(raw, 'kiseki-leader metadata');
  } catch {
    return null;
  }
}

function rawCall<Req, Res>(client: Client, method: UnaryMethod<Req, Res>, req: Req, deadline: number, signal: AbortSignal | undefined): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const call = client.makeUnaryRequest(method.path, (v: Req) => method.requestSerialize(v), (b: Buffer) => method.responseDeserialize(b),
      req, new Metadata(), { deadline: Date.now() + deadline }, (err, res) => {
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(res as Res);
      });
    const onAbort = () => call.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Calls `method` at `address`; follows one leader redirect. Rejects with a KisekiError. */
export async function callUnary<Req, Res>(env: RpcEnv, address: SeedAddress, method: UnaryMethod<Req, Res>, req: Req, opts: CallOptions = {}): Promise<Res> {
  let target = address;
  for (let hop = 0; ; hop++) {
    try {
      const res = await rawCall(env.channels.get(target), method, req, opts.deadlineMs ?? env.deadlineMs, opts.signal);
      env.liveness.record(env.clock.now());
      return res;
    } catch (err) {
      if (KisekiError.is(err)) throw err;
      // Our own cancellation is not a node failure: hand back the caller's reason.
      if (opts.signal?.aborted) throw opts.signal.reason;
      const se = err as ServiceError;
      if (typeof se?.code !== 'number') throw err;
      const leader = leaderOf(se);
      if (leader !== null && hop === 0 && formatSeed(leader) !== formatSeed(target)) {
        env.onLeaderRedirect?.(leader);
        target = leader;
        continue;
      }
      throw errorFromStatus(se, formatSeed(target), method.path);
    }
  }
}

type UnaryOf<M> = M extends UnaryMethod<infer Req, infer Res> ? (req: Req, opts?: CallOptions) => Promise<Res> : never;

/** The unary methods of a ts-proto service definition as promise-returning functions. */
export type ServiceCaller<S> = { [K in keyof S as S[K] extends UnaryMethod<unknown, unknown> ? K : never]: UnaryOf<S[K]> };

/** Binds a ts-proto service definition to a target chosen at each call (e.g. the current leader). */
export function serviceCaller<S extends object>(service: S, env: RpcEnv, target: () => SeedAddress): ServiceCaller<S> {
  const out: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(service)) {
    const m = def as UnaryMethod<unknown, unknown> | { requestStream: true } | { responseStream: true };
    if ((m as { requestStream: boolean }).requestStream || (m as { responseStream: boolean }).responseStream) continue;
    out[name] = (req: unknown, opts?: CallOptions) => callUnary(env, target(), m as UnaryMethod<unknown, unknown>, req, opts);
  }
  return out as ServiceCaller<S>;
}

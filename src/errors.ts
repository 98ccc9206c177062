// The one error currency of kiseki-client. Every failure a user can meet is a KisekiError with a
// stable code (KSK_ERR_*), the errno the FUSE layer replies with, and a message that says what to do.
// Classes are generated from ERROR_TABLE so that no two drift apart.
import { constants } from 'node:os';

const E = constants.errno;

export const ERROR_TABLE = {
  InvalidArgument: { code: 'KSK_ERR_INVALID_ARGUMENT', errno: E.EINVAL },
  NotFound: { code: 'KSK_ERR_NOT_FOUND', errno: E.ENOENT },
  AlreadyExists: { code: 'KSK_ERR_ALREADY_EXISTS', errno: E.EEXIST },
  NotEmpty: { code: 'KSK_ERR_NOT_EMPTY', errno: E.ENOTEMPTY },
  NotDirectory: { code: 'KSK_ERR_NOT_DIRECTORY', errno: E.ENOTDIR },
  IsDirectory: { code: 'KSK_ERR_IS_DIRECTORY', errno: E.EISDIR },
  CrossDevice: { code: 'KSK_ERR_CROSS_DEVICE', errno: E.EXDEV },
  ReadOnly: { code: 'KSK_ERR_READ_ONLY', errno: E.EROFS },
  PermissionDenied: { code: 'KSK_ERR_PERMISSION_DENIED', errno: E.EACCES },
  NoSpace: { code: 'KSK_ERR_NO_SPACE', errno: E.ENOSPC },
  NotSupported: { code: 'KSK_ERR_NOT_SUPPORTED', errno: E.ENOTSUP },
  NoData: { code: 'KSK_ERR_NO_DATA', errno: E.ENODATA },
  /** A sealed chunk or metadata value failed authentication, id check, or decoding. Never partial data. */
  Integrity: { code: 'KSK_ERR_INTEGRITY', errno: E.EIO },
  /** No seed answered discovery; retriable. The mount answers EIO until discovery succeeds. */
  NoSeedsReachable: { code: 'KSK_ERR_NO_SEEDS_REACHABLE', errno: E.EIO },
  Unavailable: { code: 'KSK_ERR_UNAVAILABLE', errno: E.EIO },
  KeyDestroyed: { code: 'KSK_ERR_KEY_DESTROYED', errno: E.EIO },
  StaleGeneration: { code: 'KSK_ERR_STALE_GENERATION', errno: E.EAGAIN },
  CacheCapacityExceeded: { code: 'KSK_ERR_CACHE_CAPACITY_EXCEEDED', errno: E.ENOSPC },
  CacheFault: { code: 'KSK_ERR_CACHE_FAULT', errno: E.EIO },
  TransportFailed: { code: 'KSK_ERR_TRANSPORT_FAILED', errno: E.EIO },
  Closed: { code: 'KSK_ERR_CLOSED', errno: E.EIO },
  Internal: { code: 'KSK_ERR_INTERNAL', errno: E.EIO },
} as const;

export type ErrorKind = keyof typeof ERROR_TABLE;
export type ErrorCode = (typeof ERROR_TABLE)[ErrorKind]['code'];

const BRAND = Symbol.for('kiseki.error');

export class KisekiError extends Error {
  readonly kind: ErrorKind;
  readonly code: ErrorCode;
  /** Positive errno (e.g. 5 for EIO) the user sees through the mount. */
  readonly errno: number;
  readonly [BRAND] = true;

  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown; errno?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = `KisekiError[${kind}]`;
    this.kind = kind;
    this.code = ERROR_TABLE[kind].code;
    this.errno = options?.errno ?? ERROR_TABLE[kind].errno;
  }

  static is(value: unknown, kind?: ErrorKind): value is KisekiError {
    const branded = typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
    return branded && (kind === undefined || (value as KisekiError).kind === kind);
  }
}

/** Shorthand: `throw kerr('NotFound', 'no such file: a/b')`. */
export function kerr(kind: ErrorKind, message: string, cause?: unknown): KisekiError {
  return new KisekiError(kind, message, { cause });
}

/** The errno to reply with for any thrown value: a KisekiError's own, else EIO (never ENOENT by accident). */
export function errnoOf(err: unknown): number {
  return KisekiError.is(err) ? err.errno : E.EIO;
}

// The seam between the chunk pipeline and the code that does the arithmetic. Two implementations give
// byte-identical results (ADR 0010): crypto-native.ts (OpenSSL on the libuv thread pool, the default)
// and crypto-portable.ts (node:crypto on the main thread, libsodium-wrappers for zeroing). Pick one
// through crypto-select.ts, never by importing an implementation directly.

/** HKDF `info` of chunk DEKs (brief §3.3). */
export const CHUNK_DEK_INFO = Buffer.from('kiseki-chunk-dek-v1', 'ascii');
/** HKDF `info` of metadata DEKs (names, symlink targets, xattr values, inline data): a distinct key per id. */
export const META_DEK_INFO = Buffer.from('kiseki-meta-dek-v1', 'ascii');

export const KEY_BYTES = 32;
export const ID_BYTES = 32;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;

/** Where the 32-byte id bound as salt and AAD comes from. */
export type IdSource =
  | { kind: 'sha256' }
  | { kind: 'hmac'; key: Buffer }
  /** Metadata values: the caller names the id (e.g. the entry's name key). */
  | { kind: 'given'; id: Buffer };

/** A page of sealed dirent names: ids, nonces and tags concatenated, ciphertext i = ciphertexts[offsets[i], offsets[i+1]). */
export interface NamesOpenRequest {
  parent: number;
  indexKey: Buffer;
  kek: Buffer;
  info: Buffer;
  ids: Buffer;
  nonces: Buffer;
  tags: Buffer;
  ciphertexts: Buffer;
  offsets: Uint32Array;
}

/** What to check after a successful AEAD open. */
export type IdCheck = { kind: 'none' } | { kind: 'sha256' } | { kind: 'hmac'; key: Buffer };

export interface SealRequest {
  plaintext: Buffer;
  id: IdSource;
  kek: Buffer;
  info: Buffer;
  /** 12 bytes, fresh from a CSPRNG for every seal. Only the known-answer tests pass a fixed one. */
  nonce: Buffer;
  /** Where the ciphertext goes (plaintext.length bytes); a fresh Buffer when absent. */
  output?: Buffer;
}

export interface Sealed {
  chunkId: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

export interface OpenRequest {
  ciphertext: Buffer;
  chunkId: Buffer;
  kek: Buffer;
  info: Buffer;
  nonce: Buffer;
  tag: Buffer;
  check: IdCheck;
  /** Where the plaintext goes (ciphertext.length bytes); a fresh Buffer when absent. */
  output?: Buffer;
}

/** Authentication failures are results, not exceptions; the envelope layer turns them into Integrity errors. */
export type OpenResult =
  | { kind: 'ok'; plaintext: Buffer }
  | { kind: 'auth-failed' }
  | { kind: 'id-mismatch' }
  /** OpenSSL failed on this chunk of an openMany batch (a lone open rejects instead). */
  | { kind: 'error' };

export type DigestKind = { kind: 'sha256' } | { kind: 'hmac'; key: Buffer };

export interface CryptoBackend {
  readonly name: 'native' | 'portable';
  /** Computes the id (unless given), derives the DEK, encrypts. Lengths are validated by the caller. */
  seal(req: SealRequest): Promise<Sealed>;
  /** On any result but 'ok' no plaintext is returned and the scratch output is zeroed. */
  open(req: OpenRequest): Promise<OpenResult>;
  /**
   * Optional: a listing's sealed dirent names under one KEK in one job, each checked to hash back to
   * its id (HMAC of parent u64 LE || name); status[i] 0 ok, 1 authentication failed, 2 name/key
   * mismatch, 3 error. Backends without it are used one open at a time (metadata-seal.ts openNames).
   */
  openNames?(req: NamesOpenRequest): Promise<{ plaintext: Buffer; status: Uint8Array }>;
  /**
   * Optional: several seals in one job (ADR 0014). All requests share id kind (and HMAC key), kek and
   * info; a mixed batch is an InvalidArgument. Any failure rejects the whole batch. Backends without
   * it are used one seal at a time (envelope.ts sealChunks).
   */
  sealMany?(reqs: readonly SealRequest[]): Promise<Sealed[]>;
  /**
   * Optional: several opens in one job. All requests share check and info; keks may differ (epochs).
   * One result per request, as `open` gives it: a failed chunk returns no plaintext and its output is zeroed.
   */
  openMany?(reqs: readonly OpenRequest[]): Promise<OpenResult[]>;
  digest(kind: DigestKind, data: Buffer): Promise<Buffer>;
  /** Raw AES-256-GCM of a small record (≤ 1 MiB) under `key` itself, synchronous. */
  gcmSealRaw(key: Buffer, nonce: Buffer, aad: Buffer, plaintext: Buffer): { ciphertext: Buffer; tag: Buffer };
  /** The plaintext, or null when authentication fails. */
  gcmOpenRaw(key: Buffer, nonce: Buffer, aad: Buffer, ciphertext: Buffer, tag: Buffer): Buffer | null;
  /** HKDF-SHA256 with a 32-byte output. */
  hkdf(ikm: Buffer, salt: Buffer, info: Buffer): Buffer;
  /** IEEE CRC-32 continuing from `prev` (0 to start). */
  crc32(data: Buffer, prev?: number): number;
  crc32Async(data: Buffer, prev?: number): Promise<number>;
  /** Overwrites key material in place. */
  zero(buf: Buffer): void;
  /** A buffer for key material: mlock'ed and out of core dumps where the backend can. */
  allocKeyMemory(len: number): { buffer: Buffer; locked: boolean };
}

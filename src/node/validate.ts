// Input checks shared by every service: each failure names the field and says what is expected,
// and is answered with INVALID_ARGUMENT (EINVAL, or ENAMETOOLONG for names).
import { constants } from 'node:os';
import { KisekiError, kerr } from '../errors.js';
import { EncryptionAlgorithm, type Envelope } from '../gen/kiseki/v1/chunk.js';
import type { ChunkId, NamespaceId } from '../gen/kiseki/v1/common.js';

export const CHUNK_ID_BYTES = 32;
export const NAME_KEY_BYTES = 32;
export const AUTH_TAG_BYTES = 16;
export const NONCE_BYTES = 12;
/** Largest chunk ciphertext accepted: 64 MiB chunks (D3). */
export const MAX_CHUNK_BYTES = 64 * 1024 * 1024;
/** Largest sealed inline file content. */
export const MAX_INLINE_BYTES = 64 * 1024;
/** Sealed name ciphertext = plaintext length under GCM; Linux NAME_MAX. */
export const NAME_MAX = 255;
/** Linux PATH_MAX for symlink targets. */
export const PATH_MAX = 4096;
/** XATTR_SIZE_MAX of Linux. */
export const XATTR_VALUE_MAX = 64 * 1024;

export function invalid(field: string, expected: string): KisekiError {
  return kerr('InvalidArgument', `${field}: ${expected}`);
}

export function chunkIdOf(id: ChunkId | undefined, field: string): Buffer {
  const v = id?.value;
  if (!v || v.length !== CHUNK_ID_BYTES) throw invalid(field, `must be ${CHUNK_ID_BYTES} bytes (got ${v?.length ?? 0})`);
  return v;
}

export function nameKeyOf(key: Buffer | undefined, field: string): Buffer {
  if (!key || key.length !== NAME_KEY_BYTES) throw invalid(field, `must be ${NAME_KEY_BYTES} bytes, HMAC-SHA256(index_key, parent_ino_le64 || name) (got ${key?.length ?? 0})`);
  return key;
}

/**
 * A sealed envelope as kiseki-client writes it: 16-byte tag, 12-byte nonce, AES-256-GCM, a 32-byte
 * chunk_id, and at most maxCiphertext bytes of ciphertext.
 */
export function envelopeOf(env: Envelope | undefined, field: string, maxCiphertext: number, opts: { headerOnly?: boolean } = {}): Envelope {
  if (!env) throw invalid(field, 'is required (a sealed Envelope)');
  if (env.authTag.length !== AUTH_TAG_BYTES) throw invalid(`${field}.auth_tag`, `must be ${AUTH_TAG_BYTES} bytes (got ${env.authTag.length})`);
  if (env.nonce.length !== NONCE_BYTES) throw invalid(`${field}.nonce`, `must be ${NONCE_BYTES} bytes (got ${env.nonce.length})`);
  if (env.algorithm !== EncryptionAlgorithm.ENCRYPTION_ALGORITHM_AES_256_GCM) throw invalid(`${field}.algorithm`, `must be ENCRYPTION_ALGORITHM_AES_256_GCM (1), got ${env.algorithm}`);
  chunkIdOf(env.chunkId, `${field}.chunk_id`);
  if (opts.headerOnly) {
    if (env.ciphertext.length !== 0) throw invalid(`${field}.ciphertext`, 'must be empty in a frame header (the ciphertext travels in data)');
  } else if (env.ciphertext.length > maxCiphertext) {
    const tooLong = maxCiphertext === NAME_MAX;
    throw new KisekiError('InvalidArgument', `${field}.ciphertext: at most ${maxCiphertext} bytes (got ${env.ciphertext.length})`,
      tooLong ? { errno: constants.errno.ENAMETOOLONG } : undefined);
  }
  return env;
}

const NS_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export function namespaceIdOf(id: NamespaceId | undefined, field = 'namespace_id'): string {
  const v = id?.value ?? '';
  if (!NS_ID.test(v)) throw invalid(field, 'must be 1–128 characters of [A-Za-z0-9._:-] (a UUID string in Kiseki)');
  return v;
}

export function inoOf(ino: number, field: string): number {
  if (!Number.isSafeInteger(ino) || ino < 1) throw invalid(field, `must be an inode number ≥ 1 (got ${ino})`);
  return ino;
}

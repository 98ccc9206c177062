// Typed view of kiseki_native.node's `crypto` namespace (native/crypto). Every async function runs off
// the JS thread — seal/open and their batches on the crypto pool (one thread per CPU, ADR 0015), the
// rest on the libuv thread pool — and writes into Buffers the caller allocated.
import { loadNative } from '../util/native.js';

export type NativeIdMode = 'sha256' | 'hmac' | 'given';
export type NativeCheckMode = 'sha256' | 'hmac' | 'none';

export interface CryptoBinding {
  seal(plaintext: Buffer, ciphertextOut: Buffer, chunkId: Buffer, idMode: NativeIdMode, idKey: Buffer | null,
    kek: Buffer, info: Buffer, nonce: Buffer, tagOut: Buffer): Promise<void>;
  open(ciphertext: Buffer, plaintextOut: Buffer, chunkId: Buffer, check: NativeCheckMode, idKey: Buffer | null,
    kek: Buffer, info: Buffer, nonce: Buffer, tag: Buffer): Promise<'ok' | 'auth-failed' | 'id-mismatch'>;
  /** n chunks in one job of the crypto pool (ADR 0014); chunkIds (read for 'given', else written), nonces, tagsOut: n × 32, 12, 16 bytes. */
  sealMany(plaintexts: Buffer[], ciphertextOuts: Buffer[], chunkIds: Buffer, idMode: NativeIdMode, idKey: Buffer | null,
    kek: Buffer, info: Buffer, nonces: Buffer, tagsOut: Buffer): Promise<void>;
  /** statusOut[i]: 0 ok, 1 authentication failed, 2 id mismatch, 3 error; a failed chunk's output is cleansed. */
  openMany(ciphertexts: Buffer[], plaintextOuts: Buffer[], chunkIds: Buffer, check: NativeCheckMode, idKey: Buffer | null,
    keks: Buffer[], info: Buffer, nonces: Buffer, tags: Buffer, statusOut: Buffer): Promise<void>;
  /** Threads of the pool that runs seal, open, sealMany and openMany (one per CPU; KISEKI_CRYPTO_THREADS). */
  poolThreads(): number;
  digest(kind: 'sha256' | 'hmac', data: Buffer, key: Buffer | null, out: Buffer): Promise<void>;
  hkdf(ikm: Buffer, salt: Buffer, info: Buffer, out: Buffer): void;
  /** Raw AES-256-GCM for small records; on open, false = authentication failed (output cleansed). */
  gcm(decrypt: boolean, key: Buffer, nonce: Buffer, aad: Buffer, input: Buffer, output: Buffer, tag: Buffer): boolean;
  crc32(data: Buffer, prev?: number): number;
  crc32Async(data: Buffer, prev?: number): Promise<number>;
  allocSecure(len: number): { buffer: Buffer; locked: boolean };
  zero(buf: Buffer): void;
  /**
   * A page of sealed dirent names of directory `parent` (all under one KEK): each opened and checked
   * to hash back to its id; status[i] 0 = ok, 1 = authentication failed, 2 = name/key mismatch, 3 = error.
   */
  openNames(parent: number, indexKey: Buffer, kek: Buffer, info: Buffer, ids: Buffer, nonces: Buffer, tags: Buffer,
    ciphertexts: Buffer, offsets: Buffer, out: Buffer, status: Buffer): Promise<void>;
}

const FUNCTIONS = ['seal', 'open', 'sealMany', 'openMany', 'poolThreads', 'digest', 'hkdf', 'gcm', 'crc32', 'crc32Async', 'allocSecure', 'zero', 'openNames'] as const;

/** The binding, or the reason it is unusable (addon not built, or built without native/crypto). */
export function loadCryptoBinding(): { kind: 'loaded'; binding: CryptoBinding } | { kind: 'missing'; reason: string } {
  let ns: Record<string, unknown>;
  try {
    ns = loadNative().crypto;
  } catch (err) {
    return { kind: 'missing', reason: `kiseki_native.node did not load: ${(err as Error).message.replace(/\s+/g, ' ').trim()}` };
  }
  const absent = FUNCTIONS.filter((f) => typeof ns?.[f] !== 'function');
  if (absent.length > 0) return { kind: 'missing', reason: `kiseki_native.node lacks crypto.${absent.join(', crypto.')}` };
  return { kind: 'loaded', binding: ns as unknown as CryptoBinding };
}

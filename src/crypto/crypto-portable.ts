// The portable path (ADR 0010): node:crypto for SHA-256, HMAC, HKDF and AES-256-GCM (libsodium.js has
// no AES-GCM), libsodium-wrappers for zeroing key material. Runs on the main thread; used where the
// addon's crypto is missing, or when KISEKI_CRYPTO=portable.
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync } from 'node:crypto';
import zlib from 'node:zlib';
import type sodiumType from 'libsodium-wrappers';
import {
  ID_BYTES, KEY_BYTES, TAG_BYTES,
  type CryptoBackend, type DigestKind, type IdCheck, type OpenRequest, type OpenResult, type SealRequest, type Sealed,
} from './crypto-backend.js';

type Sodium = typeof sodiumType;

export class PortableCryptoBackend implements CryptoBackend {
  readonly name = 'portable' as const;
  readonly #sodium: Sodium;

  constructor(sodium: Sodium) {
    this.#sodium = sodium;
  }

  async seal(req: SealRequest): Promise<Sealed> {
    const chunkId = req.id.kind === 'given' ? Buffer.from(req.id.id) : this.#digestSync(req.id, req.plaintext);
    const dek = this.hkdf(req.kek, chunkId, req.info);
    try {
      const cipher = createCipheriv('aes-256-gcm', dek, req.nonce, { authTagLength: TAG_BYTES });
      cipher.setAAD(chunkId);
      const head = cipher.update(req.plaintext);
      const tail = cipher.final();
      const ciphertext = tail.length === 0 ? head : Buffer.concat([head, tail]);
      return { chunkId, ciphertext, tag: cipher.getAuthTag() };
    } finally {
      this.zero(dek);
    }
  }

  async open(req: OpenRequest): Promise<OpenResult> {
    const dek = this.hkdf(req.kek, req.chunkId, req.info);
    let plaintext: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-gcm', dek, req.nonce, { authTagLength: TAG_BYTES });
      decipher.setAAD(req.chunkId);
      decipher.setAuthTag(req.tag);
      plaintext = decipher.update(req.ciphertext);
      try {
        decipher.final();
      } catch {
        this.zero(plaintext);
        return { kind: 'auth-failed' };
      }
    } finally {
      this.zero(dek);
    }
    if (!this.#idMatches(req.check, plaintext, req.chunkId)) {
      this.zero(plaintext);
      return { kind: 'id-mismatch' };
    }
    return { kind: 'ok', plaintext };
  }

  async digest(kind: DigestKind, data: Buffer): Promise<Buffer> {
    return this.#digestSync(kind, data);
  }

  hkdf(ikm: Buffer, salt: Buffer, info: Buffer): Buffer {
    return Buffer.from(hkdfSync('sha256', ikm, salt, info, KEY_BYTES));
  }

  crc32(data: Buffer, prev = 0): number {
    return zlib.crc32(data, prev);
  }

  async crc32Async(data: Buffer, prev = 0): Promise<number> {
    return zlib.crc32(data, prev);
  }

  zero(buf: Buffer): void {
    this.#sodium.memzero(buf);
  }

  /** WebAssembly cannot mlock host memory: a plain, unpooled Buffer that wipe() zeroes. */
  allocKeyMemory(len: number): { buffer: Buffer; locked: boolean } {
    return { buffer: Buffer.alloc(len), locked: false };
  }

  #digestSync(kind: DigestKind, data: Buffer): Buffer {
    return kind.kind === 'sha256'
      ? createHash('sha256').update(data).digest()
      : createHmac('sha256', kind.key).update(data).digest();
  }

  #idMatches(check: IdCheck, plaintext: Buffer, expected: Buffer): boolean {
    if (check.kind === 'none') return true;
    const actual = this.#digestSync(check, plaintext);
    return actual.length === ID_BYTES && actual.equals(expected);
  }
}

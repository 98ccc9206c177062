// The portable path (ADR 0010): node:crypto for SHA-256, HMAC, HKDF and AES-256-GCM (libsodium.js has
// no AES-GCM), libsodium-wrappers for zeroing key material. Runs on the main thread; used where the
// addon's crypto is missing, or when KISEKI_CRYPTO=portable.
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync } from 'node:crypto';
import type sodiumType from 'libsodium-wrappers';
import { crc32Sync } from './crc32-sync.js';
import {
  ID_BYTES, KEY_BYTES, TAG_BYTES,
  type CryptoBackend, type DigestKind, type IdCheck, type OpenRequest, type OpenResult, type SealRequest, type Sealed,
} from './crypto-backend.js';

type Sodium = typeof sodiumType;

/** node:crypto allocates its own output; a caller-given buffer costs one copy on this path. */
function intoOutput(produced: Buffer, output: Buffer | undefined): Buffer {
  if (output === undefined) return produced;
  produced.copy(output);
  return output;
}

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
      const ciphertext = intoOutput(cipher.update(req.plaintext), req.output);
      cipher.final();
      return { chunkId, ciphertext, tag: cipher.getAuthTag() };
    } finally {
      this.zero(dek);
    }
  }

  async open(req: OpenRequest): Promise<OpenResult> {
    const dek = this.hkdf(req.kek, req.chunkId, req.info);
    let produced: Buffer;
    let authentic = true;
    try {
      const decipher = createDecipheriv('aes-256-gcm', dek, req.nonce, { authTagLength: TAG_BYTES });
      decipher.setAAD(req.chunkId);
      decipher.setAuthTag(req.tag);
      produced = decipher.update(req.ciphertext);
      try {
        decipher.final();
      } catch {
        authentic = false;
      }
    } finally {
      this.zero(dek);
    }
    const idOk = authentic && this.#idMatches(req.check, produced, req.chunkId);
    if (!idOk) {
      this.zero(produced);
      if (req.output !== undefined) this.zero(req.output);
      return { kind: authentic ? 'id-mismatch' : 'auth-failed' };
    }
    return { kind: 'ok', plaintext: intoOutput(produced, req.output) };
  }

  async digest(kind: DigestKind, data: Buffer): Promise<Buffer> {
    return this.#digestSync(kind, data);
  }

  gcmSealRaw(key: Buffer, nonce: Buffer, aad: Buffer, plaintext: Buffer): { ciphertext: Buffer; tag: Buffer } {
    const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad);
    const ciphertext = cipher.update(plaintext);
    cipher.final();
    return { ciphertext, tag: cipher.getAuthTag() };
  }

  gcmOpenRaw(key: Buffer, nonce: Buffer, aad: Buffer, ciphertext: Buffer, tag: Buffer): Buffer | null {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    const plaintext = decipher.update(ciphertext);
    try {
      decipher.final();
      return plaintext;
    } catch {
      this.zero(plaintext);
      return null;
    }
  }

  hkdf(ikm: Buffer, salt: Buffer, info: Buffer): Buffer {
    return Buffer.from(hkdfSync('sha256', ikm, salt, info, KEY_BYTES));
  }

  crc32(data: Buffer, prev = 0): number {
    return crc32Sync(data, prev);
  }

  async crc32Async(data: Buffer, prev = 0): Promise<number> {
    return crc32Sync(data, prev);
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

// The fast path: one thread-pool job per seal or open (id, HKDF, AES-256-GCM, optional re-hash), so
// both cores work and the main thread only allocates the output Buffers.
import type { CryptoBinding } from './crypto-binding.js';
import {
  ID_BYTES, TAG_BYTES,
  type CryptoBackend, type DigestKind, type NamesOpenRequest, type OpenRequest, type OpenResult, type SealRequest, type Sealed,
} from './crypto-backend.js';

export class NativeCryptoBackend implements CryptoBackend {
  readonly name = 'native' as const;
  readonly #n: CryptoBinding;

  constructor(binding: CryptoBinding) {
    this.#n = binding;
  }

  async seal(req: SealRequest): Promise<Sealed> {
    const ciphertext = req.output ?? Buffer.allocUnsafeSlow(req.plaintext.length);
    const chunkId = req.id.kind === 'given' ? Buffer.from(req.id.id) : Buffer.allocUnsafe(ID_BYTES);
    const tag = Buffer.allocUnsafe(TAG_BYTES);
    const idKey = req.id.kind === 'hmac' ? req.id.key : null;
    await this.#n.seal(req.plaintext, ciphertext, chunkId, req.id.kind, idKey, req.kek, req.info, req.nonce, tag);
    return { chunkId, ciphertext, tag };
  }

  async open(req: OpenRequest): Promise<OpenResult> {
    const plaintext = req.output ?? Buffer.allocUnsafeSlow(req.ciphertext.length);
    const idKey = req.check.kind === 'hmac' ? req.check.key : null;
    const status = await this.#n.open(req.ciphertext, plaintext, req.chunkId, req.check.kind, idKey, req.kek,
      req.info, req.nonce, req.tag);
    return status === 'ok' ? { kind: 'ok', plaintext } : { kind: status };
  }

  async openNames(req: NamesOpenRequest): Promise<{ plaintext: Buffer; status: Uint8Array }> {
    const plaintext = Buffer.allocUnsafeSlow(req.ciphertexts.length);
    const status = Buffer.alloc(req.offsets.length - 1);
    await this.#n.openNames(req.parent, req.indexKey, req.kek, req.info, req.ids, req.nonces, req.tags, req.ciphertexts,
      Buffer.from(req.offsets.buffer, req.offsets.byteOffset, req.offsets.byteLength), plaintext, status);
    return { plaintext, status };
  }

  async digest(kind: DigestKind, data: Buffer): Promise<Buffer> {
    const out = Buffer.allocUnsafe(ID_BYTES);
    await this.#n.digest(kind.kind, data, kind.kind === 'hmac' ? kind.key : null, out);
    return out;
  }

  gcmSealRaw(key: Buffer, nonce: Buffer, aad: Buffer, plaintext: Buffer): { ciphertext: Buffer; tag: Buffer } {
    const ciphertext = Buffer.alloc(plaintext.length);
    const tag = Buffer.alloc(TAG_BYTES);
    this.#n.gcm(false, key, nonce, aad, plaintext, ciphertext, tag);
    return { ciphertext, tag };
  }

  gcmOpenRaw(key: Buffer, nonce: Buffer, aad: Buffer, ciphertext: Buffer, tag: Buffer): Buffer | null {
    const plaintext = Buffer.alloc(ciphertext.length);
    return this.#n.gcm(true, key, nonce, aad, ciphertext, plaintext, tag) ? plaintext : null;
  }

  hkdf(ikm: Buffer, salt: Buffer, info: Buffer): Buffer {
    const out = Buffer.alloc(ID_BYTES);
    this.#n.hkdf(ikm, salt, info, out);
    return out;
  }

  crc32(data: Buffer, prev = 0): number {
    return this.#n.crc32(data, prev);
  }

  crc32Async(data: Buffer, prev = 0): Promise<number> {
    return this.#n.crc32Async(data, prev);
  }

  zero(buf: Buffer): void {
    this.#n.zero(buf);
  }

  allocKeyMemory(len: number): { buffer: Buffer; locked: boolean } {
    return this.#n.allocSecure(len);
  }
}

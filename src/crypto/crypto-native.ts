// The fast path: one job on the crypto pool (one thread per CPU, ADR 0015) per seal or open — id, HKDF,
// AES-256-GCM, optional re-hash — or per batch (sealMany/openMany, ADR 0014), so both cores work and
// the main thread only allocates the output Buffers.
import { kerr } from '../errors.js';
import type { CryptoBinding } from './crypto-binding.js';
import {
  ID_BYTES, NONCE_BYTES, TAG_BYTES,
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

  async sealMany(reqs: readonly SealRequest[]): Promise<Sealed[]> {
    const first = reqs[0];
    if (first === undefined) return [];
    const idKey = first.id.kind === 'hmac' ? first.id.key : null;
    const same = (r: SealRequest): boolean => r.id.kind === first.id.kind && (r.id.kind !== 'hmac' || r.id.key === idKey) &&
      r.kek === first.kek && r.info === first.info;
    if (!reqs.every(same)) throw kerr('InvalidArgument', 'sealMany: every request of a batch must share id kind, id key, kek and info');
    const { ids, nonces, tags } = packBatch(reqs.map((r) => ({ id: r.id.kind === 'given' ? r.id.id : undefined, nonce: r.nonce })));
    const outputs = reqs.map((r) => r.output ?? Buffer.allocUnsafeSlow(r.plaintext.length));
    await this.#n.sealMany(reqs.map((r) => r.plaintext), outputs, ids, first.id.kind, idKey, first.kek, first.info, nonces, tags);
    return outputs.map((ciphertext, i) => ({
      chunkId: ids.subarray(i * ID_BYTES, (i + 1) * ID_BYTES), ciphertext, tag: tags.subarray(i * TAG_BYTES, (i + 1) * TAG_BYTES),
    }));
  }

  async openMany(reqs: readonly OpenRequest[]): Promise<OpenResult[]> {
    const n = reqs.length;
    const first = reqs[0];
    if (first === undefined) return [];
    const idKey = first.check.kind === 'hmac' ? first.check.key : null;
    const same = (r: OpenRequest): boolean => r.check.kind === first.check.kind &&
      (r.check.kind !== 'hmac' || r.check.key === idKey) && r.info === first.info;
    if (!reqs.every(same)) throw kerr('InvalidArgument', 'openMany: every request of a batch must share check, id key and info');
    const { ids, nonces, tags } = packBatch(reqs.map((r) => ({ id: r.chunkId, nonce: r.nonce, tag: r.tag })));
    const outputs = reqs.map((r) => r.output ?? Buffer.allocUnsafeSlow(r.ciphertext.length));
    const status = Buffer.alloc(n, 3);
    await this.#n.openMany(reqs.map((r) => r.ciphertext), outputs, ids, first.check.kind, idKey, reqs.map((r) => r.kek),
      first.info, nonces, tags, status);
    return outputs.map((plaintext, i): OpenResult => {
      switch (status[i]) {
        case 0: return { kind: 'ok', plaintext };
        case 1: return { kind: 'auth-failed' };
        case 2: return { kind: 'id-mismatch' };
        default: return { kind: 'error' };
      }
    });
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

/** The ids, nonces and tags of a batch concatenated as the native call takes them (absent ones left for it to fill). */
function packBatch(items: ReadonlyArray<{ id?: Buffer; nonce: Buffer; tag?: Buffer }>): { ids: Buffer; nonces: Buffer; tags: Buffer } {
  const n = items.length;
  const ids = Buffer.allocUnsafe(n * ID_BYTES);
  const nonces = Buffer.allocUnsafe(n * NONCE_BYTES);
  const tags = Buffer.allocUnsafe(n * TAG_BYTES);
  items.forEach((it, i) => {
    it.id?.copy(ids, i * ID_BYTES);
    it.nonce.copy(nonces, i * NONCE_BYTES);
    it.tag?.copy(tags, i * TAG_BYTES);
  });
  return { ids, nonces, tags };
}

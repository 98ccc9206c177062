// Kiseki's tenant wrap (brief §3.5, `wrap_for_tenant` / `unwrap_tenant`), for interoperability with
// envelopes written by Kiseki's own gateway. Not on kiseki-client's data path: our envelopes are
// sealed at the tenant layer and leave tenant_wrapped_material empty (ADR 0011).
//   material = system_epoch (u64 LE) || chunk_id (32)        40 bytes
//   blob     = nonce (12) || AES-256-GCM(KEK, nonce, AAD = "kiseki-tenant-wrap-v1", material) || tag (16)
import { randomFillSync } from 'node:crypto';
import { kerr } from '../errors.js';
import { ID_BYTES, KEY_BYTES, NONCE_BYTES, TAG_BYTES, type CryptoBackend } from './crypto-backend.js';
import { defaultBackend } from './crypto-select.js';

const WRAP_AAD = Buffer.from('kiseki-tenant-wrap-v1', 'ascii');
const MATERIAL_BYTES = 8 + ID_BYTES;
export const TENANT_WRAP_BYTES = NONCE_BYTES + MATERIAL_BYTES + TAG_BYTES;

function checkKey(kek: Buffer): void {
  if (kek.length !== KEY_BYTES) throw kerr('InvalidArgument', `tenant KEK must be ${KEY_BYTES} bytes`);
}

/** The wrap with a given nonce: only the known-answer tests call this directly. */
export function wrapWithNonce(backend: CryptoBackend, kek: Buffer, systemEpoch: number, chunkId: Buffer,
  nonce: Buffer): Buffer {
  checkKey(kek);
  if (chunkId.length !== ID_BYTES) throw kerr('InvalidArgument', `chunk id must be ${ID_BYTES} bytes`);
  const material = Buffer.alloc(MATERIAL_BYTES);
  material.writeBigUInt64LE(BigInt(systemEpoch));
  chunkId.copy(material, 8);
  const { ciphertext, tag } = backend.gcmSealRaw(kek, nonce, WRAP_AAD, material);
  return Buffer.concat([nonce, ciphertext, tag]);
}

/** `wrap_for_tenant`: the 68-byte tenant_wrapped_material for (epoch, chunk id) under a tenant KEK. */
export async function wrapForTenant(kek: Buffer, systemEpoch: number, chunkId: Buffer,
  opts?: { backend?: CryptoBackend }): Promise<Buffer> {
  const backend = opts?.backend ?? await defaultBackend();
  return wrapWithNonce(backend, kek, systemEpoch, chunkId, randomFillSync(Buffer.allocUnsafe(NONCE_BYTES)));
}

/** `unwrap_tenant`: the system epoch inside a blob, after checking it names `expectedChunkId`. */
export async function unwrapTenant(kek: Buffer, blob: Buffer, expectedChunkId: Buffer,
  opts?: { backend?: CryptoBackend }): Promise<{ systemEpoch: number }> {
  checkKey(kek);
  const backend = opts?.backend ?? await defaultBackend();
  if (blob.length !== TENANT_WRAP_BYTES) {
    throw kerr('Integrity', `tenant_wrapped_material is ${blob.length} bytes, not ${TENANT_WRAP_BYTES}`);
  }
  const material = backend.gcmOpenRaw(kek, blob.subarray(0, NONCE_BYTES), WRAP_AAD,
    blob.subarray(NONCE_BYTES, NONCE_BYTES + MATERIAL_BYTES), blob.subarray(NONCE_BYTES + MATERIAL_BYTES));
  if (material === null) throw kerr('Integrity', 'tenant_wrapped_material failed authentication under this tenant KEK');
  if (!material.subarray(8).equals(expectedChunkId)) {
    throw kerr('Integrity', 'tenant_wrapped_material names another chunk than the envelope');
  }
  const epoch = material.readBigUInt64LE(0);
  if (epoch > BigInt(Number.MAX_SAFE_INTEGER)) throw kerr('Integrity', `wrapped system epoch ${epoch} is out of range`);
  return { systemEpoch: Number(epoch) };
}

// Test chunks: sealed-looking envelopes whose chunk id is the SHA-256 of their ciphertext, so any
// byte that moves wrong is caught by re-hashing what came back.
import { createHash, randomBytes } from 'node:crypto';
import { EncryptionAlgorithm, type Envelope } from '../../src/gen/kiseki/v1/chunk.js';

export function makeEnvelope(size: number): Envelope {
  const ciphertext = randomBytes(size);
  return {
    ciphertext,
    authTag: randomBytes(16),
    nonce: randomBytes(12),
    algorithm: EncryptionAlgorithm.ENCRYPTION_ALGORITHM_AES_256_GCM,
    systemEpoch: { value: 1 },
    tenantEpoch: { value: 1 },
    tenantWrappedMaterial: Buffer.alloc(0),
    chunkId: { value: createHash('sha256').update(ciphertext).digest() },
  } as Envelope;
}

export function idOf(e: Envelope): Buffer {
  return Buffer.from(e.chunkId!.value);
}

/** Null when every envelope's ciphertext hashes to its id and matches what was sent; else why not. */
export function checkEnvelopes(sent: readonly Envelope[], got: readonly Envelope[]): string | null {
  if (sent.length !== got.length) return `${got.length} envelopes for ${sent.length} requested`;
  for (let i = 0; i < sent.length; i++) {
    const g = got[i]!;
    const sum = createHash('sha256').update(g.ciphertext).digest();
    if (!sum.equals(idOf(sent[i]!))) return `chunk ${i}: checksum mismatch`;
    if (!Buffer.from(g.authTag).equals(Buffer.from(sent[i]!.authTag))) return `chunk ${i}: auth tag differs`;
    if (!Buffer.from(g.nonce).equals(Buffer.from(sent[i]!.nonce))) return `chunk ${i}: nonce differs`;
  }
  return null;
}

/** Sizes covering tiny, odd, exactly-one-chunk and multi-MiB envelopes. */
export const SIZES = [1, 4095, 65_537, 1 << 20, (4 << 20) - 7, 4 << 20];

/** Tenants are UUIDs (kiseki-node's FileChunkStore refuses anything else). */
export const TENANT_A = '6f1d3a2e-8c4b-4d7e-9a10-2b3c4d5e6f70';
export const TENANT_B = '0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d';

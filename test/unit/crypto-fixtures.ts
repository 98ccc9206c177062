// Shared fixtures of the crypto tests: both backends, and keyrings built from real
// FetchTenantKeysResponse messages (encoded and decoded, as they arrive over gRPC).
import { randomBytes } from 'node:crypto';
import { DedupPolicy } from '../../src/gen/kiseki/v1/common.js';
import { FetchTenantKeysResponse } from '../../src/gen/kiseki/v1/tenant_keys.js';
import type { CryptoBackend } from '../../src/crypto/crypto-backend.js';
import { nativeBackend, portableBackend } from '../../src/crypto/crypto-select.js';
import { TenantKeyring } from '../../src/crypto/keyring.js';

export async function bothBackends(): Promise<CryptoBackend[]> {
  return [nativeBackend(), await portableBackend()];
}

export interface KeySpec {
  keks: { epoch: number; kek: Buffer }[];
  current?: number;
  indexKey?: Buffer;
  dedup?: DedupPolicy;
}

/** A response as the key service would send it, round-tripped through the protobuf codec. */
export function keyResponse(spec: KeySpec): FetchTenantKeysResponse {
  const msg = FetchTenantKeysResponse.fromPartial({
    tenantId: { value: '0b6f6c1e-7a43-4c1a-9d7e-3f1a2b3c4d5e' },
    currentEpoch: { value: spec.current ?? Math.max(...spec.keks.map((k) => k.epoch)) },
    keks: spec.keks.map((k) => ({ epoch: { value: k.epoch }, kek: k.kek })),
    indexKey: spec.indexKey ?? Buffer.alloc(32, 0x11),
    dedupPolicy: spec.dedup ?? DedupPolicy.DEDUP_POLICY_CROSS_TENANT,
  });
  return FetchTenantKeysResponse.decode(FetchTenantKeysResponse.encode(msg).finish());
}

export function keyring(backend: CryptoBackend, spec: KeySpec): TenantKeyring {
  return TenantKeyring.fromResponse(keyResponse(spec), backend);
}

export function randomKeyring(backend: CryptoBackend, dedup = DedupPolicy.DEDUP_POLICY_CROSS_TENANT): TenantKeyring {
  return keyring(backend, { keks: [{ epoch: 1, kek: randomBytes(32) }], indexKey: randomBytes(32), dedup });
}

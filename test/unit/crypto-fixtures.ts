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

export const hex = (s: string): Buffer => Buffer.from(s, 'hex');
export const HELLO = Buffer.from('hello kiseki');
/** Brief §3.11: "hello kiseki" under KEK 0x42×32 and nonce 00…0b. */
export const V = {
  idHello: '9c4f84d53bf3aec90adf94172bb5e6618321a815f129154c4f1bc360851dba8f',
  idEmpty: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  hmacHello: 'a7424cbf789ec8b60b55c45c854af4848db5534a200bf960c61e77250c9559f0',
  dek: 'b93fc9e7e927de58cdd094a8954706e94abda8fbe53220120b939950e34c0d40',
  ciphertext: '282b3ea7e23399dfe742dccb',
  tag: '33cbdd11b3231a2ba8d3c7a40aa4ff1d',
  nonce: '000102030405060708090a0b',
};

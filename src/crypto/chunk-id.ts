// Chunk ids (brief §3.6): SHA-256(plaintext) for tenants that share dedup (CROSS_TENANT, the default),
// HMAC-SHA256(index key, plaintext) for tenants that opt out (TENANT_ISOLATED).
import { kerr } from '../errors.js';
import { DedupPolicy } from '../gen/kiseki/v1/common.js';
import { KEY_BYTES, type CryptoBackend, type DigestKind } from './crypto-backend.js';
import { defaultBackend } from './crypto-select.js';

/** The digest that yields chunk ids under `policy`. */
export function idDigestFor(policy: DedupPolicy, indexKey?: Buffer): DigestKind {
  switch (policy) {
    case DedupPolicy.DEDUP_POLICY_UNSPECIFIED:
    case DedupPolicy.DEDUP_POLICY_CROSS_TENANT:
      return { kind: 'sha256' };
    case DedupPolicy.DEDUP_POLICY_TENANT_ISOLATED:
      if (indexKey === undefined || indexKey.length !== KEY_BYTES) {
        throw kerr('InvalidArgument', 'a tenant with DEDUP_POLICY_TENANT_ISOLATED needs its 32-byte index key for chunk ids');
      }
      return { kind: 'hmac', key: indexKey };
    default:
      throw kerr('InvalidArgument', `unknown dedup policy ${String(policy)}`);
  }
}

export async function chunkIdOf(plaintext: Buffer, policy: DedupPolicy, indexKey?: Buffer,
  opts?: { backend?: CryptoBackend }): Promise<Buffer> {
  const backend = opts?.backend ?? await defaultBackend();
  return backend.digest(idDigestFor(policy, indexKey), plaintext);
}

// Tenant key material over the data path: FetchTenantKeys (every KEK epoch the tenant may read
// with, plus the index key) and the cheap KeyHealth probe the cache's key-health watcher calls every
// key_health_interval_ms. The tenant is never named: the node takes it from our certificate.
import { DedupPolicy } from '../gen/kiseki/v1/common.js';
import { KeyHealthState, TenantKeyAccessServiceService, type FetchTenantKeysResponse } from '../gen/kiseki/v1/tenant_keys.js';
import { KisekiError, kerr } from '../errors.js';
import { callUnary, isRetriable, type RpcEnv } from './rpc.js';
import { formatSeed, type SeedAddress } from './seeds.js';

export interface TenantKeyMaterial {
  tenantId: string;
  currentEpoch: number;
  /** Newest first; each KEK is 32 bytes and lives only in this process's memory. */
  keks: { epoch: number; kek: Buffer }[];
  indexKey: Buffer;
  dedup: 'cross-tenant' | 'tenant-isolated';
}

const KEY_BYTES = 32;

/** Validates the node's answer: a wrong-length key would seal data nobody can open again. */
export function keyMaterialFrom(res: FetchTenantKeysResponse, where: string): TenantKeyMaterial {
  const bad = (why: string) => kerr('Integrity', `FetchTenantKeys at ${where} returned unusable keys: ${why}`);
  const tenantId = res.tenantId?.value ?? '';
  if (tenantId === '') throw bad('no tenant id');
  if (res.keks.length === 0) throw bad('no KEK epochs');
  const keks = res.keks.map((k) => {
    const epoch = k.epoch?.value;
    if (epoch === undefined || !Number.isSafeInteger(epoch)) throw bad('a KEK without an epoch');
    if (k.kek.length !== KEY_BYTES) throw bad(`KEK epoch ${epoch} is ${k.kek.length} bytes, want ${KEY_BYTES}`);
    return { epoch, kek: Buffer.from(k.kek) };
  }).sort((a, b) => b.epoch - a.epoch);
  if (new Set(keks.map((k) => k.epoch)).size !== keks.length) throw bad('duplicate KEK epochs');
  const currentEpoch = res.currentEpoch?.value ?? keks[0]!.epoch;
  if (!keks.some((k) => k.epoch === currentEpoch)) throw bad(`current epoch ${currentEpoch} has no KEK`);
  if (res.indexKey.length !== KEY_BYTES) throw bad(`index key is ${res.indexKey.length} bytes, want ${KEY_BYTES}`);
  const dedup = res.dedupPolicy === DedupPolicy.DEDUP_POLICY_TENANT_ISOLATED ? 'tenant-isolated' : 'cross-tenant';
  return { tenantId, currentEpoch, keks, indexKey: Buffer.from(res.indexKey), dedup };
}

/** Rejects with KisekiError 'KeyDestroyed' once the tenant was crypto-shredded. */
export async function fetchTenantKeys(env: RpcEnv, node: SeedAddress): Promise<TenantKeyMaterial> {
  const res = await callUnary(env, node, TenantKeyAccessServiceService.fetchTenantKeys, {});
  return keyMaterialFrom(res, formatSeed(node));
}

export type KeyHealth = 'healthy' | 'destroyed' | 'unreachable';

/** Only 'destroyed' may wipe; any failure to ask is 'unreachable' and left to the disconnect timer. */
export async function probeKeyHealth(env: RpcEnv, node: SeedAddress): Promise<KeyHealth> {
  try {
    const res = await callUnary(env, node, TenantKeyAccessServiceService.keyHealth, {});
    switch (res.state) {
      case KeyHealthState.KEY_HEALTH_STATE_HEALTHY:
        return 'healthy';
      case KeyHealthState.KEY_HEALTH_STATE_DESTROYED:
        return 'destroyed';
      default:
        return 'unreachable';
    }
  } catch (err) {
    if (KisekiError.is(err, 'KeyDestroyed')) return 'destroyed';
    if (isRetriable(err) || KisekiError.is(err)) return 'unreachable';
    throw err;
  }
}

/** Overwrites key bytes in place (best effort: V8 may have copied them before). */
export function zeroKeyMaterial(keys: TenantKeyMaterial): void {
  for (const k of keys.keks) k.kek.fill(0);
  keys.indexKey.fill(0);
}

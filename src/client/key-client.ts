// Tenant key material over the data path: FetchTenantKeys (every KEK epoch the tenant may read
// with, plus the index key) into a TenantKeyring (src/crypto/keyring.ts validates the answer and
// zeroes it after copying), and the cheap KeyHealth probe the cache's key-health watcher calls every
// key_health_interval_ms. The tenant is never named: the node takes it from our certificate.
import { KeyHealthState, TenantKeyAccessServiceService } from '../gen/kiseki/v1/tenant_keys.js';
import { TenantKeyring } from '../crypto/keyring.js';
import { KisekiError } from '../errors.js';
import { callUnary, type RpcEnv } from './rpc.js';
import type { SeedAddress } from './seeds.js';

/** I-CC12: rejects with KisekiError 'KeyDestroyed' once the tenant was crypto-shredded. */
export async function fetchTenantKeys(env: RpcEnv, node: SeedAddress): Promise<TenantKeyring> {
  return TenantKeyring.create(await callUnary(env, node, TenantKeyAccessServiceService.fetchTenantKeys, {}));
}

export type KeyHealth = 'healthy' | 'destroyed' | 'unreachable';

/** Only 'destroyed' may wipe; a failure to ask is 'unreachable' and left to the disconnect timer (I-CC6). */
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
    if (KisekiError.is(err)) return 'unreachable';
    throw err;
  }
}

// Offline administration on a node's data directory. Runs beside a live node: both open the same
// SQLite database in WAL mode, and each command is one short transaction.
import { readFileSync } from 'node:fs';
import { parsePolicy } from '../cache/cache-policy.js';
import { kerr } from '../errors.js';
import { DedupPolicy } from '../gen/kiseki/v1/common.js';
import { isTenantUuid } from './identity.js';
import { openMetadataDb } from './metadata-db.js';
import { NamespaceStore } from './namespace-store.js';
import { TenantKeys } from './tenant-keys.js';
import { namespaceIdOf } from './validate.js';

export type AdminCommand =
  | { cmd: 'rotate-kek'; tenant: string }
  | { cmd: 'destroy-kek'; tenant: string }
  | { cmd: 'set-policy'; tenant: string; file: string }
  | { cmd: 'set-read-only'; tenant: string; namespace: string; off: boolean }
  | { cmd: 'set-dedup'; tenant: string; mode: 'isolated' | 'cross' };

/** Runs one command; returns the line to print. */
export function runAdmin(dataDir: string, c: AdminCommand): string {
  const tenant = c.tenant.toLowerCase();
  if (!isTenantUuid(tenant)) throw kerr('InvalidArgument', `--tenant must be a tenant UUID (got ${c.tenant})`);
  const db = openMetadataDb(dataDir);
  try {
    const keys = new TenantKeys(db);
    switch (c.cmd) {
      case 'rotate-kek':
        return `tenant ${tenant}: KEK epoch ${keys.rotate(tenant)} is now current`;
      case 'destroy-kek':
        keys.destroy(tenant);
        return `tenant ${tenant}: every KEK destroyed (crypto-shred); its data can no longer be decrypted`;
      case 'set-policy': {
        let value: unknown;
        try {
          value = JSON.parse(readFileSync(c.file, 'utf8'));
        } catch (err) {
          throw kerr('InvalidArgument', `${c.file} is not readable JSON: ${(err as Error).message}`);
        }
        const policy = parsePolicy(value, c.file);
        keys.setPolicyJson(tenant, JSON.stringify(policy));
        return `tenant ${tenant}: cache policy set from ${c.file} (new sessions only, I-CC10)`;
      }
      case 'set-read-only': {
        const ns = namespaceIdOf({ value: c.namespace }, '--namespace');
        new NamespaceStore(db).setReadOnly(tenant, ns, !c.off);
        return `tenant ${tenant}: namespace ${ns} is now ${c.off ? 'read-write' : 'read-only'}`;
      }
      case 'set-dedup':
        keys.setDedup(tenant, c.mode === 'isolated' ? DedupPolicy.DEDUP_POLICY_TENANT_ISOLATED : DedupPolicy.DEDUP_POLICY_CROSS_TENANT);
        return `tenant ${tenant}: dedup ${c.mode === 'isolated' ? 'TENANT_ISOLATED' : 'CROSS_TENANT'}`;
    }
  } finally {
    db.close();
  }
}

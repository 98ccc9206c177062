// Tenant key material kept by the reference node (ADR 0051): per tenant a KEK per epoch, a 32-byte
// index key that never rotates, a dedup policy and a cache policy. Tenants are provisioned on first
// contact. destroy() is the crypto-shred: every KEK row is deleted (secure_delete overwrites it) and
// the tenant is marked destroyed for good.
import { randomBytes } from 'node:crypto';
import { KisekiError } from '../errors.js';
import { DedupPolicy } from '../gen/kiseki/v1/common.js';
import type { Db } from './metadata-db.js';

export interface TenantKeySet {
  readonly tenant: string;
  readonly currentEpoch: number;
  /** Newest first. */
  readonly keks: readonly { epoch: number; kek: Buffer }[];
  readonly indexKey: Buffer;
  readonly dedup: DedupPolicy;
}

/** The exact FAILED_PRECONDITION message of FetchTenantKeys for a shredded tenant (tenant_keys.proto). */
export const KEK_DESTROYED = 'KEK_DESTROYED';

export const KEY_BYTES = 32;

interface TenantRow { tenant: string; index_key: Buffer; dedup: number; destroyed: number; policy: string | null }

export class TenantKeys {
  private readonly q;

  constructor(private readonly db: Db, private readonly nowMs: () => number = Date.now) {
    this.q = {
      tenant: db.prepare<[string], TenantRow>('SELECT tenant, index_key, dedup, destroyed, policy FROM tenants WHERE tenant = ?'),
      insertTenant: db.prepare('INSERT OR IGNORE INTO tenants (tenant, index_key, dedup, created_ms) VALUES (?, ?, ?, ?)'),
      keks: db.prepare<[string], { epoch: number; kek: Buffer }>('SELECT epoch, kek FROM keks WHERE tenant = ? ORDER BY epoch DESC'),
      maxEpoch: db.prepare<[string], { e: number | null }>('SELECT MAX(epoch) AS e FROM keks WHERE tenant = ?'),
      insertKek: db.prepare('INSERT INTO keks (tenant, epoch, kek) VALUES (?, ?, ?)'),
      deleteKeks: db.prepare('DELETE FROM keks WHERE tenant = ?'),
      destroy: db.prepare('UPDATE tenants SET destroyed = 1, index_key = zeroblob(32) WHERE tenant = ?'),
      setDedup: db.prepare('UPDATE tenants SET dedup = ? WHERE tenant = ?'),
      setPolicy: db.prepare('UPDATE tenants SET policy = ? WHERE tenant = ?'),
    };
  }

  /** The tenant's row, provisioning KEK epoch 1, an index key and CROSS_TENANT dedup on first contact. */
  private ensure(tenant: string): TenantRow {
    const existing = this.q.tenant.get(tenant);
    if (existing) return existing;
    this.db.transaction(() => {
      const r = this.q.insertTenant.run(tenant, randomBytes(KEY_BYTES), DedupPolicy.DEDUP_POLICY_CROSS_TENANT, this.nowMs());
      if (r.changes === 1) this.q.insertKek.run(tenant, 1, randomBytes(KEY_BYTES));
    }).immediate();
    return this.q.tenant.get(tenant)!;
  }

  private live(tenant: string): TenantRow {
    const row = this.ensure(tenant);
    if (row.destroyed) throw new KisekiError('KeyDestroyed', KEK_DESTROYED);
    return row;
  }

  fetch(tenant: string): TenantKeySet {
    return this.db.transaction(() => {
      const row = this.live(tenant);
      const keks = this.q.keks.all(tenant);
      return { tenant, currentEpoch: keks[0]!.epoch, keks, indexKey: row.index_key, dedup: row.dedup as DedupPolicy };
    }).deferred();
  }

  health(tenant: string): { destroyed: boolean; currentEpoch: number } {
    const row = this.ensure(tenant);
    if (row.destroyed) return { destroyed: true, currentEpoch: 0 };
    return { destroyed: false, currentEpoch: this.q.maxEpoch.get(tenant)!.e ?? 0 };
  }

  /** Adds a new current epoch; older epochs stay readable. */
  rotate(tenant: string): number {
    return this.db.transaction(() => {
      this.live(tenant);
      const next = (this.q.maxEpoch.get(tenant)!.e ?? 0) + 1;
      this.q.insertKek.run(tenant, next, randomBytes(KEY_BYTES));
      return next;
    }).immediate();
  }

  /** Crypto-shred: irreversible. */
  destroy(tenant: string): void {
    this.db.transaction(() => {
      this.ensure(tenant);
      this.q.deleteKeks.run(tenant);
      this.q.destroy.run(tenant);
    }).immediate();
  }

  setDedup(tenant: string, dedup: DedupPolicy): void {
    this.db.transaction(() => {
      this.live(tenant);
      this.q.setDedup.run(dedup, tenant);
    }).immediate();
  }

  /** The stored cache policy JSON, or null for the default. */
  policyJson(tenant: string): string | null {
    return this.ensure(tenant).policy;
  }

  setPolicyJson(tenant: string, json: string | null): void {
    this.db.transaction(() => {
      this.ensure(tenant);
      this.q.setPolicy.run(json, tenant);
    }).immediate();
  }
}


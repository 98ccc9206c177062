// The small tenant-facing services: discovery and heartbeat, tenant keys and key health, the cache
// policy, and Kiseki's KeyManagerService health. Each is a handful of lines over Cluster/TenantKeys.
import { DEFAULT_POLICY, parsePolicy } from '../cache/cache-policy.js';
import { type CachePolicyServiceServer } from '../gen/kiseki/v1/cache_policy.js';
import { type DiscoveryServiceServer } from '../gen/kiseki/v1/discovery.js';
import { type KeyManagerServiceServer } from '../gen/kiseki/v1/key.js';
import { KeyHealthState, type TenantKeyAccessServiceServer } from '../gen/kiseki/v1/tenant_keys.js';
import type { Cluster } from './cluster.js';
import { type HandlerFactory, anyone, tenantOf, tenantsOnly } from './rpc.js';
import type { TenantKeys } from './tenant-keys.js';
import { invalid } from './validate.js';

export const CLIENT_ID_BYTES = 16;

export function discoveryService(h: HandlerFactory, cluster: () => Cluster, nowMs: () => number = Date.now): DiscoveryServiceServer {
  return {
    discover: h.unary(anyone, () => cluster().discover()),
    heartbeat: h.unary(anyone, (req) => {
      if (req.clientId.length !== CLIENT_ID_BYTES) throw invalid('client_id', `must be ${CLIENT_ID_BYTES} bytes (got ${req.clientId.length})`);
      return { nodeId: { value: cluster().selfId }, serverTimeMs: nowMs() };
    }),
  };
}

export function tenantKeyService(h: HandlerFactory, keys: TenantKeys): TenantKeyAccessServiceServer {
  return {
    fetchTenantKeys: h.unary(tenantsOnly, (_req, ctx) => {
      const k = keys.fetch(tenantOf(ctx));
      return {
        tenantId: { value: k.tenant },
        currentEpoch: { value: k.currentEpoch },
        keks: k.keks.map((e) => ({ epoch: { value: e.epoch }, kek: e.kek })),
        indexKey: k.indexKey,
        dedupPolicy: k.dedup,
      };
    }),
    keyHealth: h.unary(tenantsOnly, (_req, ctx) => {
      const s = keys.health(tenantOf(ctx));
      return {
        state: s.destroyed ? KeyHealthState.KEY_HEALTH_STATE_DESTROYED : KeyHealthState.KEY_HEALTH_STATE_HEALTHY,
        currentEpoch: s.destroyed ? undefined : { value: s.currentEpoch },
      };
    }),
  };
}

/** The tenant's policy (set with `kiseki-node admin set-policy`), else DEFAULT_POLICY. workload_id narrows nothing yet. */
export function cachePolicyService(h: HandlerFactory, keys: TenantKeys): CachePolicyServiceServer {
  return {
    getCachePolicy: h.unary(tenantsOnly, (_req, ctx) => {
      const tenant = tenantOf(ctx);
      const json = keys.policyJson(tenant);
      const p = json === null ? DEFAULT_POLICY : parsePolicy(JSON.parse(json), `tenant ${tenant} policy`);
      return {
        cacheEnabled: p.cache_enabled,
        allowedModes: [...p.allowed_modes],
        maxCacheBytes: p.max_cache_bytes,
        maxNodeCacheBytes: p.max_node_cache_bytes,
        metadataTtlMs: p.metadata_ttl_ms,
        maxDisconnectSeconds: p.max_disconnect_seconds,
        keyHealthIntervalMs: p.key_health_interval_ms,
        stagingEnabled: p.staging_enabled,
        defaultMode: p.default_mode,
      };
    }),
  };
}

/** Kiseki's KeyManagerService: the caller's tenant epochs (peers: none) and the cluster's health. */
export function keyManagerService(h: HandlerFactory, keys: TenantKeys, cluster: () => Cluster): KeyManagerServiceServer {
  return {
    currentEpoch: h.unary(anyone, (_req, ctx) => {
      if (ctx.identity.kind !== 'tenant') return { current: undefined, retained: [] };
      const k = keys.fetch(ctx.identity.tenant);
      return { current: { value: k.currentEpoch }, retained: k.keks.slice(1).map((e) => ({ value: e.epoch })) };
    }),
    health: h.unary(anyone, (_req, ctx) => {
      const current = ctx.identity.kind === 'tenant' ? keys.health(ctx.identity.tenant) : null;
      return {
        currentEpoch: current && !current.destroyed ? { value: current.currentEpoch } : undefined,
        raftMembers: cluster().members.map((m) => m.id),
        leader: cluster().leader.id,
        healthy: true,
      };
    }),
  };
}


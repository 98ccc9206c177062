// Pool ids: 128 bits from the CSPRNG as 32 lowercase hex digits (I-WA4 strength). Any id that reaches a
// path (KISEKI_CACHE_POOL_ID, --pool) is validated first, so an id can never climb out of its tenant.
import { randomBytes } from 'node:crypto';
import { kerr } from '../errors.js';

export const POOL_ID_RE = /^[0-9a-f]{32}$/;

export function newPoolId(): string {
  return randomBytes(16).toString('hex');
}

export function isPoolId(value: string): boolean {
  return POOL_ID_RE.test(value);
}

export function parsePoolId(value: string, source: string): string {
  if (!isPoolId(value)) throw kerr('InvalidArgument', `${source} must be a cache pool id of 32 lowercase hex digits, got ${JSON.stringify(value)}`);
  return value;
}

/** Tenant directory names: one path component, no dot-names (those are the pool protocol's). */
export const TENANT_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export function parseTenant(value: string): string {
  if (!TENANT_RE.test(value)) throw kerr('InvalidArgument', `tenant ${JSON.stringify(value)} cannot name a cache directory: use letters, digits, '_', '-', '.'`);
  return value;
}

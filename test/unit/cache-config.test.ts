import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_L1_MAX_BYTES, defaultCacheDir, parseSize, resolveCacheConfig } from '../../src/cache/cache-config.js';
import { CONSERVATIVE_POLICY, DEFAULT_POLICY } from '../../src/cache/cache-policy.js';
import { newPoolId, parsePoolId, parseTenant } from '../../src/cache/pool-id.js';
import { KisekiError } from '../../src/errors.js';

test('sizes take bytes or binary K/M/G/T suffixes and reject anything else with the name', () => {
  assert.equal(parseSize('4096', 'x'), 4096);
  assert.equal(parseSize('256M', 'x'), 256 * 1024 ** 2);
  assert.equal(parseSize('50G', 'x'), 50 * 1024 ** 3);
  assert.equal(parseSize('100GiB', 'x'), 100 * 1024 ** 3);
  assert.equal(parseSize('1.5k', 'x'), 1536);
  assert.throws(() => parseSize('lots', 'cache_l2_max'), (e) => KisekiError.is(e, 'InvalidArgument') && /cache_l2_max/.test(e.message));
  assert.throws(() => parseSize('-1G', 'x'), /not a size/);
});

test('precedence: mount option > environment > policy, then clamped to the policy ceilings', () => {
  const env = { KISEKI_CACHE_MODE: 'bypass', KISEKI_CACHE_L2_MAX: '2G', KISEKI_CACHE_META_TTL_MS: '100', KISEKI_CACHE_L1_MAX: '64M', KISEKI_CACHE_DIR: '/e' };
  const fromEnv = resolveCacheConfig(DEFAULT_POLICY, { env });
  assert.equal(fromEnv.mode, 'bypass');
  assert.equal(fromEnv.l2MaxBytes, 2 * 1024 ** 3);
  assert.equal(fromEnv.metaTtlMs, 100);
  assert.equal(fromEnv.l1MaxBytes, 64 * 1024 ** 2);
  assert.equal(fromEnv.cacheDir, '/e');
  const fromMount = resolveCacheConfig(DEFAULT_POLICY, { env, mountOptions: { cache_mode: 'pinned', cache_l2_max: '1G', meta_ttl_ms: '0', cache_dir: '/m', cache_l1_max: '1M' } });
  assert.deepEqual([fromMount.mode, fromMount.l2MaxBytes, fromMount.metaTtlMs, fromMount.cacheDir, fromMount.l1MaxBytes], ['pinned', 1024 ** 3, 0, '/m', 1024 ** 2]);
  const clamped = resolveCacheConfig(CONSERVATIVE_POLICY, { env: {}, mountOptions: { cache_mode: 'pinned', cache_l2_max: '1T', meta_ttl_ms: '60000' } });
  assert.equal(clamped.mode, 'organic');
  assert.equal(clamped.l2MaxBytes, CONSERVATIVE_POLICY.max_cache_bytes);
  assert.equal(clamped.metaTtlMs, 5000);
  assert.equal(clamped.clamped.length, 3);
  const defaults = resolveCacheConfig(DEFAULT_POLICY, { env: {} });
  assert.deepEqual([defaults.mode, defaults.l1MaxBytes, defaults.l2MaxBytes, defaults.metaTtlMs, defaults.poolId], ['organic', DEFAULT_L1_MAX_BYTES, 50 * 1024 ** 3, 5000, null]);
});

test('bad modes, TTLs and pool ids are refused naming their source', () => {
  assert.throws(() => resolveCacheConfig(DEFAULT_POLICY, { env: { KISEKI_CACHE_MODE: 'turbo' } }), /KISEKI_CACHE_MODE/);
  assert.throws(() => resolveCacheConfig(DEFAULT_POLICY, { env: {}, mountOptions: { meta_ttl_ms: '5s' } }), /-o meta_ttl_ms/);
  assert.throws(() => resolveCacheConfig(DEFAULT_POLICY, { env: { KISEKI_CACHE_POOL_ID: '../../etc' } }), (e) => KisekiError.is(e, 'InvalidArgument') && /KISEKI_CACHE_POOL_ID/.test(e.message));
  const id = newPoolId();
  assert.equal(resolveCacheConfig(DEFAULT_POLICY, { env: { KISEKI_CACHE_POOL_ID: id } }).poolId, id);
});

test('pool ids are 128-bit CSPRNG hex and tenant names cannot escape the cache directory', () => {
  const ids = new Set(Array.from({ length: 1000 }, newPoolId));
  assert.equal(ids.size, 1000);
  for (const id of ids) assert.match(id, /^[0-9a-f]{32}$/);
  assert.throws(() => parsePoolId('ABCDEF0123456789ABCDEF0123456789', 'x'));
  for (const bad of ['..', '.', 'a/b', '', '.hidden', 'x'.repeat(200)]) assert.throws(() => parseTenant(bad), KisekiError, bad);
  assert.equal(parseTenant('org-7f3a.prod_1'), 'org-7f3a.prod_1');
});

test('root keeps /tmp/kiseki-cache; other users get a directory of their own', () => {
  assert.equal(defaultCacheDir(0), '/tmp/kiseki-cache');
  assert.equal(defaultCacheDir(1234), '/tmp/kiseki-cache-1234');
});

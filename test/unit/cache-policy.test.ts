import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CONSERVATIVE_POLICY, DEFAULT_POLICY, applyPolicy, parsePolicy, readPolicyFile, resolvePolicy, writePolicyFile,
} from '../../src/cache/cache-policy.js';
import { KisekiError } from '../../src/errors.js';

test('I-CC9 resolution: rpc first, then policy.json, then conservative defaults', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kpol-'));
  const fromFile = { ...DEFAULT_POLICY, allowed_modes: [...DEFAULT_POLICY.allowed_modes], max_cache_bytes: 123 };
  await writePolicyFile(dir, fromFile);
  assert.equal((await stat(join(dir, 'policy.json'))).mode & 0o777, 0o600);
  const rpcDown = async () => { throw new Error('UNAVAILABLE: no node'); };
  const viaRpc = await resolvePolicy([{ source: 'rpc', load: async () => ({ ...fromFile, max_cache_bytes: 7 }) }]);
  assert.equal(viaRpc.source, 'rpc');
  assert.equal(viaRpc.policy.max_cache_bytes, 7);
  const viaFile = await resolvePolicy([{ source: 'rpc', load: rpcDown }, { source: 'policy.json', load: () => readPolicyFile(dir) }]);
  assert.equal(viaFile.source, 'policy.json');
  assert.equal(viaFile.policy.max_cache_bytes, 123);
  assert.match(viaFile.skipped[0]!.reason, /UNAVAILABLE/);
  await writeFile(join(dir, 'policy.json'), JSON.stringify({ cache_enabled: true }));
  const viaDefaults = await resolvePolicy([{ source: 'rpc', load: rpcDown }, { source: 'policy.json', load: () => readPolicyFile(dir) }]);
  assert.equal(viaDefaults.source, 'conservative-defaults');
  assert.deepEqual(viaDefaults.policy, CONSERVATIVE_POLICY);
  assert.equal(viaDefaults.policy.staging_enabled, false);
  assert.equal(viaDefaults.policy.max_cache_bytes, 10 * 1024 ** 3);
  assert.equal(JSON.parse(await readFile(join(dir, 'policy.json'), 'utf8')).cache_enabled, true);
});

test('a policy record missing any field or with a bad mode is rejected with a clear error', () => {
  const { staging_enabled: _omit, ...missing } = DEFAULT_POLICY;
  assert.throws(() => parsePolicy(missing, 'x'), (e) => KisekiError.is(e, 'InvalidArgument') && /staging_enabled/.test(e.message));
  assert.throws(() => parsePolicy({ ...DEFAULT_POLICY, allowed_modes: ['turbo'] }, 'x'), /allowed_modes/);
  assert.throws(() => parsePolicy({ ...DEFAULT_POLICY, max_cache_bytes: -1 }, 'x'), /max_cache_bytes/);
});

test('settings are clamped to policy ceilings and modes to allowed_modes', () => {
  const eff = applyPolicy(CONSERVATIVE_POLICY, { mode: 'pinned', l2MaxBytes: 100 * 1024 ** 3, metaTtlMs: 60000 });
  assert.equal(eff.mode, 'organic');
  assert.equal(eff.l2MaxBytes, CONSERVATIVE_POLICY.max_cache_bytes);
  assert.equal(eff.metaTtlMs, 5000);
  assert.equal(eff.clamped.length, 3);
  const small = applyPolicy(DEFAULT_POLICY, { l2MaxBytes: 1024, metaTtlMs: 0 });
  assert.equal(small.l2MaxBytes, 1024);
  assert.equal(small.metaTtlMs, 0);
  assert.equal(small.mode, 'organic');
  assert.equal(applyPolicy({ ...DEFAULT_POLICY, cache_enabled: false }, { mode: 'pinned' }).mode, 'bypass');
});

// The local tenant key file: real files in a temporary directory, libsodium XChaCha20-Poly1305 wrap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nativeBackend } from '../../src/crypto/crypto-select.js';
import { openChunk, sealChunk } from '../../src/crypto/envelope.js';
import { TenantKeyring } from '../../src/crypto/keyring.js';
import {
  createWrapKeyFile, generateTenantKeys, readTenantKeyFile, readWrapKeyFile, writeTenantKeyFile,
} from '../../src/crypto/tenant-key-file.js';
import { KisekiError } from '../../src/errors.js';
import { FetchTenantKeysResponse } from '../../src/gen/kiseki/v1/tenant_keys.js';

test('tenant key file: written 0600, read back identical, and the keys are not in the file in clear', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kiseki-keyfile-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const wrap = await createWrapKeyFile(join(dir, 'wrap.key'));
  assert.ok((await readWrapKeyFile(join(dir, 'wrap.key'))).equals(wrap));
  const keys = await generateTenantKeys('0b6f6c1e-7a43-4c1a-9d7e-3f1a2b3c4d5e');
  const expected = FetchTenantKeysResponse.encode(keys).finish();
  await writeTenantKeyFile(join(dir, 'tenant.keys'), keys, wrap);
  assert.equal((await stat(join(dir, 'tenant.keys'))).mode & 0o777, 0o600);
  assert.equal((await stat(join(dir, 'wrap.key'))).mode & 0o777, 0o600);
  const raw = await readFile(join(dir, 'tenant.keys'));
  assert.equal(raw.indexOf(keys.keks[0]!.kek), -1, 'KEK in clear in the key file');
  assert.equal(raw.indexOf(keys.indexKey), -1, 'index key in clear in the key file');
  const back = await readTenantKeyFile(join(dir, 'tenant.keys'), wrap);
  assert.deepEqual(Buffer.from(FetchTenantKeysResponse.encode(back).finish()), Buffer.from(expected));
  // The keys work: seal with a keyring from the file, open with one from the original response.
  const b = nativeBackend();
  const fromFile = TenantKeyring.fromResponse(back, b);
  const fromOrig = TenantKeyring.fromResponse(FetchTenantKeysResponse.decode(expected), b);
  const s = await sealChunk(fromFile, Buffer.from('embedded default'), { backend: b });
  assert.equal((await openChunk(fromOrig, s.envelope, s.chunkId, { backend: b })).toString(), 'embedded default');
});

test('tenant key file: wrong wrap key, a flipped byte, a bad header or a group-readable file are refused', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kiseki-keyfile-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'tenant.keys');
  const wrap = await createWrapKeyFile(join(dir, 'wrap.key'));
  await writeTenantKeyFile(path, await generateTenantKeys('t'), wrap);
  const other = await createWrapKeyFile(join(dir, 'other.key'));
  await assert.rejects(readTenantKeyFile(path, other), (e: unknown) => KisekiError.is(e, 'Integrity'));
  const raw = await readFile(path);
  raw[raw.length - 5]! ^= 1;
  await writeFile(path, raw, { mode: 0o600 });
  await assert.rejects(readTenantKeyFile(path, wrap), (e: unknown) => KisekiError.is(e, 'Integrity'));
  await writeFile(path, Buffer.from('not a key file at all, just text'), { mode: 0o600 });
  await assert.rejects(readTenantKeyFile(path, wrap), (e: unknown) => KisekiError.is(e, 'Integrity') && /not a kiseki tenant key file/.test((e as Error).message));
  await chmod(path, 0o640);
  await assert.rejects(readTenantKeyFile(path, wrap), (e: unknown) => KisekiError.is(e, 'PermissionDenied') && /chmod 600/.test((e as Error).message));
  await assert.rejects(readTenantKeyFile(join(dir, 'absent'), wrap), (e: unknown) => KisekiError.is(e, 'NotFound'));
});

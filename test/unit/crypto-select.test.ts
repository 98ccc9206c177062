// KISEKI_CRYPTO picks the backend for the whole process: checked in real child processes, since the
// choice is made once per process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const builtDist = join(__dirname, '../../src/crypto');

// Seals and opens one chunk through the default API and prints the backend's name.
const scriptFor = (dist: string): string => `
const { randomBytes } = require('node:crypto');
const { defaultBackend } = require(${JSON.stringify(join(dist, 'crypto-select.js'))});
const { sealChunk, openChunk } = require(${JSON.stringify(join(dist, 'envelope.js'))});
const { TenantKeyring } = require(${JSON.stringify(join(dist, 'keyring.js'))});
(async () => {
  const ring = await TenantKeyring.create({ tenantId: undefined, currentEpoch: { value: 3 },
    keks: [{ epoch: { value: 3 }, kek: randomBytes(32) }], indexKey: randomBytes(32), dedupPolicy: 0 });
  const { chunkId, envelope } = await sealChunk(ring, Buffer.from('via default backend'));
  const pt = await openChunk(ring, envelope, chunkId, { verifyContent: true });
  console.log((await defaultBackend()).name + ' ' + pt.toString());
})().catch((e) => { console.error(e.code + ': ' + e.message); process.exit(3); });
`;

async function withEnv(value: string | undefined, dist = builtDist): Promise<{ code: number; out: string; err: string }> {
  const env = { ...process.env };
  if (value === undefined) delete env.KISEKI_CRYPTO;
  else env.KISEKI_CRYPTO = value;
  try {
    const { stdout, stderr } = await run(process.execPath, ['-e', scriptFor(dist)], { env });
    return { code: 0, out: stdout.trim(), err: stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout.trim(), err: x.stderr };
  }
}

test('KISEKI_CRYPTO unset or native uses the native path; portable uses node:crypto + libsodium', async () => {
  assert.equal((await withEnv(undefined)).out, 'native via default backend');
  assert.equal((await withEnv('native')).out, 'native via default backend');
  assert.equal((await withEnv('portable')).out, 'portable via default backend');
});

test('KISEKI_CRYPTO with an unknown value fails with a clear error instead of picking a path', async () => {
  const r = await withEnv('fastest');
  assert.equal(r.code, 3);
  assert.match(r.err, /KSK_ERR_INVALID_ARGUMENT: KISEKI_CRYPTO='fastest' is not one of native, portable/);
});

test('without the addon, unset KISEKI_CRYPTO falls back to portable and KISEKI_CRYPTO=native says to build it', async (t) => {
  // A copy of the compiled client whose project root has no build/ (no kiseki_native.node).
  const root = await mkdtemp(join(tmpdir(), 'kiseki-noaddon-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  await cp(join(__dirname, '../../src'), join(root, 'dist/src'), { recursive: true });
  await symlink(join(__dirname, '../../../node_modules'), join(root, 'node_modules'));
  const dist = join(root, 'dist/src/crypto');
  assert.equal((await withEnv(undefined, dist)).out, 'portable via default backend');
  const forced = await withEnv('native', dist);
  assert.equal(forced.code, 3);
  assert.match(forced.err, /KSK_ERR_NOT_SUPPORTED: native crypto is unavailable .*npm run build:native.*KISEKI_CRYPTO=portable/);
});

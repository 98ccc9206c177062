import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EncryptionAlgorithm, Envelope } from '../../src/gen/kiseki/v1/chunk.js';
import { FileChunkStore } from '../../src/node/file-chunk-store.js';

const T = '5a5a5a5a-0000-4000-8000-00000000005a';
const U = '6b6b6b6b-0000-4000-8000-00000000006b';

function env(): Envelope {
  return { ciphertext: randomBytes(1000), authTag: randomBytes(16), nonce: randomBytes(12), algorithm: EncryptionAlgorithm.ENCRYPTION_ALGORITHM_AES_256_GCM,
    systemEpoch: { value: 1 }, tenantEpoch: undefined, tenantWrappedMaterial: Buffer.alloc(0), chunkId: { value: randomBytes(32) } };
}

test('I-N1 a stored chunk file is exactly the encoded envelope at chunks/<tenant>/<2 hex>/<64 hex>, mode 0600; crash leftovers are removed on open', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kiseki-fcs-'));
  try {
    const store = new FileChunkStore(dir);
    await store.open();
    const e = env();
    assert.equal(await store.put(T, e), 'stored');
    const hex = e.chunkId!.value.toString('hex');
    const file = join(dir, 'chunks', T, hex.slice(0, 2), hex);
    assert.deepEqual(readFileSync(file), Buffer.from(Envelope.encode(e).finish()));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const leftover = join(dir, 'chunks', T, hex.slice(0, 2), '.tmp-deadbeef');
    writeFileSync(leftover, 'half');
    await new FileChunkStore(dir).open();
    assert.equal(existsSync(leftover), false);
    assert.equal(existsSync(file), true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('put is idempotent, chunks are per tenant, delete and storedAtMs work', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kiseki-fcs-'));
  try {
    const store = new FileChunkStore(dir);
    await store.open();
    const e = env();
    const id = e.chunkId!.value;
    assert.equal(await store.put(T, e), 'stored');
    assert.equal(await store.put(T, { ...e, ciphertext: randomBytes(5) }), 'deduplicated');
    assert.deepEqual((await store.get(T, id))!.ciphertext, e.ciphertext, 'a duplicate put never rewrites');
    assert.equal(await store.get(U, id), null);
    assert.equal(await store.has(U, id), false);
    assert.ok((await store.storedAtMs(T, id))! > Date.now() - 60_000);
    assert.equal(await store.delete(T, id), true);
    assert.equal(await store.delete(T, id), false);
    assert.equal(await store.storedAtMs(T, id), null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a chunk file holding another chunk is an Integrity error, never served as the requested chunk', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kiseki-fcs-'));
  try {
    const store = new FileChunkStore(dir);
    await store.open();
    const a = env();
    const b = env();
    await store.put(T, a);
    const hexB = b.chunkId!.value.toString('hex');
    mkdirSync(join(dir, 'chunks', T, hexB.slice(0, 2)), { recursive: true });
    writeFileSync(join(dir, 'chunks', T, hexB.slice(0, 2), hexB), Envelope.encode(a).finish());
    await assert.rejects(store.get(T, b.chunkId!.value), /does not hold chunk/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

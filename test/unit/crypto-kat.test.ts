// Known-answer vectors of brief §3.11 on both backends: each backend must reproduce them exactly, so
// the two paths are byte-identical on every vector.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CHUNK_DEK_INFO } from '../../src/crypto/crypto-backend.js';
import { chunkIdOf } from '../../src/crypto/chunk-id.js';
import { crc32, crc32Async } from '../../src/crypto/crc32.js';
import { openChunk } from '../../src/crypto/envelope.js';
import { DedupPolicy } from '../../src/gen/kiseki/v1/common.js';
import { EncryptionAlgorithm, Envelope } from '../../src/gen/kiseki/v1/chunk.js';
import { bothBackends, keyring, hex, HELLO, V } from './crypto-fixtures.js';

test('KAT §3.11: SHA-256 chunk ids on both backends', async () => {
  for (const b of await bothBackends()) {
    assert.equal((await b.digest({ kind: 'sha256' }, HELLO)).toString('hex'), V.idHello, b.name);
    assert.equal((await b.digest({ kind: 'sha256' }, Buffer.alloc(0))).toString('hex'), V.idEmpty, b.name);
    assert.equal((await chunkIdOf(HELLO, DedupPolicy.DEDUP_POLICY_CROSS_TENANT, undefined, { backend: b })).toString('hex'),
      V.idHello, b.name);
  }
});

test('KAT §3.11: HMAC-SHA256 chunk id of a dedup-isolated tenant on both backends', async () => {
  // The brief's vector uses the 17-byte ASCII key "tenant-a-hmac-key" (real index keys are 32 bytes).
  const key = Buffer.from('tenant-a-hmac-key');
  for (const b of await bothBackends()) {
    assert.equal((await b.digest({ kind: 'hmac', key }, HELLO)).toString('hex'), V.hmacHello, b.name);
  }
});

test('KAT §3.11: HKDF-SHA256 chunk DEK on both backends', async () => {
  for (const b of await bothBackends()) {
    assert.equal(b.hkdf(Buffer.alloc(32, 0x42), hex(V.idHello), CHUNK_DEK_INFO).toString('hex'), V.dek, b.name);
  }
});

test('KAT §3.11: AES-256-GCM seal of "hello kiseki" gives the ciphertext and tag on both backends', async () => {
  for (const b of await bothBackends()) {
    const s = await b.seal({
      plaintext: HELLO, id: { kind: 'sha256' }, kek: Buffer.alloc(32, 0x42), info: CHUNK_DEK_INFO, nonce: hex(V.nonce),
    });
    assert.equal(s.chunkId.toString('hex'), V.idHello, b.name);
    assert.equal(s.ciphertext.toString('hex'), V.ciphertext, b.name);
    assert.equal(s.tag.toString('hex'), V.tag, b.name);
  }
});

test('KAT §3.11: the vector envelope, encoded as on the wire, opens to "hello kiseki" on both backends', async () => {
  const wire = Envelope.encode({
    ciphertext: hex(V.ciphertext), authTag: hex(V.tag), nonce: hex(V.nonce),
    algorithm: EncryptionAlgorithm.ENCRYPTION_ALGORITHM_AES_256_GCM, systemEpoch: { value: 1 },
    tenantEpoch: undefined, tenantWrappedMaterial: Buffer.alloc(0), chunkId: { value: hex(V.idHello) },
  }).finish();
  for (const b of await bothBackends()) {
    const ring = keyring(b, { keks: [{ epoch: 1, kek: Buffer.alloc(32, 0x42) }] });
    const pt = await openChunk(ring, Envelope.decode(wire), hex(V.idHello), { backend: b, verifyContent: true });
    assert.equal(pt.toString(), 'hello kiseki', b.name);
  }
});

test('KAT §4.4: CRC32("123456789") = cbf43926 and the L2 trailer of "hello kiseki" on both backends', async () => {
  const check = Buffer.from('123456789');
  assert.equal(crc32(check), 0xcbf43926);
  assert.equal(crc32(Buffer.alloc(0)), 0);
  const trailer = Buffer.alloc(4);
  trailer.writeUInt32LE(crc32(HELLO));
  assert.equal(trailer.toString('hex'), 'aa7c12b0');
  for (const b of await bothBackends()) {
    assert.equal(b.crc32(check), 0xcbf43926, b.name);
    assert.equal(await b.crc32Async(check), 0xcbf43926, b.name);
    assert.equal(await crc32Async(check, 0, { backend: b }), 0xcbf43926, b.name);
    // Continuation: CRC over two halves equals CRC over the whole.
    assert.equal(b.crc32(check.subarray(4), b.crc32(check.subarray(0, 4))), 0xcbf43926, b.name);
  }
});

test('KAT §4.4: the table CRC32 used on Node < 20.15 agrees with zlib on the vector and random data', async () => {
  const { crc32Table } = await import('../../src/crypto/crc32-sync.js');
  assert.equal(crc32Table(Buffer.from('123456789')), 0xcbf43926);
  for (let n = 0; n < 50; n++) {
    const data = (await import('node:crypto')).randomBytes(n * 37);
    assert.equal(crc32Table(data, n), crc32(data, n), `length ${data.length}`);
  }
});

test('KAT §3.11: Kiseki tenant wrap (KEK 0xaa×32, epoch 1, nonce 0c0d…17) gives the 68-byte blob on both backends', async () => {
  const { wrapWithNonce, unwrapTenant } = await import('../../src/crypto/tenant-wrap.js');
  const blob = '0c0d0e0f1011121314151617b075278c7379cfd8bd78a45d59b6d1734c7a847766cb28b43750a84cf7d2fe0b952c779ee0d07174a9bc22639055c20f58f3a1bd17328708';
  const kek = Buffer.alloc(32, 0xaa);
  for (const b of await bothBackends()) {
    assert.equal(wrapWithNonce(b, kek, 1, hex(V.idHello), hex('0c0d0e0f1011121314151617')).toString('hex'), blob, b.name);
    assert.deepEqual(await unwrapTenant(kek, hex(blob), hex(V.idHello), { backend: b }), { systemEpoch: 1 }, b.name);
    const bad = hex(blob);
    bad[20]! ^= 1;
    await assert.rejects(unwrapTenant(kek, bad, hex(V.idHello), { backend: b }), /failed authentication/);
    await assert.rejects(unwrapTenant(kek, hex(blob), hex(V.idEmpty), { backend: b }), /names another chunk/);
    await assert.rejects(unwrapTenant(kek, hex(blob).subarray(0, 67), hex(V.idHello), { backend: b }), /67 bytes/);
  }
});

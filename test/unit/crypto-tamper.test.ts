// Tampering with any region of an envelope yields KisekiError 'Integrity' (EIO) and never a buffer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CHUNK_DEK_INFO, type CryptoBackend } from '../../src/crypto/crypto-backend.js';
import { openChunk, sealChunk, sealEnvelope } from '../../src/crypto/envelope.js';
import type { TenantKeyring } from '../../src/crypto/keyring.js';
import { KisekiError } from '../../src/errors.js';
import { EncryptionAlgorithm, Envelope } from '../../src/gen/kiseki/v1/chunk.js';
import { bothBackends, keyring } from './crypto-fixtures.js';

type Tamper = { region: string; apply: (e: Envelope) => void };

function flip(buf: Buffer, i: number): void {
  buf[i]! ^= 0x01;
}

function tampers(e: Envelope): Tamper[] {
  const n = e.ciphertext.length;
  const list: Tamper[] = [
    { region: 'ciphertext first byte', apply: (x) => flip(x.ciphertext, 0) },
    { region: 'ciphertext middle byte', apply: (x) => flip(x.ciphertext, n >> 1) },
    { region: 'ciphertext last byte', apply: (x) => flip(x.ciphertext, n - 1) },
    { region: 'ciphertext truncated by one byte', apply: (x) => { x.ciphertext = x.ciphertext.subarray(0, n - 1); } },
    { region: 'ciphertext truncated to nothing', apply: (x) => { x.ciphertext = Buffer.alloc(0); } },
    { region: 'ciphertext extended by one byte', apply: (x) => { x.ciphertext = Buffer.concat([x.ciphertext, Buffer.alloc(1)]); } },
    { region: 'auth_tag truncated', apply: (x) => { x.authTag = x.authTag.subarray(0, 15); } },
    { region: 'auth_tag missing', apply: (x) => { x.authTag = Buffer.alloc(0); } },
    { region: 'nonce truncated', apply: (x) => { x.nonce = x.nonce.subarray(0, 11); } },
    { region: 'nonce missing', apply: (x) => { x.nonce = Buffer.alloc(0); } },
    { region: 'chunk_id byte 0', apply: (x) => flip(x.chunkId!.value, 0) },
    { region: 'chunk_id byte 31', apply: (x) => flip(x.chunkId!.value, 31) },
    { region: 'chunk_id truncated', apply: (x) => { x.chunkId = { value: x.chunkId!.value.subarray(0, 31) }; } },
    { region: 'chunk_id missing', apply: (x) => { x.chunkId = undefined; } },
    { region: 'epoch changed to another epoch held', apply: (x) => { x.systemEpoch = { value: 1 }; } },
    { region: 'epoch missing', apply: (x) => { x.systemEpoch = undefined; } },
    { region: 'algorithm unspecified (0)', apply: (x) => { x.algorithm = EncryptionAlgorithm.ENCRYPTION_ALGORITHM_UNSPECIFIED; } },
    { region: 'algorithm unknown (7)', apply: (x) => { x.algorithm = 7 as EncryptionAlgorithm; } },
  ];
  for (let i = 0; i < 16; i++) list.push({ region: `auth_tag byte ${i}`, apply: (x) => flip(x.authTag, i) });
  for (let i = 0; i < 12; i++) list.push({ region: `nonce byte ${i}`, apply: (x) => flip(x.nonce, i) });
  return list;
}

/** A deep copy through the wire codec, so a tamper never touches the original. */
function copy(e: Envelope): Envelope {
  return Envelope.decode(Envelope.encode(e).finish());
}

async function expectIntegrity(p: Promise<Buffer>, what: string): Promise<void> {
  let returned: Buffer | undefined;
  await assert.rejects(async () => { returned = await p; }, (err: unknown) => {
    assert.ok(KisekiError.is(err, 'Integrity'), `${what}: expected Integrity, got ${String(err)}`);
    assert.equal(err.errno, 5, `${what}: errno must be EIO`);
    return true;
  }, what);
  assert.equal(returned, undefined, `${what}: a buffer was returned`);
}

async function sealedPair(b: CryptoBackend): Promise<{ ring: TenantKeyring; chunkId: Buffer; envelope: Envelope }> {
  // Two epochs held, sealed under the newest (2), so "another epoch held" is a real key switch.
  const ring = keyring(b, { keks: [{ epoch: 2, kek: randomBytes(32) }, { epoch: 1, kek: randomBytes(32) }] });
  const { chunkId, envelope } = await sealChunk(ring, randomBytes(3000), { backend: b });
  return { ring, chunkId, envelope };
}

test('tamper: every region of an envelope fails with Integrity (EIO), never a buffer, on both backends', async () => {
  for (const b of await bothBackends()) {
    const { ring, chunkId, envelope } = await sealedPair(b);
    const cases = tampers(envelope);
    assert.ok(cases.length >= 45);
    for (const t of cases) {
      const e = copy(envelope);
      t.apply(e);
      await expectIntegrity(openChunk(ring, e, chunkId, { backend: b }), `${b.name}: ${t.region}`);
    }
    // The untouched envelope still opens: the failures above come from the tampering alone.
    assert.equal((await openChunk(ring, copy(envelope), chunkId, { backend: b })).length, 3000);
  }
});

test('tamper: an envelope opened under another expected chunk id fails with Integrity', async () => {
  for (const b of await bothBackends()) {
    const { ring, envelope } = await sealedPair(b);
    await expectIntegrity(openChunk(ring, envelope, randomBytes(32), { backend: b }), `${b.name}: other id`);
    // Even if the node rewrites the envelope's chunk_id field to match, AAD and HKDF salt differ.
    const other = randomBytes(32);
    const e = copy(envelope);
    e.chunkId = { value: Buffer.from(other) };
    await expectIntegrity(openChunk(ring, e, other, { backend: b }), `${b.name}: relabelled`);
  }
});

test('tamper: a chunk sealed under a different tenant KEK of the same epoch fails with Integrity', async () => {
  for (const b of await bothBackends()) {
    const { chunkId, envelope } = await sealedPair(b);
    const stranger = keyring(b, { keks: [{ epoch: 2, kek: randomBytes(32) }] });
    await expectIntegrity(openChunk(stranger, envelope, chunkId, { backend: b }), `${b.name}: other tenant`);
  }
});

test('I-CC1: with verifyContent, plaintext that does not hash to its chunk id is rejected with Integrity', async () => {
  for (const b of await bothBackends()) {
    const ring = keyring(b, { keks: [{ epoch: 1, kek: randomBytes(32) }] });
    // A key holder (a buggy or hostile client of the same tenant) sealed content under a wrong id.
    const lie = randomBytes(32);
    const { envelope } = await sealEnvelope(ring, Buffer.from('not the content of that id'), { kind: 'given', id: lie },
      CHUNK_DEK_INFO, b);
    // AEAD alone cannot tell; the re-hash does.
    assert.equal((await openChunk(ring, envelope, lie, { backend: b })).toString(), 'not the content of that id');
    await expectIntegrity(openChunk(ring, envelope, lie, { backend: b, verifyContent: true }), `${b.name}: I-CC1`);
  }
});

test('an envelope naming an epoch the keyring does not hold fails with a clear Unavailable error', async () => {
  for (const b of await bothBackends()) {
    const { ring, chunkId, envelope } = await sealedPair(b);
    const e = copy(envelope);
    e.systemEpoch = { value: 9 };
    await assert.rejects(openChunk(ring, e, chunkId, { backend: b }), (err: unknown) => {
      assert.ok(KisekiError.is(err, 'Unavailable'), String(err));
      assert.match(err.message, /key epoch 9 is not in .*held: 2, 1.*FetchTenantKeys/);
      assert.equal(err.errno, 5);
      return true;
    });
  }
});

test('after wipe(), sealing and opening fail with the wipe reason and the keys are zero', async () => {
  for (const b of await bothBackends()) {
    const { ring, chunkId, envelope } = await sealedPair(b);
    const kek = ring.kek(2);
    const indexKey = ring.indexKey;
    ring.wipe('KeyDestroyed');
    ring.wipe();
    assert.ok(ring.wiped);
    assert.ok(kek.equals(Buffer.alloc(32)) && indexKey.equals(Buffer.alloc(32)), `${b.name}: key bytes not zeroed`);
    await assert.rejects(openChunk(ring, envelope, chunkId, { backend: b }), (e: unknown) => KisekiError.is(e, 'KeyDestroyed'));
    await assert.rejects(sealChunk(ring, Buffer.from('x'), { backend: b }), (e: unknown) => KisekiError.is(e, 'KeyDestroyed'));
  }
});

test('a wipe during an in-flight native open discards the result and reports the wipe', async () => {
  const [native] = await bothBackends();
  const { ring, chunkId, envelope } = await (async () => {
    const r = keyring(native!, { keks: [{ epoch: 1, kek: randomBytes(32) }] });
    const s = await sealChunk(r, randomBytes(8 * 1024 * 1024), { backend: native });
    return { ring: r, ...s };
  })();
  const pending = openChunk(ring, envelope, chunkId, { backend: native });
  ring.wipe('Closed');
  await assert.rejects(pending, (e: unknown) => KisekiError.is(e, 'Closed'));
});

test('a plaintext that is not a Buffer is refused with InvalidArgument before any cryptography', async () => {
  for (const b of await bothBackends()) {
    const ring = keyring(b, { keks: [{ epoch: 1, kek: randomBytes(32) }] });
    await assert.rejects(sealChunk(ring, 'text' as unknown as Buffer, { backend: b }), (e: unknown) => KisekiError.is(e, 'InvalidArgument'));
  }
});

// Sealed metadata: name keys, and values that open only under the id they were sealed for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { openChunk } from '../../src/crypto/envelope.js';
import { nameKey, openMeta, sealMeta } from '../../src/crypto/metadata-seal.js';
import { KisekiError } from '../../src/errors.js';
import { bothBackends, keyring } from './crypto-fixtures.js';

test('nameKey = HMAC-SHA256(index_key, parent_ino u64 LE || name) (vector from Python hmac)', () => {
  const k = Buffer.alloc(32, 0x11);
  const expected = 'bbb615e42107e112ab659f2db48edd7d02813065b89440a210b006517a90c491';
  assert.equal(nameKey(k, 1, 'hello.txt').toString('hex'), expected);
  assert.equal(nameKey(k, 1n, Buffer.from('hello.txt')).toString('hex'), expected);
  assert.notDeepEqual(nameKey(k, 2, 'hello.txt'), nameKey(k, 1, 'hello.txt'));
  assert.throws(() => nameKey(k, -1, 'x'), (e: unknown) => KisekiError.is(e, 'InvalidArgument'));
  assert.throws(() => nameKey(k, 1n << 64n, 'x'), (e: unknown) => KisekiError.is(e, 'InvalidArgument'));
});

test('sealMeta/openMeta round trip on both backends; the node sees neither name nor value', async () => {
  for (const b of await bothBackends()) {
    const ring = keyring(b, { keks: [{ epoch: 1, kek: randomBytes(32) }], indexKey: randomBytes(32) });
    const name = Buffer.from('secret-project-plan.txt');
    const id = nameKey(ring.indexKey, 1, name);
    const env = await sealMeta(ring, id, name, { backend: b });
    assert.ok(!env.ciphertext.equals(name));
    assert.ok(env.chunkId!.value.equals(id));
    assert.ok((await openMeta(ring, env, id, { backend: b })).equals(name), b.name);
    const empty = await sealMeta(ring, id, Buffer.alloc(0), { backend: b });
    assert.equal((await openMeta(ring, empty, id, { backend: b })).length, 0);
  }
});

test('a sealed name swapped onto another entry, or opened as a chunk, fails with Integrity', async () => {
  for (const b of await bothBackends()) {
    const ring = keyring(b, { keks: [{ epoch: 1, kek: randomBytes(32) }], indexKey: randomBytes(32) });
    const idA = nameKey(ring.indexKey, 1, 'a');
    const idB = nameKey(ring.indexKey, 1, 'b');
    const envA = await sealMeta(ring, idA, Buffer.from('a'), { backend: b });
    const swapped = { ...envA, chunkId: { value: idB } };
    await assert.rejects(openMeta(ring, swapped, idB, { backend: b }), (e: unknown) => KisekiError.is(e, 'Integrity'));
    // Metadata and chunks use distinct HKDF info: one can never be passed off as the other.
    await assert.rejects(openChunk(ring, envA, idA, { backend: b }), (e: unknown) => KisekiError.is(e, 'Integrity'));
    await assert.rejects(sealMeta(ring, Buffer.alloc(31), Buffer.from('x'), { backend: b }),
      (e: unknown) => KisekiError.is(e, 'InvalidArgument'));
  }
});

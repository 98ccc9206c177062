// Sealed metadata: name keys, and values that open only under the id they were sealed for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { openChunk } from '../../src/crypto/envelope.js';
import { nameKey, openMeta, openNames, sealMeta } from '../../src/crypto/metadata-seal.js';
import { KisekiError } from '../../src/errors.js';
import type { Envelope } from '../../src/gen/kiseki/v1/chunk.js';
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

test('openNames opens a listing page in one batch; a tampered, swapped, foreign or key-mismatched entry fails alone', async () => {
  for (const b of await bothBackends()) {
    const ring = keyring(b, { keks: [{ epoch: 1, kek: randomBytes(32) }, { epoch: 2, kek: randomBytes(32) }], indexKey: randomBytes(32) });
    const names = Array.from({ length: 50 }, (_, i) => Buffer.from(`entry-${i}-${'x'.repeat(i)}`));
    names.push(Buffer.alloc(255, 0x61), Buffer.from([0xff, 0xfe, 0x80]));
    const items = await Promise.all(names.map(async (name) => {
      const key = nameKey(ring.indexKey, 7, name);
      return { nameKey: key, sealedName: await sealMeta(ring, key, name, { backend: b }) };
    }));
    // Entries sealed under an older epoch open with that epoch's KEK (a separate batch).
    const old = items[3]!;
    const oldRing = keyring(b, { keks: [{ epoch: 1, kek: ring.kek(1) }], indexKey: ring.indexKey });
    items[3] = { nameKey: old.nameKey, sealedName: await sealMeta(oldRing, old.nameKey, names[3]!, { backend: b }) };
    assert.equal(items[3].sealedName.systemEpoch?.value, 1);
    const opened = await openNames(ring, 7, items, { backend: b });
    opened.forEach((r, i) => assert.ok(r instanceof Buffer && r.equals(names[i]!), `${b.name}: name ${i}`));

    const bad: Array<{ nameKey: Buffer; sealedName?: Envelope | undefined }> = [...items];
    const flipped = Buffer.from(items[0]!.sealedName.ciphertext);
    flipped[0]! ^= 1;
    bad[0] = { nameKey: items[0]!.nameKey, sealedName: { ...items[0]!.sealedName, ciphertext: flipped } };
    bad[1] = { nameKey: items[2]!.nameKey, sealedName: items[1]!.sealedName }; // another entry's sealed name
    // Sealed under its own key but for another directory: opens, but does not hash to (7, name).
    const elsewhere = nameKey(ring.indexKey, 8, names[4]!);
    bad[4] = { nameKey: elsewhere, sealedName: await sealMeta(ring, elsewhere, names[4]!, { backend: b }) };
    bad[5] = { nameKey: items[5]!.nameKey, sealedName: undefined };
    const res = await openNames(ring, 7, bad, { backend: b });
    for (const i of [0, 1, 4, 5]) assert.ok(KisekiError.is(res[i], 'Integrity'), `${b.name}: entry ${i} fails with Integrity`);
    res.forEach((r, i) => {
      if (![0, 1, 4, 5].includes(i)) assert.ok(r instanceof Buffer && r.equals(names[i]!), `${b.name}: good entry ${i} still opens`);
    });
  }
});

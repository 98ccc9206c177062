// Round trips of the chunk pipeline: random sizes around the interesting edges, both backends, across
// backends (identical envelopes), both dedup policies, and key epochs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { splitChunks } from '../../src/crypto/chunker.js';
import { CHUNK_DEK_INFO } from '../../src/crypto/crypto-backend.js';
import { openChunk, sealChunk } from '../../src/crypto/envelope.js';
import { DedupPolicy } from '../../src/gen/kiseki/v1/common.js';
import { Envelope } from '../../src/gen/kiseki/v1/chunk.js';
import { bothBackends, keyring, randomKeyring } from './crypto-fixtures.js';

const MiB = 1024 * 1024;
const CHUNK = 1 * MiB; // small chunks keep the suite fast; one case below uses the 4 MiB default

/** Sizes the brief names: 0, 1, chunk − 1, chunk, chunk + 1, several chunks, and anything small. */
const sizeArb = fc.oneof(
  fc.constantFrom(0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17),
  fc.integer({ min: 0, max: 70_000 }),
);

test('property: seal then open returns the plaintext for random sizes, on both backends', async () => {
  const backends = await bothBackends();
  for (const b of backends) {
    const ring = randomKeyring(b);
    await fc.assert(fc.asyncProperty(sizeArb, fc.integer({ min: 0, max: 255 }), async (size, fill) => {
      const file = randomBytes(size);
      file[0] = fill;
      const chunks = splitChunks(file, CHUNK);
      assert.equal(chunks.length, Math.ceil(size / CHUNK));
      const opened: Buffer[] = [];
      for (const c of chunks) {
        const { chunkId, envelope } = await sealChunk(ring, c, { backend: b });
        assert.deepEqual(chunkId, createHash('sha256').update(c).digest());
        assert.equal(envelope.ciphertext.length, c.length);
        // Through the wire codec, as the node would store and return it.
        const back = Envelope.decode(Envelope.encode(envelope).finish());
        opened.push(await openChunk(ring, back, chunkId, { backend: b, verifyContent: true }));
      }
      assert.ok(Buffer.concat(opened).equals(file), `${b.name}: ${size} bytes`);
    }), { numRuns: 25 });
  }
});

test('round trip of an empty plaintext and of one 4 MiB chunk (the default size)', async () => {
  for (const b of await bothBackends()) {
    const ring = randomKeyring(b);
    for (const pt of [Buffer.alloc(0), randomBytes(4 * MiB)]) {
      const { chunkId, envelope } = await sealChunk(ring, pt, { backend: b });
      assert.equal(envelope.authTag.length, 16);
      assert.equal(envelope.nonce.length, 12);
      assert.ok((await openChunk(ring, envelope, chunkId, { backend: b })).equals(pt), `${b.name} ${pt.length}`);
    }
  }
});

test('property: both backends produce byte-identical seals for the same key, nonce and plaintext', async () => {
  const [native, portable] = await bothBackends();
  await fc.assert(fc.asyncProperty(
    fc.uint8Array({ minLength: 0, maxLength: 5000 }), fc.uint8Array({ minLength: 32, maxLength: 32 }),
    fc.uint8Array({ minLength: 12, maxLength: 12 }), fc.boolean(),
    async (pt, kek, nonce, hmac) => {
      const id = hmac ? { kind: 'hmac' as const, key: Buffer.from(kek).reverse() } : { kind: 'sha256' as const };
      const req = { plaintext: Buffer.from(pt), id, kek: Buffer.from(kek), info: CHUNK_DEK_INFO, nonce: Buffer.from(nonce) };
      const a = await native!.seal(req);
      const b = await portable!.seal(req);
      assert.deepEqual(a, b);
    }), { numRuns: 200 });
});

test('a chunk sealed by one backend opens with the other', async () => {
  const [native, portable] = await bothBackends();
  const kek = randomBytes(32);
  const pt = randomBytes(CHUNK + 1);
  for (const [from, to] of [[native!, portable!], [portable!, native!]]) {
    const { chunkId, envelope } = await sealChunk(keyring(from, { keks: [{ epoch: 1, kek }] }), pt, { backend: from });
    const opened = await openChunk(keyring(to, { keks: [{ epoch: 1, kek }] }), envelope, chunkId, { backend: to, verifyContent: true });
    assert.ok(opened.equals(pt), `${from.name} → ${to.name}`);
  }
});

test('sealing the same plaintext twice gives the same chunk id but a fresh nonce and ciphertext', async () => {
  for (const b of await bothBackends()) {
    const ring = randomKeyring(b);
    const pt = randomBytes(1000);
    const x = await sealChunk(ring, pt, { backend: b });
    const y = await sealChunk(ring, pt, { backend: b });
    assert.deepEqual(x.chunkId, y.chunkId);
    assert.notDeepEqual(x.envelope.nonce, y.envelope.nonce);
    assert.notDeepEqual(x.envelope.ciphertext, y.envelope.ciphertext);
  }
});

test('a dedup-isolated tenant gets HMAC chunk ids under its index key, and verification uses them', async () => {
  for (const b of await bothBackends()) {
    const indexKey = randomBytes(32);
    const ring = keyring(b, { keks: [{ epoch: 1, kek: randomBytes(32) }], indexKey: Buffer.from(indexKey),
      dedup: DedupPolicy.DEDUP_POLICY_TENANT_ISOLATED });
    for (const pt of [randomBytes(5000), Buffer.alloc(0)]) {
      const { chunkId, envelope } = await sealChunk(ring, pt, { backend: b });
      assert.deepEqual(chunkId, createHmac('sha256', indexKey).update(pt).digest());
      assert.notDeepEqual(chunkId, createHash('sha256').update(pt).digest());
      assert.ok((await openChunk(ring, envelope, chunkId, { backend: b, verifyContent: true })).equals(pt));
    }
  }
});

test('key epochs: new writes use the newest epoch, reads open every epoch held', async () => {
  for (const b of await bothBackends()) {
    const k1 = randomBytes(32);
    const k2 = randomBytes(32);
    const before = keyring(b, { keks: [{ epoch: 1, kek: Buffer.from(k1) }] });
    const old = await sealChunk(before, Buffer.from('written in epoch 1'), { backend: b });
    assert.equal(old.envelope.systemEpoch?.value, 1);
    const after = keyring(b, { keks: [{ epoch: 2, kek: Buffer.from(k2) }, { epoch: 1, kek: Buffer.from(k1) }] });
    assert.equal(after.currentEpoch, 2);
    assert.deepEqual(after.epochs, [2, 1]);
    const fresh = await sealChunk(after, Buffer.from('written in epoch 2'), { backend: b });
    assert.equal(fresh.envelope.systemEpoch?.value, 2);
    assert.equal((await openChunk(after, old.envelope, old.chunkId, { backend: b })).toString(), 'written in epoch 1');
    assert.equal((await openChunk(after, fresh.envelope, fresh.chunkId, { backend: b })).toString(), 'written in epoch 2');
  }
});

test('caller-provided output buffers receive the result, and are zeroed when opening fails', async () => {
  for (const b of await bothBackends()) {
    const ring = randomKeyring(b);
    const pt = randomBytes(70_000);
    const ctOut = Buffer.alloc(pt.length);
    const { chunkId, envelope } = await sealChunk(ring, pt, { backend: b, output: ctOut });
    assert.equal(envelope.ciphertext, ctOut, `${b.name}: ciphertext not written into the given buffer`);
    const ptOut = Buffer.alloc(pt.length);
    assert.equal(await openChunk(ring, envelope, chunkId, { backend: b, output: ptOut }), ptOut);
    assert.ok(ptOut.equals(pt));
    envelope.authTag[0]! ^= 1;
    const dirty = Buffer.alloc(pt.length, 0xee);
    await assert.rejects(openChunk(ring, envelope, chunkId, { backend: b, output: dirty }));
    assert.ok(dirty.equals(Buffer.alloc(pt.length)), `${b.name}: output not zeroed after a failed open`);
    await assert.rejects(sealChunk(ring, pt, { backend: b, output: Buffer.alloc(1) }), /exactly 70000/);
  }
});

test('I-K2: the encoded envelope of a chunk or a name never contains its plaintext', async () => {
  const { sealMeta, nameKey } = await import('../../src/crypto/metadata-seal.js');
  for (const b of await bothBackends()) {
    const ring = randomKeyring(b);
    const pt = Buffer.from('PLAINTEXT-MARKER '.repeat(64));
    const { envelope } = await sealChunk(ring, pt, { backend: b });
    const wire = Buffer.from(Envelope.encode(envelope).finish());
    assert.equal(wire.indexOf(pt.subarray(0, 16)), -1, `${b.name}: plaintext on the wire`);
    const name = Buffer.from('payroll-2026-confidential.xlsx');
    const meta = Buffer.from(Envelope.encode(await sealMeta(ring, nameKey(ring.indexKey, 1, name), name, { backend: b })).finish());
    assert.equal(meta.indexOf(name.subarray(0, 12)), -1, `${b.name}: name on the wire`);
  }
});

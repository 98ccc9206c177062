// Batches of chunks in one thread-pool job (native sealMany/openMany, envelope.ts sealChunks/openChunks,
// ADR 0014): the brief's §3.11 vectors, byte-identity with the one-chunk path, round trips of random
// sizes including 0 and 1 byte, tampering of one chunk of a batch, and argument checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { CHUNK_DEK_INFO, type CryptoBackend } from '../../src/crypto/crypto-backend.js';
import { openChunk, openChunks, sealChunk, sealChunks } from '../../src/crypto/envelope.js';
import { nativeBackend } from '../../src/crypto/crypto-select.js';
import { loadCryptoBinding } from '../../src/crypto/crypto-binding.js';
import { DedupPolicy } from '../../src/gen/kiseki/v1/common.js';
import type { Envelope } from '../../src/gen/kiseki/v1/chunk.js';
import { bothBackends, keyring, randomKeyring, hex, HELLO, V } from './crypto-fixtures.js';

function binding() {
  const b = loadCryptoBinding();
  assert.equal(b.kind, 'loaded');
  return (b as { binding: import('../../src/crypto/crypto-binding.js').CryptoBinding }).binding;
}

/** Sizes that matter: empty, one byte, around a GCM block, and a few random ones up to 1 MiB. */
function sizes(): number[] {
  return [0, 1, 15, 16, 17, 4096, ...Array.from({ length: 6 }, () => randomInt(1, 1 << 20))];
}

test('KAT §3.11: sealMany of three copies of "hello kiseki" gives the vector ciphertext and tag for each', async () => {
  const native = nativeBackend() as Required<CryptoBackend>;
  const kek = Buffer.alloc(32, 0x42);
  const reqs = [0, 1, 2].map(() => ({ plaintext: Buffer.from(HELLO), id: { kind: 'sha256' } as const, kek, info: CHUNK_DEK_INFO, nonce: hex(V.nonce) }));
  const sealed = await native.sealMany(reqs);
  assert.equal(sealed.length, 3);
  for (const s of sealed) {
    assert.equal(s.chunkId.toString('hex'), V.idHello);
    assert.equal(s.ciphertext.toString('hex'), V.ciphertext);
    assert.equal(s.tag.toString('hex'), V.tag);
  }
  const opened = await native.openMany(sealed.map((s) => ({
    ciphertext: s.ciphertext, chunkId: s.chunkId, kek, info: CHUNK_DEK_INFO, nonce: hex(V.nonce), tag: s.tag, check: { kind: 'sha256' },
  })));
  for (const o of opened) {
    assert.equal(o.kind, 'ok');
    assert.equal((o as { plaintext: Buffer }).plaintext.toString(), 'hello kiseki');
  }
});

test('sealMany is byte-identical to seal one chunk at a time, for sha256, hmac and given ids', async () => {
  const native = nativeBackend() as Required<CryptoBackend>;
  const kek = randomBytes(32);
  const idKey = randomBytes(32);
  for (const id of [{ kind: 'sha256' } as const, { kind: 'hmac', key: idKey } as const]) {
    const pts = sizes().map((n) => randomBytes(n));
    const nonces = pts.map(() => randomBytes(12));
    const many = await native.sealMany(pts.map((plaintext, i) => ({ plaintext, id, kek, info: CHUNK_DEK_INFO, nonce: nonces[i]! })));
    for (const [i, plaintext] of pts.entries()) {
      const one = await native.seal({ plaintext, id, kek, info: CHUNK_DEK_INFO, nonce: nonces[i]! });
      assert.deepEqual(many[i], one, `${id.kind} chunk ${i} of ${plaintext.length} bytes`);
    }
  }
  const givenIds = [randomBytes(32), randomBytes(32)];
  const pts = [randomBytes(100), randomBytes(0)];
  const nonce = randomBytes(12);
  const many = await native.sealMany(pts.map((plaintext, i) => ({ plaintext, id: { kind: 'given', id: givenIds[i]! }, kek, info: CHUNK_DEK_INFO, nonce })));
  for (const [i, plaintext] of pts.entries()) {
    assert.deepEqual(many[i], await native.seal({ plaintext, id: { kind: 'given', id: givenIds[i]! }, kek, info: CHUNK_DEK_INFO, nonce }));
  }
});

test('sealChunks → openChunks round trip of chunks of random sizes (0 and 1 byte included) on both backends, and across them', async () => {
  for (const dedup of [DedupPolicy.DEDUP_POLICY_CROSS_TENANT, DedupPolicy.DEDUP_POLICY_TENANT_ISOLATED]) {
    const kek = randomBytes(32);
    const indexKey = randomBytes(32);
    const [native, portable] = await bothBackends();
    const rings = [native!, portable!].map((b) => keyring(b, { keks: [{ epoch: 1, kek }], indexKey, dedup }));
    const pts = sizes().map((n) => randomBytes(n));
    for (const [s, o] of [[0, 0], [1, 1], [0, 1], [1, 0]] as const) {
      const sealBackend = s === 0 ? native! : portable!;
      const openBackend = o === 0 ? native! : portable!;
      const sealed = await sealChunks(rings[s]!, pts, { backend: sealBackend });
      for (const [i, p] of pts.entries()) {
        const one = await sealChunk(rings[s]!, p, { backend: sealBackend });
        assert.ok(sealed[i]!.chunkId.equals(one.chunkId), 'the batch gives the same chunk id as sealChunk');
        assert.equal(sealed[i]!.envelope.ciphertext.length, p.length);
      }
      const opened = await openChunks(rings[o]!, sealed.map((x) => ({ envelope: x.envelope, chunkId: x.chunkId })),
        { backend: openBackend, verifyContent: true });
      for (const [i, p] of pts.entries()) {
        assert.ok(Buffer.isBuffer(opened[i]), `chunk ${i} opened (${sealBackend.name} → ${openBackend.name}): ${String(opened[i])}`);
        assert.ok((opened[i] as Buffer).equals(p), `chunk ${i} of ${p.length} bytes round-trips`);
        // and the one-chunk path opens what the batch sealed
        assert.ok((await openChunk(rings[o]!, sealed[i]!.envelope, sealed[i]!.chunkId, { backend: openBackend, verifyContent: true })).equals(p));
      }
    }
  }
});

test('sealChunks and openChunks write into caller outputs, in place included', async () => {
  const native = nativeBackend();
  const ring = randomKeyring(native);
  const pts = [randomBytes(5000), randomBytes(1), randomBytes(0)];
  const outs = pts.map((p) => Buffer.alloc(p.length));
  const sealed = await sealChunks(ring, pts, { backend: native, outputs: outs });
  sealed.forEach((s, i) => assert.equal(s.envelope.ciphertext, outs[i], 'ciphertext lands in the given output'));
  const copy = Buffer.from(pts[0]!);
  const inPlace = await sealChunks(ring, [copy], { backend: native, outputs: [copy] });
  assert.ok(!copy.equals(pts[0]!), 'sealed in place');
  const plainOuts = pts.map((p) => Buffer.alloc(p.length, 0xee));
  const opened = await openChunks(ring, sealed.map((s, i) => ({ envelope: s.envelope, chunkId: s.chunkId, output: plainOuts[i] })),
    { backend: native, verifyContent: true });
  opened.forEach((o, i) => {
    assert.equal(o, plainOuts[i]);
    assert.ok((o as Buffer).equals(pts[i]!));
  });
  const [back] = await openChunks(ring, [{ envelope: inPlace[0]!.envelope, chunkId: inPlace[0]!.chunkId, output: copy }], { backend: native });
  assert.ok((back as Buffer).equals(pts[0]!), 'opened in place');
});

test('I-CC1 in a batch: a tampered chunk fails alone, its output is zeroed, and its neighbours open (both backends)', async () => {
  for (const b of await bothBackends()) {
    const ring = randomKeyring(b);
    const pts = [randomBytes(3000), randomBytes(1), randomBytes(70_000), randomBytes(2)];
    const sealed = await sealChunks(ring, pts, { backend: b });
    const items: { envelope: Envelope; chunkId: Buffer; output?: Buffer }[] =
      sealed.map((s) => ({ envelope: { ...s.envelope, ciphertext: Buffer.from(s.envelope.ciphertext) }, chunkId: s.chunkId }));
    items[0]!.envelope.ciphertext[17]! ^= 1; // tampered ciphertext
    items[1]!.envelope = { ...items[1]!.envelope, authTag: Buffer.alloc(16) }; // wrong tag
    items.forEach((it) => { it.output = Buffer.alloc(it.envelope.ciphertext.length, 0xaa); });
    const opened = await openChunks(ring, items, { backend: b, verifyContent: true });
    for (const i of [0, 1]) {
      assert.ok(opened[i] instanceof Error, `${b.name}: chunk ${i} must fail`);
      assert.match((opened[i] as Error).message, /failed authentication/);
      assert.equal((opened[i] as { kind?: string }).kind, 'Integrity');
      assert.ok(items[i]!.output!.equals(Buffer.alloc(items[i]!.output!.length)), `${b.name}: the failed chunk's output is zeroed`);
    }
    assert.ok((opened[2] as Buffer).equals(pts[2]!));
    assert.ok((opened[3] as Buffer).equals(pts[3]!));
  }
});

test('I-CC1 in a batch: content sealed under another id fails with id-mismatch only where verified, and hands back no plaintext', async () => {
  const native = nativeBackend() as Required<CryptoBackend>;
  const kek = randomBytes(32);
  const lie = randomBytes(32); // a sealer that claims a wrong id (a malicious writer)
  const pt = randomBytes(4096);
  const goodId = (await native.digest({ kind: 'sha256' }, pt));
  const n1 = randomBytes(12);
  const n2 = randomBytes(12);
  const [b1, g1] = await native.sealMany([
    { plaintext: pt, id: { kind: 'given', id: lie }, kek, info: CHUNK_DEK_INFO, nonce: n1 },
    { plaintext: pt, id: { kind: 'given', id: goodId }, kek, info: CHUNK_DEK_INFO, nonce: n2 },
  ]);
  const req = (s: typeof b1, nonce: Buffer) => ({ ciphertext: s!.ciphertext, chunkId: s!.chunkId, kek, info: CHUNK_DEK_INFO, nonce, tag: s!.tag });
  const outs = [Buffer.alloc(4096, 1), Buffer.alloc(4096, 1)];
  const checked = await native.openMany([
    { ...req(b1, n1), check: { kind: 'sha256' }, output: outs[0] },
    { ...req(g1, n2), check: { kind: 'sha256' }, output: outs[1] },
  ]);
  assert.deepEqual(checked[0], { kind: 'id-mismatch' });
  assert.ok(outs[0]!.equals(Buffer.alloc(4096)), 'the mismatched chunk\'s output is cleansed');
  assert.equal(checked[1]!.kind, 'ok');
  assert.ok(outs[1]!.equals(pt));
  const unchecked = await native.openMany([{ ...req(b1, n1), check: { kind: 'none' } }]);
  assert.equal(unchecked[0]!.kind, 'ok', 'without I-CC1 the AEAD alone accepts it');
});

test('openChunks reports a malformed envelope or unknown epoch for that chunk only', async () => {
  const native = nativeBackend();
  const ring = randomKeyring(native);
  const pts = [randomBytes(10), randomBytes(20), randomBytes(30)];
  const sealed = await sealChunks(ring, pts, { backend: native });
  const items = sealed.map((s) => ({ envelope: { ...s.envelope }, chunkId: s.chunkId }));
  items[0]!.envelope.nonce = Buffer.alloc(11);
  items[1]!.envelope.systemEpoch = { value: 9 };
  const opened = await openChunks(ring, items, { backend: native, verifyContent: true });
  assert.match((opened[0] as Error).message, /nonce is 11 bytes/);
  assert.ok(opened[1] instanceof Error);
  assert.match((opened[1] as Error).message, /epoch 9/);
  assert.ok((opened[2] as Buffer).equals(pts[2]!));
});

test('native sealMany/openMany refuse bad batches before any work', async () => {
  const n = binding();
  const kek = randomBytes(32);
  const a = randomBytes(64);
  const b = randomBytes(64);
  const ids = Buffer.alloc(64);
  const nonces = Buffer.alloc(24);
  const tags = Buffer.alloc(32);
  const info = CHUNK_DEK_INFO;
  assert.throws(() => n.sealMany([a, b], [Buffer.alloc(64)], ids, 'sha256', null, kek, info, nonces, tags), /2 elements/);
  assert.throws(() => n.sealMany([a, b], [Buffer.alloc(64), Buffer.alloc(63)], ids, 'sha256', null, kek, info, nonces, tags), /\[1\] must be 64 bytes/);
  assert.throws(() => n.sealMany([a, b], [b, Buffer.alloc(64)], ids, 'sha256', null, kek, info, nonces, tags), /overlaps input 1/,
    'chunk 0 writing into chunk 1\'s plaintext would seal altered bytes');
  const shared = Buffer.alloc(128);
  assert.throws(() => n.sealMany([a, b], [shared.subarray(0, 64), shared.subarray(32, 96)], ids, 'sha256', null, kek, info, nonces, tags), /overlap/);
  assert.throws(() => n.sealMany([a, b], [Buffer.alloc(64), Buffer.alloc(64)], Buffer.alloc(32), 'sha256', null, kek, info, nonces, tags), /chunkIds/);
  assert.throws(() => n.sealMany([a, b], [Buffer.alloc(64), Buffer.alloc(64)], ids, 'hmac', null, kek, info, nonces, tags), /idKey is required/);
  assert.throws(() => n.sealMany([a, b], [Buffer.alloc(64), Buffer.alloc(64)], ids, 'none' as never, null, kek, info, nonces, tags), /unknown chunk id mode/);
  assert.throws(() => n.openMany([a], [Buffer.alloc(64)], Buffer.alloc(32), 'sha256', null, [Buffer.alloc(31)], info, Buffer.alloc(12), Buffer.alloc(16), Buffer.alloc(1)), /keks\[0\] must be 32 bytes/);
  assert.throws(() => n.openMany([a], [Buffer.alloc(64)], Buffer.alloc(32), 'sha256', null, [kek], info, Buffer.alloc(12), Buffer.alloc(16), Buffer.alloc(2)), /statusOut/);
  await n.sealMany([], [], Buffer.alloc(0), 'sha256', null, kek, info, Buffer.alloc(0), Buffer.alloc(0)); // an empty batch is fine
  const native = nativeBackend() as Required<CryptoBackend>;
  await assert.rejects(native.sealMany([
    { plaintext: a, id: { kind: 'sha256' }, kek, info, nonce: randomBytes(12) },
    { plaintext: b, id: { kind: 'sha256' }, kek: randomBytes(32), info, nonce: randomBytes(12) },
  ]), /share id kind, id key, kek and info/);
  await assert.rejects(sealChunks(randomKeyring(native), [a], { backend: native, outputs: [Buffer.alloc(3)] }), /ciphertext 0 output buffer is 3 bytes/);
});

test('a keyring wipe during a batch fails the batch and zeroes what it opened', async () => {
  const native = nativeBackend();
  const ring = randomKeyring(native);
  const pts = [randomBytes(1 << 20), randomBytes(1 << 20)];
  const sealed = await sealChunks(ring, pts, { backend: native });
  const outs = pts.map((p) => Buffer.alloc(p.length));
  const p = openChunks(ring, sealed.map((s, i) => ({ envelope: s.envelope, chunkId: s.chunkId, output: outs[i] })), { backend: native });
  ring.wipe();
  await assert.rejects(p, (err: Error & { kind?: string }) => err.kind === 'Closed' || /wiped|closed/i.test(err.message));
  for (const o of outs) assert.ok(o.equals(Buffer.alloc(o.length)), 'no plaintext left in the outputs');
});

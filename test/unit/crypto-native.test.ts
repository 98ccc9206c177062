// The native path's contract beyond byte equality: work leaves the main thread, concurrent jobs stay
// independent, bad arguments raise errors instead of crashing, and outputs are never partial.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CHUNK_DEK_INFO } from '../../src/crypto/crypto-backend.js';
import { loadCryptoBinding } from '../../src/crypto/crypto-binding.js';
import { defaultBackend, nativeBackend, parseBackendChoice } from '../../src/crypto/crypto-select.js';
import { openChunk, sealChunk } from '../../src/crypto/envelope.js';
import { KisekiError } from '../../src/errors.js';
import { keyring } from './crypto-fixtures.js';

const MiB = 1024 * 1024;

function binding() {
  const loaded = loadCryptoBinding();
  assert.equal(loaded.kind, 'loaded', 'native crypto must be built for these tests');
  return (loaded as { kind: 'loaded'; binding: import('../../src/crypto/crypto-binding.js').CryptoBinding }).binding;
}

test('native seal runs on the thread pool: the event loop keeps turning while a 64 MiB chunk is sealed', async () => {
  const b = nativeBackend();
  const ring = keyring(b, { keks: [{ epoch: 1, kek: randomBytes(32) }] });
  const pt = randomBytes(64 * MiB);
  let turns = 0;
  let done = false;
  const spin = (): void => { if (!done) { turns++; setImmediate(spin); } };
  setImmediate(spin);
  const sealed = await sealChunk(ring, pt, { backend: b });
  done = true;
  // A synchronous seal would block the loop for its whole duration: zero turns.
  assert.ok(turns > 0, `event loop turned ${turns} times during the seal`);
  assert.ok((await openChunk(ring, sealed.envelope, sealed.chunkId, { backend: b, verifyContent: true })).equals(pt));
});

test('concurrent native seals and opens of different chunks keep their results apart', async () => {
  const b = nativeBackend();
  const ring = keyring(b, { keks: [{ epoch: 1, kek: randomBytes(32) }] });
  const chunks = Array.from({ length: 16 }, (_, i) => randomBytes(MiB / 4 + i));
  const sealed = await Promise.all(chunks.map((c) => sealChunk(ring, c, { backend: b })));
  const opened = await Promise.all(sealed.map((s) => openChunk(ring, s.envelope, s.chunkId, { backend: b, verifyContent: true })));
  opened.forEach((o, i) => assert.ok(o.equals(chunks[i]!), `chunk ${i}`));
});

test('native calls with wrong argument types or lengths throw TypeError and do not crash', () => {
  const n = binding();
  const k = Buffer.alloc(32);
  const nonce = Buffer.alloc(12);
  const tag = Buffer.alloc(16);
  const id = Buffer.alloc(32);
  const pt = Buffer.alloc(10);
  assert.throws(() => n.seal(pt, Buffer.alloc(9), id, 'sha256', null, k, CHUNK_DEK_INFO, nonce, tag), /ciphertextOut must be 10 bytes/);
  assert.throws(() => n.seal(pt, Buffer.alloc(10), id, 'sha256', null, Buffer.alloc(31), CHUNK_DEK_INFO, nonce, tag), /kek must be 32/);
  assert.throws(() => n.seal(pt, Buffer.alloc(10), id, 'md5' as 'sha256', null, k, CHUNK_DEK_INFO, nonce, tag), /unknown chunk id mode/);
  assert.throws(() => n.seal(pt, Buffer.alloc(10), id, 'hmac', null, k, CHUNK_DEK_INFO, nonce, tag), /idKey is required/);
  assert.throws(() => n.open(pt, Buffer.alloc(10), id, 'given' as 'none', null, k, CHUNK_DEK_INFO, nonce, tag), /unknown chunk id mode/);
  assert.throws(() => n.open(pt, Buffer.alloc(10), id, 'none', null, k, CHUNK_DEK_INFO, Buffer.alloc(8), tag), /nonce must be 12/);
  assert.throws(() => n.digest('sha256', 'text' as unknown as Buffer, null, id), TypeError);
  assert.throws(() => n.crc32('text' as unknown as Buffer), TypeError);
  assert.throws(() => n.allocSecure(-1), TypeError);
});

test('a failed native open zeroes the caller-provided output buffer', async () => {
  const n = binding();
  const kek = randomBytes(32);
  const pt = randomBytes(4096);
  const ct = Buffer.alloc(pt.length);
  const id = Buffer.alloc(32);
  const tag = Buffer.alloc(16);
  const nonce = randomBytes(12);
  await n.seal(pt, ct, id, 'sha256', null, kek, CHUNK_DEK_INFO, nonce, tag);
  tag[3]! ^= 0x80;
  const out = Buffer.alloc(pt.length, 0xee);
  assert.equal(await n.open(ct, out, id, 'none', null, kek, CHUNK_DEK_INFO, nonce, tag), 'auth-failed');
  assert.ok(out.equals(Buffer.alloc(pt.length)), 'partial plaintext left in the output');
});

test('KISEKI_CRYPTO selects the backend; a bad value is a clear InvalidArgument', async () => {
  assert.equal(parseBackendChoice(undefined), 'auto');
  assert.equal(parseBackendChoice('native'), 'native');
  assert.equal(parseBackendChoice('portable'), 'portable');
  assert.throws(() => parseBackendChoice('fast'), (e: unknown) => KisekiError.is(e, 'InvalidArgument') && /native, portable/.test((e as Error).message));
  const expected = process.env.KISEKI_CRYPTO === 'portable' ? 'portable' : 'native';
  assert.equal((await defaultBackend()).name, expected);
});

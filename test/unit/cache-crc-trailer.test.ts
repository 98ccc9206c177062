// I-CC13's trailer with the addon's PCLMULQDQ CRC-32 (native/crypto/crc32-fold.cc): the same value as
// zlib's for every length and alignment, including the tails the folding hands back to zlib and, on
// CPUs with VPCLMULQDQ, the hand-over from the 256-byte fold (from 512 bytes) to the 64-byte loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { checkTrailer, crcImplementation, crcTrailer } from '../../src/cache/crc-trailer.js';

test('I-CC13 trailer: the native CRC-32 is zlib\'s for lengths 0…70,000 at every alignment, and "123456789" → cbf43926', () => {
  assert.equal(crcImplementation, 'native', 'the addon is built, so L2 checks use its CRC');
  assert.equal(crcTrailer(Buffer.from('123456789')).readUInt32LE(0), 0xcbf43926);
  const pool = randomBytes(80_000);
  for (let len = 0; len <= 300; len++) {
    for (let off = 0; off < 16; off++) {
      const v = pool.subarray(off, off + len);
      assert.equal(crcTrailer(v).readUInt32LE(0), crc32(v), `length ${len}, offset ${off}`);
    }
  }
  for (let len = 500; len <= 1_300; len++) {
    const off = randomInt(64);
    const v = pool.subarray(off, off + len);
    assert.equal(crcTrailer(v).readUInt32LE(0), crc32(v), `length ${len}, offset ${off}`);
  }
  const chunk = randomBytes((4 << 20) + 13);
  assert.equal(crcTrailer(chunk).readUInt32LE(0), crc32(chunk), 'a 4 MiB chunk and a tail');
  for (let i = 0; i < 2000; i++) {
    const off = randomInt(64);
    const v = pool.subarray(off, off + randomInt(70_000));
    assert.equal(crcTrailer(v).readUInt32LE(0), crc32(v), `length ${v.length}, offset ${off}`);
  }
});

test('I-CC13 trailer: any single flipped bit of a 4 MiB entry, plaintext or trailer, is reported corrupt', () => {
  const plain = randomBytes(4 << 20);
  const file = Buffer.concat([plain, crcTrailer(plain)]);
  const ok = checkTrailer(file);
  assert.ok(ok.kind === 'ok' && ok.data.equals(plain));
  for (let i = 0; i < 200; i++) {
    const bit = randomInt(file.length * 8);
    file[bit >> 3]! ^= 1 << (bit & 7);
    assert.equal(checkTrailer(file).kind, 'corrupt', `bit ${bit}`);
    file[bit >> 3]! ^= 1 << (bit & 7);
  }
  assert.equal(checkTrailer(file).kind, 'ok');
});

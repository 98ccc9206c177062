// The copy-free ReadDirPlusResponse decoder gives exactly what the generated decoder gives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { decodeReadDirPlus } from '../../src/client/readdir-wire.js';
import { FileKind, ReadDirPlusResponse, type DirEntry } from '../../src/gen/kiseki/v1/namespace.js';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const safe = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((b) => Buffer.from(b));
const ts = fc.option(fc.record({ sec: fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), nsec: fc.integer({ min: 0, max: 999_999_999 }) }), { nil: undefined });
const entry: fc.Arbitrary<DirEntry> = fc.record({
  nameKey: bytes(40),
  sealedName: fc.option(fc.record({
    ciphertext: bytes(300), authTag: bytes(16), nonce: bytes(12), algorithm: fc.integer({ min: 0, max: 3 }),
    systemEpoch: fc.option(fc.record({ value: safe }), { nil: undefined }), tenantEpoch: fc.option(fc.record({ value: safe }), { nil: undefined }),
    tenantWrappedMaterial: bytes(8), chunkId: fc.option(fc.record({ value: bytes(32) }), { nil: undefined }),
  }), { nil: undefined }),
  attr: fc.option(fc.record({
    ino: safe, kind: fc.constantFrom(FileKind.FILE_KIND_REGULAR, FileKind.FILE_KIND_DIRECTORY, FileKind.FILE_KIND_SYMLINK),
    mode: u32, uid: u32, gid: u32, size: safe, nlink: u32, atime: ts, mtime: ts, ctime: ts, generation: safe, chunkSize: u32,
  }), { nil: undefined }),
  cookie: bytes(40),
});

test('decodeReadDirPlus equals the generated decoder on random listings', () => {
  fc.assert(fc.property(fc.array(entry, { maxLength: 20 }), fc.boolean(), (entries, eof) => {
    const wire = ReadDirPlusResponse.encode({ entries, eof }).finish();
    assert.deepEqual(decodeReadDirPlus(wire), ReadDirPlusResponse.decode(wire));
  }), { numRuns: 300 });
});

test('decodeReadDirPlus skips unknown fields and rejects a truncated message', () => {
  const one = ReadDirPlusResponse.encode({ entries: [{ nameKey: randomBytes(32), sealedName: undefined, attr: undefined, cookie: randomBytes(32) }], eof: true }).finish();
  const w = new BinaryWriter();
  w.uint32((9 << 3) | 2).bytes(Buffer.from('future field'));
  w.uint32((10 << 3) | 0).uint64(42n);
  const withUnknown = Buffer.concat([Buffer.from(w.finish()), one]);
  assert.deepEqual(decodeReadDirPlus(withUnknown), ReadDirPlusResponse.decode(withUnknown));
  assert.throws(() => decodeReadDirPlus(one.subarray(0, one.length - 5)));
});

test('decodeReadDirPlus rejects an attribute past 2^53 and a varint longer than 10 bytes instead of rounding or wrapping them', () => {
  const unsafe = new BinaryWriter();
  // entries[0].attr.ino = 2^53 + 1
  unsafe.uint32((1 << 3) | 2).fork().uint32((3 << 3) | 2).fork().uint32((1 << 3) | 0).uint64(2n ** 53n + 1n).join().join();
  assert.throws(() => decodeReadDirPlus(unsafe.finish()), /safe range/);
  const safe = new BinaryWriter();
  safe.uint32((1 << 3) | 2).fork().uint32((3 << 3) | 2).fork().uint32((1 << 3) | 0).uint64(2n ** 53n - 1n).join().join();
  assert.equal(decodeReadDirPlus(safe.finish()).entries[0]?.attr?.ino, 2 ** 53 - 1);
  const wide = Buffer.from([(2 << 3) | 0, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
  assert.throws(() => decodeReadDirPlus(wide), /varint/);
});

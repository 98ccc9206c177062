// The node's hand-written ReadDirPlusResponse is byte for byte what ts-proto writes for the same
// message, and decodes (generated decoder) to it; cookies resume in inode order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Envelope } from '../../src/gen/kiseki/v1/chunk.js';
import { FileKind, ReadDirPlusResponse, type DirEntry } from '../../src/gen/kiseki/v1/namespace.js';
import { READDIR_COOKIE_BYTES, type ReaddirRow, encodeReadDirPlus, readdirCursor } from '../../src/node/readdir-encoder.js';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const safe = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const small = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 300 }), safe);
const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max }).map((b) => Buffer.from(b));
const sec = fc.oneof(fc.constant(0), fc.integer({ min: -(2 ** 52), max: 2 ** 52 }), fc.constantFrom(-1, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER));
const envelope: fc.Arbitrary<Envelope> = fc.record({
  ciphertext: bytes(0, 300), authTag: bytes(16, 16), nonce: bytes(12, 12), algorithm: fc.integer({ min: 0, max: 3 }),
  systemEpoch: fc.option(fc.record({ value: safe }), { nil: undefined }), tenantEpoch: fc.option(fc.record({ value: safe }), { nil: undefined }),
  tenantWrappedMaterial: bytes(0, 8), chunkId: fc.option(fc.record({ value: bytes(32, 32) }), { nil: undefined }),
});
/** A row as the readdir query returns it: the sealed name is stored as encodeEnv made it. */
const row: fc.Arbitrary<ReaddirRow> = fc.tuple(
  bytes(32, 32), envelope, safe, fc.constantFrom(FileKind.FILE_KIND_REGULAR, FileKind.FILE_KIND_DIRECTORY, FileKind.FILE_KIND_SYMLINK),
  u32, u32, u32, small, u32, sec, u32, sec, u32, sec, u32, small, u32,
).map(([key, env, ...nums]) => [key, Buffer.from(Envelope.encode(env).finish()), ...nums] as ReaddirRow);

/** The same page built the way the node did before: decoded objects, ts-proto's encoder. */
function generated(rows: readonly ReaddirRow[], n: number, eof: boolean): Buffer {
  const entries: DirEntry[] = rows.slice(0, n).map((r) => {
    const cookie = Buffer.alloc(READDIR_COOKIE_BYTES);
    cookie.writeUIntBE(Math.floor(r[2]! / 2 ** 32), 0, 4);
    cookie.writeUInt32BE(r[2]! >>> 0, 4);
    r[0].copy(cookie, 8);
    return {
      nameKey: r[0], sealedName: Envelope.decode(r[1]), cookie,
      attr: {
        ino: r[2]!, kind: r[3]! as FileKind, mode: r[4]!, uid: r[5]!, gid: r[6]!, size: r[7]!, nlink: r[8]!,
        atime: { sec: r[9]!, nsec: r[10]! }, mtime: { sec: r[11]!, nsec: r[12]! }, ctime: { sec: r[13]!, nsec: r[14]! },
        generation: r[15]!, chunkSize: r[16]!,
      },
    };
  });
  return Buffer.from(ReadDirPlusResponse.encode({ entries, eof }).finish());
}

test('encodeReadDirPlus writes the bytes ts-proto writes and decodes to the same message', () => {
  fc.assert(fc.property(fc.array(row, { maxLength: 12 }), fc.boolean(), fc.nat(3), (rows, eof, extra) => {
    // The query asks one row more than the page holds; the encoder must leave it out.
    const n = Math.max(0, rows.length - Math.min(extra, 1));
    const mine = encodeReadDirPlus(rows, n, eof);
    const theirs = generated(rows, n, eof);
    assert.deepEqual(ReadDirPlusResponse.decode(mine), ReadDirPlusResponse.decode(theirs));
    assert.ok(mine.equals(theirs), 'same bytes');
  }), { numRuns: 400 });
});

test('readdirCursor reads back the cookie it resumes after, and refuses foreign cursors', () => {
  fc.assert(fc.property(row, (r) => {
    const page = ReadDirPlusResponse.decode(encodeReadDirPlus([r], 1, true));
    const c = readdirCursor(page.entries[0]!.cookie);
    assert.equal(c.ino, r[2]);
    assert.ok(c.nameKey.equals(r[0]));
  }), { numRuns: 200 });
  assert.deepEqual(readdirCursor(Buffer.alloc(0)).ino, 0);
  assert.throws(() => readdirCursor(Buffer.alloc(32)), /cursor: must be empty or a cookie/);
  assert.throws(() => readdirCursor(Buffer.alloc(40, 0xff)), /past 2\^53/);
});

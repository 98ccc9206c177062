// native/sys: the one-job L2 read behind every L2 hit (I-CC13's CRC computed while reading), and the
// one-job L2 insert that writes an entry and its CRC trailer (ADR 0047).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { readCheckedBinding, writeEntryBinding } from '../../src/cache/l2-file-binding.js';

const readChecked = readCheckedBinding();
const writeEntry = writeEntryBinding();

test('I-CC13 readChecked: reads the whole entry and the CRC-32 of all but its 4-byte trailer', { skip: readChecked === null }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kiseki-read-checked-'));
  try {
    const body = randomBytes((1 << 20) + 13);
    const file = Buffer.concat([body, Buffer.from([1, 2, 3, 4])]);
    writeFileSync(join(dir, 'entry'), file);
    const buf = Buffer.alloc(file.length);
    const r = await readChecked!(join(dir, 'entry'), buf);
    assert.equal(r.bytes, file.length);
    assert.equal(r.crc, crc32(body), 'CRC of the plaintext, not of the trailer');
    assert.ok(buf.equals(file));

    const longer = Buffer.alloc(file.length + 100);
    assert.equal((await readChecked!(join(dir, 'entry'), longer)).bytes, file.length, 'a short file says how much it had');

    await assert.rejects(readChecked!(join(dir, 'missing'), buf), (err: NodeJS.ErrnoException) => err.code === 'ENOENT');
    await assert.rejects(readChecked!(dir, buf), (err: NodeJS.ErrnoException) => err.code === 'EISDIR', 'a directory is an I/O error, not a hit');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('I-CC13 writeEntry: the file holds exactly the plaintext and its CRC-32 (LE), 0600, at lengths around 4 KiB pages and whole chunks', { skip: writeEntry === null }, async () => {
  // /tmp (ext4 here) and /dev/shm (tmpfs).
  const roots = [tmpdir(), ...(existsSync('/dev/shm') ? ['/dev/shm'] : [])];
  for (const root of roots) {
    const dir = mkdtempSync(join(root, 'kiseki-write-entry-'));
    try {
      for (const len of [0, 1, 4091, 4092, 4093, 4096, 8188, (1 << 20) + 13, 4 << 20]) {
        const data = randomBytes(len);
        const path = join(dir, `e${len}`);
        await writeEntry!(path, data, len === 4092);
        const file = readFileSync(path);
        assert.equal(file.length, len + 4, `${root}, length ${len}: exact size, no padding left`);
        assert.ok(file.subarray(0, len).equals(data), `${root}, length ${len}: the plaintext`);
        assert.equal(file.readUInt32LE(len), crc32(data), `${root}, length ${len}: the trailer`);
        assert.equal(statSync(path).mode & 0o777, 0o600);
        const back = Buffer.alloc(len + 4);
        const r = await readChecked!(path, back);
        assert.equal(r.crc, crc32(data), 'and readChecked agrees');
      }
      await assert.rejects(writeEntry!(join(dir, 'e1'), Buffer.alloc(10), false), (err: NodeJS.ErrnoException) => err.code === 'EEXIST', 'never overwrites');
      await assert.rejects(writeEntry!(join(dir, 'no', 'such'), Buffer.alloc(10), false), (err: NodeJS.ErrnoException) => err.code === 'ENOENT');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

// native/sys/read-checked.cc: the one-job L2 read behind every L2 hit (I-CC13's CRC computed while reading).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { readCheckedBinding } from '../../src/cache/l2-read-binding.js';

const readChecked = readCheckedBinding();

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

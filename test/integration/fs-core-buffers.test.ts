// The read and write paths reuse chunk buffers (ChunkBuffers) against a real kiseki-node, in process:
// a slot buffer is not reused while a read still holds it, chunks sealed into reused buffers are
// stored right, and cold reads open chunks into reused buffers without mixing up their bytes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { startCore, type CoreHarness } from './fs-core-harness.js';

const MiB = 1 << 20;
const who = { uid: 1000, gid: 1000 };
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let h: CoreHarness;
before(async () => { h = await startCore(); });
after(async () => h.close());

test('a slot buffer that a read still holds is not zeroed or reused when its chunk is stored', async () => {
  const ms = await h.open('buffers-slot', ['chunk_size=1M']);
  const { attr, file } = await ms.fs.create(1, Buffer.from('slot.bin'), 0o644, fsc.O_RDWR | fsc.O_CREAT, who);
  const first = randomBytes(MiB);
  // A full chunk: sealed and uploaded in the background; the read below is answered from its slot.
  await ms.fs.write(file.fh, 0, first);
  const held = await ms.fs.readLease(file.fh, 0, 64 * 1024);
  const expected = Buffer.from(first.subarray(0, 64 * 1024));
  await ms.fs.fsync(file.fh);
  // More chunks through the same pool: a buffer given back too early would be zeroed or refilled here.
  for (let i = 1; i <= 4; i++) await ms.fs.write(file.fh, i * MiB, randomBytes(MiB));
  await ms.fs.fsync(file.fh);
  assert.ok(held.data.equals(expected), 'the held bytes are still the bytes written');
  held.release();
  const again = await ms.fs.read(file.fh, 0, 64 * 1024);
  assert.ok(again.equals(expected));
  // Stored and unleased, the slot buffers are back in the pool: the next chunk takes one of them.
  const last = randomBytes(MiB);
  await ms.fs.write(file.fh, 5 * MiB, last);
  await ms.fs.fsync(file.fh);
  assert.ok(ms.fs.reader.buffers.stats.reused > 0, `slot buffers were reused: ${JSON.stringify(ms.fs.reader.buffers.stats)}`);
  const b = await h.open('buffers-slot', ['chunk_size=1M', 'cache_mode=bypass']);
  const rf = await b.fs.open(attr.ino, fsc.O_RDONLY);
  assert.ok((await b.fs.read(rf.fh, 5 * MiB, MiB)).equals(last), 'a chunk filled in a reused buffer reads back right on another client');
  assert.ok((await b.fs.read(rf.fh, 0, 64 * 1024)).equals(expected));
  await b.fs.release(rf.fh);
  await ms.fs.release(file.fh);
});

test('cold sequential reads open chunks into reused buffers and return every byte right', async () => {
  const writer = await h.open('buffers-cold', ['chunk_size=1M']);
  const data = randomBytes(12 * MiB + 777);
  const { attr, file } = await writer.fs.create(1, Buffer.from('cold.bin'), 0o644, fsc.O_RDWR | fsc.O_CREAT, who);
  for (let off = 0; off < data.length; off += MiB) await writer.fs.write(file.fh, off, data.subarray(off, off + MiB));
  await writer.fs.release(file.fh);
  // 13 slots and 13 seal outputs through a pool that gets them back as chunks are stored.
  assert.ok(writer.fs.reader.buffers.stats.reused > 0, `the writer reused buffers: ${JSON.stringify(writer.fs.reader.buffers.stats)}`);
  for (const mode of ['cache_mode=organic', 'cache_mode=bypass']) {
    const reader = await h.open('buffers-cold', ['chunk_size=1M', mode]);
    const rf = await reader.fs.open(attr.ino, fsc.O_RDONLY);
    const parts: Buffer[] = [];
    for (let off = 0; off < data.length; off += 256 * 1024) parts.push(await reader.fs.read(rf.fh, off, 256 * 1024));
    await reader.fs.release(rf.fh);
    assert.equal(sha(Buffer.concat(parts)), sha(data), `${mode}: the bytes read are the bytes written`);
    assert.ok(reader.fs.reader.stats.fetched >= 13, `${mode}: every chunk was fetched (${reader.fs.reader.stats.fetched})`);
    assert.ok(reader.fs.reader.buffers.stats.reused > 0, `${mode}: buffers were reused: ${JSON.stringify(reader.fs.reader.buffers.stats)}`);
  }
});

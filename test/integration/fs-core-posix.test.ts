// The filesystem core in process against a real kiseki-node: data paths, chunk edges, POSIX namespace
// semantics, and integrity. No FUSE here; mount-*.test.ts drive the same core through the kernel.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { join } from 'node:path';
import { Envelope } from '../../src/gen/kiseki/v1/chunk.js';
import { KisekiError } from '../../src/errors.js';
import { RENAME_EXCHANGE, RENAME_NOREPLACE, XATTR_CREATE, XATTR_REPLACE, type KisekiFileSystem } from '../../src/client/filesystem.js';
import type { MountSession } from '../../src/client/mount-session.js';
import { startCore, type CoreHarness } from './fs-core-harness.js';

const MiB = 1 << 20;
const who = { uid: 1000, gid: 1000 };
const n = (s: string) => Buffer.from(s);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const errno = (e: unknown) => (KisekiError.is(e) ? e.errno : -1);

let h: CoreHarness;
let a: MountSession;
let fs: KisekiFileSystem;

before(async () => {
  h = await startCore();
  a = await h.open('core', ['cache_mode=bypass']);
  fs = a.fs;
});
after(async () => h.close());

async function writeFile_(f: KisekiFileSystem, name: string, data: Buffer, piece = 100 * 1024): Promise<number> {
  const { attr, file } = await f.create(1, n(name), 0o644, fsc.O_RDWR | fsc.O_CREAT, who);
  for (let off = 0; off < data.length; off += piece) await f.write(file.fh, off, data.subarray(off, off + piece));
  await f.release(file.fh);
  return attr.ino;
}

async function readAll(f: KisekiFileSystem, ino: number): Promise<Buffer> {
  const file = await f.open(ino, fsc.O_RDONLY);
  const size = (await f.getattr(ino)).size;
  const parts: Buffer[] = [];
  for (let off = 0; off < size; off += 128 * 1024) parts.push(await f.read(file.fh, off, 128 * 1024));
  await f.release(file.fh);
  return Buffer.concat(parts);
}

test('multi-chunk file round-trips through a second, independent client', async () => {
  const data = randomBytes(3 * MiB + 12345);
  const ino = await writeFile_(fs, 'big.bin', data);
  const b = await h.open('core', ['cache_mode=bypass']);
  assert.equal(sha(await readAll(b.fs, ino)), sha(data));
  const layout = await a.session.namespace.getLayout({ namespaceId: { value: 'core' }, ino });
  assert.equal(layout.chunks.length, 4);
  assert.equal(layout.chunks[3]!.length, 12345, 'the last chunk is short');
});

test('empty file round-trips with no chunks and no inline data', async () => {
  const ino = await writeFile_(fs, 'empty', Buffer.alloc(0));
  assert.equal((await fs.getattr(ino)).size, 0);
  const layout = await a.session.namespace.getLayout({ namespaceId: { value: 'core' }, ino });
  assert.equal(layout.chunks.length, 0);
  assert.equal(layout.inlineData, undefined);
  assert.equal((await readAll(fs, ino)).length, 0);
});

test('small files live inline until they outgrow the threshold', async () => {
  const { attr, file } = await fs.create(1, n('small'), 0o644, fsc.O_RDWR, who);
  await fs.write(file.fh, 0, n('hello'));
  await fs.flush(file.fh);
  let layout = await a.session.namespace.getLayout({ namespaceId: { value: 'core' }, ino: attr.ino });
  assert.ok(layout.inlineData !== undefined && layout.chunks.length === 0);
  assert.ok(!layout.inlineData.ciphertext.includes(n('hello')), 'inline data is sealed');
  await fs.write(file.fh, 5000, n('tail'));
  await fs.release(file.fh);
  layout = await a.session.namespace.getLayout({ namespaceId: { value: 'core' }, ino: attr.ino });
  assert.equal(layout.inlineData, undefined);
  assert.equal(layout.chunks.length, 1);
  const back = await readAll(fs, attr.ino);
  assert.equal(back.length, 5004);
  assert.equal(back.subarray(0, 5).toString(), 'hello');
  assert.ok(back.subarray(5, 5000).every((x) => x === 0), 'the gap reads as zeros');
  assert.equal(back.subarray(5000).toString(), 'tail');
});

test('sparse write far past the end reads zeros before it and stores no chunks for the hole', async () => {
  const { attr, file } = await fs.create(1, n('sparse'), 0o644, fsc.O_RDWR, who);
  await fs.write(file.fh, 5 * MiB + 7, n('x'));
  await fs.release(file.fh);
  assert.equal((await fs.getattr(attr.ino)).size, 5 * MiB + 8);
  const layout = await a.session.namespace.getLayout({ namespaceId: { value: 'core' }, ino: attr.ino });
  assert.deepEqual(layout.chunks.map((c) => c.offset), [5 * MiB]);
  const back = await readAll(fs, attr.ino);
  assert.ok(back.subarray(0, 5 * MiB + 7).every((x) => x === 0));
  assert.equal(back[5 * MiB + 7], 'x'.charCodeAt(0));
});

test('I-FS1: bytes past a shrunk size never reappear when the file grows again', async () => {
  const data = Buffer.alloc(2 * MiB + 100, 0xab);
  const ino = await writeFile_(fs, 'shrink', data, MiB);
  await fs.setattr(ino, { size: MiB + 10 });
  await fs.setattr(ino, { size: 3 * MiB });
  const back = await readAll(fs, ino);
  assert.equal(back.length, 3 * MiB);
  assert.ok(back.subarray(0, MiB + 10).every((x) => x === 0xab));
  assert.ok(back.subarray(MiB + 10).every((x) => x === 0), 'no stale 0xab past the old shrink point');
  const other = await h.open('core', ['cache_mode=bypass']);
  assert.ok((await readAll(other.fs, ino)).subarray(MiB + 10).every((x) => x === 0), 'another client agrees');
});

test('read-your-writes: size and content visible through another handle before any flush', async () => {
  const { attr, file } = await fs.create(1, n('ryw'), 0o644, fsc.O_RDWR, who);
  const reader = await fs.open(attr.ino, fsc.O_RDONLY);
  await fs.write(file.fh, 0, n('abcdef'));
  assert.equal((await fs.getattr(attr.ino)).size, 6);
  assert.equal((await fs.read(reader.fh, 2, 10)).toString(), 'cdef');
  await fs.release(reader.fh);
  await fs.release(file.fh);
});

test('O_EXCL create of an existing name fails with EEXIST; O_TRUNC empties', async () => {
  await writeFile_(fs, 'excl', n('data'));
  await assert.rejects(fs.create(1, n('excl'), 0o644, fsc.O_RDWR | fsc.O_EXCL, who), (e) => errno(e) === constants.errno.EEXIST);
  const ino = (await fs.lookup(1, n('excl'))).ino;
  const f = await fs.open(ino, fsc.O_RDWR | fsc.O_TRUNC);
  await fs.release(f.fh);
  assert.equal((await fs.getattr(ino)).size, 0);
});

test('create with O_TRUNC: a new file commits nothing more; an existing one through create is emptied', async () => {
  const made = await fs.create(1, n('trunc-new'), 0o644, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC, who);
  await fs.release(made.file.fh);
  assert.equal((await fs.getattr(made.attr.ino)).generation, made.attr.generation, 'no layout commit for a file the call made');
  await writeFile_(fs, 'trunc-old', n('some bytes'));
  const again = await fs.create(1, n('trunc-old'), 0o644, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC, who);
  await fs.release(again.file.fh);
  assert.equal((await fs.getattr(again.attr.ino)).size, 0);
});

test('O_APPEND through two clients loses no record (generation guard rebase)', async () => {
  const ino = await writeFile_(fs, 'log', Buffer.alloc(0));
  const b = await h.open('core', ['cache_mode=bypass']);
  const fa = await fs.open(ino, fsc.O_WRONLY | fsc.O_APPEND);
  const fb = await b.fs.open(ino, fsc.O_WRONLY | fsc.O_APPEND);
  for (let i = 0; i < 20; i++) {
    await fs.write(fa.fh, 0, n(`a${String(i).padStart(2, '0')}\n`));
    await b.fs.write(fb.fh, 0, n(`b${String(i).padStart(2, '0')}\n`));
    await Promise.all([fs.flush(fa.fh), b.fs.flush(fb.fh)]);
  }
  await fs.release(fa.fh);
  await b.fs.release(fb.fh);
  const lines = (await readAll(fs, ino)).toString().trim().split('\n');
  assert.equal(lines.length, 40);
  assert.equal(new Set(lines).size, 40);
});

test('two clients writing different ranges of one chunk both keep their bytes (rebase re-applies ranges)', async () => {
  const base = Buffer.alloc(300_000, 0x2e);
  const ino = await writeFile_(fs, 'shared-chunk', base);
  const b = await h.open('core', ['cache_mode=bypass']);
  const fa = await fs.open(ino, fsc.O_RDWR);
  const fb = await b.fs.open(ino, fsc.O_RDWR);
  await fs.write(fa.fh, 1000, Buffer.alloc(5000, 0x41));
  await b.fs.write(fb.fh, 200_000, Buffer.alloc(7000, 0x42));
  await Promise.all([fs.flush(fa.fh), b.fs.flush(fb.fh)]);
  await fs.release(fa.fh);
  await b.fs.release(fb.fh);
  const c = await h.open('core', ['cache_mode=bypass']);
  const back = await readAll(c.fs, ino);
  const expected = Buffer.from(base);
  expected.fill(0x41, 1000, 6000);
  expected.fill(0x42, 200_000, 207_000);
  assert.equal(back.length, expected.length);
  assert.ok(back.equals(expected), 'both writers\' ranges survive, the rest is the original');
});

test('unlink of an open file: the handle keeps reading and writing until release', async () => {
  const ino = await writeFile_(fs, 'doomed', n('still here'));
  const f = await fs.open(ino, fsc.O_RDWR);
  await fs.unlink(1, n('doomed'));
  await assert.rejects(fs.lookup(1, n('doomed')), (e) => errno(e) === constants.errno.ENOENT);
  assert.equal((await fs.read(f.fh, 0, 100)).toString(), 'still here');
  await fs.write(f.fh, 10, n('!'));
  await fs.flush(f.fh);
  assert.equal((await fs.read(f.fh, 0, 100)).toString(), 'still here!');
  await fs.release(f.fh);
});

test('rename: replace, RENAME_NOREPLACE → EEXIST, RENAME_EXCHANGE swaps', async () => {
  await writeFile_(fs, 'r1', n('one'));
  await writeFile_(fs, 'r2', n('two'));
  await assert.rejects(fs.rename(1, n('r1'), 1, n('r2'), RENAME_NOREPLACE), (e) => errno(e) === constants.errno.EEXIST);
  await fs.rename(1, n('r1'), 1, n('r2'), RENAME_EXCHANGE);
  assert.equal((await readAll(fs, (await fs.lookup(1, n('r1'))).ino)).toString(), 'two');
  assert.equal((await readAll(fs, (await fs.lookup(1, n('r2'))).ino)).toString(), 'one');
  await fs.rename(1, n('r1'), 1, n('r2'), 0);
  await assert.rejects(fs.lookup(1, n('r1')), (e) => errno(e) === constants.errno.ENOENT);
  assert.equal((await readAll(fs, (await fs.lookup(1, n('r2'))).ino)).toString(), 'two');
});

test('directories, symlinks, hard links, names listed back in clear', async () => {
  const d = await fs.mkdir(1, n('dir'), 0o755, who);
  await writeFile_(fs, 'in-root', n('x'));
  const sub = await fs.mkdir(d.ino, n('sub'), 0o700, who);
  await assert.rejects(fs.rmdir(1, n('dir')), (e) => errno(e) === constants.errno.ENOTEMPTY);
  const s = await fs.symlink(d.ino, n('link'), n('../in-root'), who);
  assert.equal((await fs.readlink(s.ino)).toString(), '../in-root');
  assert.equal(s.size, '../in-root'.length);
  const target = await fs.lookup(1, n('in-root'));
  const l = await fs.link(target.ino, d.ino, n('hard'));
  assert.equal(l.nlink, 2);
  const names = (await fs.readdir(d.ino)).map((e) => e.name.toString()).sort();
  assert.deepEqual(names, ['hard', 'link', 'sub']);
  await fs.rmdir(d.ino, n('sub'));
  assert.equal(sub.mode & 0o777, 0o700);
});

test('xattrs: create/replace flags, list, remove, ENODATA', async () => {
  const ino = await writeFile_(fs, 'xa', n('x'));
  await fs.setxattr(ino, 'user.one', n('1'), XATTR_CREATE);
  await assert.rejects(fs.setxattr(ino, 'user.one', n('2'), XATTR_CREATE), (e) => errno(e) === constants.errno.EEXIST);
  await assert.rejects(fs.setxattr(ino, 'user.two', n('2'), XATTR_REPLACE), (e) => errno(e) === constants.errno.ENODATA);
  await fs.setxattr(ino, 'user.one', n('uno'), XATTR_REPLACE);
  await fs.setxattr(ino, 'user.two', Buffer.alloc(0), 0);
  assert.equal((await fs.getxattr(ino, 'user.one')).toString(), 'uno');
  assert.deepEqual((await fs.listxattr(ino)).sort(), ['user.one', 'user.two']);
  await fs.removexattr(ino, 'user.one');
  await assert.rejects(fs.getxattr(ino, 'user.one'), (e) => errno(e) === constants.errno.ENODATA);
});

test('sequential reads prefetch the next chunks into the cache; the data stays right', async () => {
  const data = randomBytes(8 * MiB);
  const ino = await writeFile_(fs, 'seq', data, MiB);
  // Prefetch warms the cache (bypass mode keeps nothing, so there it does not run: fs-core-reader.test.ts).
  const c = await h.open('core');
  const before = c.fs.reader.stats.prefetched;
  assert.equal(sha(await readAll(c.fs, ino)), sha(data));
  assert.ok(c.fs.reader.stats.prefetched - before >= 4, `prefetched ${c.fs.reader.stats.prefetched - before}`);
  assert.ok(c.fs.reader.stats.cacheHits > 0, 'reads found the prefetched chunks in the cache');
});

test('a tampered chunk on the node reads as EIO, never as wrong bytes', async () => {
  const data = randomBytes(MiB + 5);
  const ino = await writeFile_(fs, 'tamper', data);
  const layout = await a.session.namespace.getLayout({ namespaceId: { value: 'core' }, ino });
  const id = layout.chunks[0]!.chunkId!.value.toString('hex');
  const root = join(h.dir, 'node', 'chunks');
  const [tenant] = await readdir(root);
  const file = join(root, tenant!, id.slice(0, 2), id);
  const env = Envelope.decode(await readFile(file));
  env.ciphertext[1000] ^= 1;
  await writeFile(file, Envelope.encode(env).finish());
  const c = await h.open('core', ['cache_mode=bypass']);
  const f = await c.fs.open(ino, fsc.O_RDONLY);
  await assert.rejects(c.fs.read(f.fh, 0, 4096), (e) => errno(e) === constants.errno.EIO);
  assert.equal((await c.fs.read(f.fh, MiB, 5)).length, 5, 'the untouched chunk still reads');
  await c.fs.release(f.fh);
});

test('names never reach the node in clear', async () => {
  await writeFile_(fs, 'very-secret-name.txt', n('x'));
  const res = await a.session.namespace.readDirPlus({ namespaceId: { value: 'core' }, ino: 1, cursor: Buffer.alloc(0), limit: 0 });
  for (const e of res.entries) assert.ok(!e.sealedName!.ciphertext.includes(n('very-secret')));
  assert.ok((await fs.readdir(1)).some((e) => e.name.toString() === 'very-secret-name.txt'));
  const fresh = await h.open('core', ['cache_mode=bypass']);
  const names = (await fresh.fs.readdir(1)).map((e) => e.name.toString());
  assert.ok(names.includes('very-secret-name.txt'), 'a client that never saw the name opens it from its sealed form');
  assert.deepEqual(names.sort(), (await fs.readdir(1)).map((e) => e.name.toString()).sort());
});

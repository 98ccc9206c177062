// Every NamespaceService RPC against a real kiseki-node (over its unix socket), with the POSIX edge
// cases: O_EXCL, rmdir of non-empty dirs, rename flags and type clashes, hard links, xattr flags,
// readdir paging under concurrent change, the CommitLayout generation guard, setattr.
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Attr, FileKind } from '../../src/gen/kiseki/v1/namespace.js';
import { type NodeProcess, startNode } from '../helpers/node-process.js';
import { type NodeRpc, nameKey, nodeRpc, openSealed, rejectsWith, sealed, sealedName } from '../helpers/node-rpc.js';

const E = constants.errno;
const S = grpc.status;
const BIN = resolve(__dirname, '../../src/cli/kiseki-node.js');
let dir: string;
let node: NodeProcess;
let c: NodeRpc;
let nsCounter = 0;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kiseki-node-ns-'));
  node = await startNode({ dataDir: join(dir, 'data'), socket: true });
  c = nodeRpc(`unix:${node.socketPath}`, grpc.credentials.createInsecure());
});
after(async () => {
  c?.close();
  await node?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A fresh namespace per test and terse helpers over it. */
async function fresh() {
  const namespaceId = { value: `ns-${++nsCounter}` };
  await c.ns('openNamespace', { namespaceId, create: true, defaultChunkSize: 65536 });
  const entry = (parent: number, name: string) => ({ namespaceId, parent, nameKey: nameKey(parent, name), sealedName: sealedName(parent, name) });
  const h = {
    namespaceId,
    create: async (parent: number, name: string, exclusive = true): Promise<Attr> =>
      (await c.ns('create', { ...entry(parent, name), mode: 0o644, uid: 1, gid: 2, exclusive, chunkSize: 0 })).attr!,
    mkdir: async (parent: number, name: string): Promise<Attr> => (await c.ns('mkDir', { ...entry(parent, name), mode: 0o755, uid: 1, gid: 2 })).attr!,
    lookup: async (parent: number, name: string): Promise<Attr> => (await c.ns('lookup', { namespaceId, parent, nameKey: nameKey(parent, name) })).attr!,
    getattr: async (ino: number): Promise<Attr> => (await c.ns('getAttr', { namespaceId, ino })).attr!,
    unlink: (parent: number, name: string) => c.ns('unlink', { namespaceId, parent, nameKey: nameKey(parent, name) }),
    rmdir: (parent: number, name: string) => c.ns('rmDir', { namespaceId, parent, nameKey: nameKey(parent, name) }),
    rename: (parent: number, name: string, newParent: number, newName: string, flags = 0, newNs = namespaceId) => c.ns('rename', {
      namespaceId, parent, nameKey: nameKey(parent, name), newNamespaceId: newNs, newParent, newNameKey: nameKey(newParent, newName),
      newSealedName: sealedName(newParent, newName), flags, exchangedSealedName: flags & 2 ? sealedName(parent, name) : undefined,
    }),
    readdirAll: async (ino: number, limit = 0) => {
      const all: string[] = [];
      let cursor: Buffer = Buffer.alloc(0);
      for (;;) {
        const r = await c.ns('readDirPlus', { namespaceId, ino, cursor, limit });
        all.push(...r.entries.map((e) => openSealed(e.sealedName!).toString()));
        if (r.eof) return all;
        cursor = r.entries.at(-1)!.cookie;
      }
    },
  };
  return h;
}

describe('create, mkdir, lookup', () => {
  test('O_EXCL create of an existing name is EEXIST; without O_EXCL the same inode comes back', async () => {
    const n = await fresh();
    const a = await n.create(1, 'f');
    await rejectsWith(n.create(1, 'f'), S.ALREADY_EXISTS, E.EEXIST);
    assert.equal((await n.create(1, 'f', false)).ino, a.ino);
    assert.equal(a.mode, 0o644);
    assert.equal(a.uid, 1);
    assert.equal(a.gid, 2);
    assert.equal(a.size, 0);
    assert.equal(a.generation, 1);
    assert.equal(a.chunkSize, 65536, 'namespace default chunk size');
  });

  test('create over a directory name is EISDIR; lookup of a missing name is ENOENT; parent that is a file is ENOTDIR', async () => {
    const n = await fresh();
    await n.mkdir(1, 'd');
    await rejectsWith(n.create(1, 'd', false), S.FAILED_PRECONDITION, E.EISDIR);
    await rejectsWith(n.lookup(1, 'nope'), S.NOT_FOUND, E.ENOENT);
    const f = await n.create(1, 'f');
    await rejectsWith(n.create(f.ino, 'x'), S.FAILED_PRECONDITION, E.ENOTDIR);
  });

  test('mkdir counts links: a new dir has 2, its parent gains one per subdirectory', async () => {
    const n = await fresh();
    const d = await n.mkdir(1, 'd');
    assert.equal(d.nlink, 2);
    assert.equal(d.kind, FileKind.FILE_KIND_DIRECTORY);
    assert.equal((await n.getattr(1)).nlink, 3);
    await rejectsWith(n.mkdir(1, 'd'), S.ALREADY_EXISTS, E.EEXIST);
  });

  test('chunk_size outside 4 KiB–64 MiB is INVALID_ARGUMENT naming the field', async () => {
    const n = await fresh();
    await rejectsWith(c.ns('create', { namespaceId: n.namespaceId, parent: 1, nameKey: nameKey(1, 'z'), sealedName: sealedName(1, 'z'), mode: 0o644, uid: 0, gid: 0, exclusive: true, chunkSize: 1000 }),
      S.INVALID_ARGUMENT, E.EINVAL, /chunk_size/);
  });

  test('a sealed name longer than NAME_MAX is ENAMETOOLONG', async () => {
    const n = await fresh();
    const long = 'x'.repeat(256);
    await rejectsWith(c.ns('create', { namespaceId: n.namespaceId, parent: 1, nameKey: nameKey(1, long), sealedName: sealedName(1, long), mode: 0o644, uid: 0, gid: 0, exclusive: true, chunkSize: 0 }),
      S.INVALID_ARGUMENT, E.ENAMETOOLONG);
  });
});

describe('unlink, rmdir, link', () => {
  test('rmdir of a non-empty directory is ENOTEMPTY; of a file ENOTDIR; unlink of a directory EISDIR', async () => {
    const n = await fresh();
    const d = await n.mkdir(1, 'd');
    await n.create(d.ino, 'child');
    await rejectsWith(n.rmdir(1, 'd'), S.FAILED_PRECONDITION, E.ENOTEMPTY);
    await n.create(1, 'f');
    await rejectsWith(n.rmdir(1, 'f'), S.FAILED_PRECONDITION, E.ENOTDIR);
    await rejectsWith(n.unlink(1, 'd'), S.FAILED_PRECONDITION, E.EISDIR);
    await n.unlink(d.ino, 'child');
    await n.rmdir(1, 'd');
    await rejectsWith(n.lookup(1, 'd'), S.NOT_FOUND, E.ENOENT);
    assert.equal((await n.getattr(1)).nlink, 2);
  });

  test('link counts: link adds a name, unlink of one name leaves the other; linking a directory is EPERM', async () => {
    const n = await fresh();
    const f = await n.create(1, 'a');
    const d = await n.mkdir(1, 'd');
    const l = await c.ns('link', { namespaceId: n.namespaceId, ino: f.ino, newParent: d.ino, nameKey: nameKey(d.ino, 'b'), sealedName: sealedName(d.ino, 'b') });
    assert.equal(l.attr!.nlink, 2);
    assert.equal((await n.lookup(d.ino, 'b')).ino, f.ino);
    await rejectsWith(c.ns('link', { namespaceId: n.namespaceId, ino: f.ino, newParent: d.ino, nameKey: nameKey(d.ino, 'b'), sealedName: sealedName(d.ino, 'b') }), S.ALREADY_EXISTS, E.EEXIST);
    await rejectsWith(c.ns('link', { namespaceId: n.namespaceId, ino: d.ino, newParent: 1, nameKey: nameKey(1, 'dl'), sealedName: sealedName(1, 'dl') }), S.FAILED_PRECONDITION, E.EPERM);
    assert.equal((await n.unlink(1, 'a')).nlink, 1);
    assert.equal((await n.lookup(d.ino, 'b')).nlink, 1);
    assert.equal((await n.unlink(d.ino, 'b')).nlink, 0);
  });

  test('an unlinked inode stays readable by ino (open files) with nlink 0, but cannot be linked again', async () => {
    const n = await fresh();
    const f = await n.create(1, 'gone');
    await c.ns('commitLayout', { namespaceId: n.namespaceId, ino: f.ino, expectedGeneration: 0, newSize: 5, setChunks: [{ chunkId: { value: randomBytes(32) }, offset: 0, length: 5 }], dropFrom: 0, dropFromSet: false, inlineData: undefined, clearInline: false, mtime: undefined });
    await n.unlink(1, 'gone');
    const a = await n.getattr(f.ino);
    assert.equal(a.nlink, 0);
    assert.equal(a.size, 5);
    assert.equal((await c.ns('getLayout', { namespaceId: n.namespaceId, ino: f.ino })).chunks.length, 1);
    await rejectsWith(c.ns('link', { namespaceId: n.namespaceId, ino: f.ino, newParent: 1, nameKey: nameKey(1, 'back'), sealedName: sealedName(1, 'back') }), S.NOT_FOUND, E.ENOENT);
  });
});

describe('rename', () => {
  test('plain rename moves the entry; the old name is gone', async () => {
    const n = await fresh();
    const f = await n.create(1, 'a');
    const d = await n.mkdir(1, 'd');
    await n.rename(1, 'a', d.ino, 'b');
    await rejectsWith(n.lookup(1, 'a'), S.NOT_FOUND, E.ENOENT);
    assert.equal((await n.lookup(d.ino, 'b')).ino, f.ino);
    assert.deepEqual(await n.readdirAll(d.ino), ['b']);
  });

  test('rename over an existing file replaces it; the replaced inode drops to nlink 0', async () => {
    const n = await fresh();
    const a = await n.create(1, 'a');
    const b = await n.create(1, 'b');
    await n.rename(1, 'a', 1, 'b');
    assert.equal((await n.lookup(1, 'b')).ino, a.ino);
    assert.equal((await n.getattr(b.ino)).nlink, 0);
    assert.deepEqual(await n.readdirAll(1), ['b']);
  });

  test('rename between two hard links of one file does nothing (POSIX), both names stay', async () => {
    const n = await fresh();
    const f = await n.create(1, 'a');
    await c.ns('link', { namespaceId: n.namespaceId, ino: f.ino, newParent: 1, nameKey: nameKey(1, 'b'), sealedName: sealedName(1, 'b') });
    await n.rename(1, 'a', 1, 'b');
    assert.equal((await n.lookup(1, 'a')).ino, f.ino);
    assert.equal((await n.lookup(1, 'b')).nlink, 2);
    await n.rename(1, 'a', 1, 'a');
    assert.deepEqual((await n.readdirAll(1)).sort(), ['a', 'b']);
  });

  test('RENAME_NOREPLACE onto an existing name is EEXIST and changes nothing', async () => {
    const n = await fresh();
    const a = await n.create(1, 'a');
    const b = await n.create(1, 'b');
    await rejectsWith(n.rename(1, 'a', 1, 'b', 1), S.ALREADY_EXISTS, E.EEXIST);
    assert.equal((await n.lookup(1, 'a')).ino, a.ino);
    assert.equal((await n.lookup(1, 'b')).ino, b.ino);
  });

  test('RENAME_EXCHANGE swaps a file and a directory across parents; parents keep correct link counts', async () => {
    const n = await fresh();
    const p = await n.mkdir(1, 'p');
    const q = await n.mkdir(1, 'q');
    const f = await n.create(p.ino, 'x');
    const d = await n.mkdir(q.ino, 'y');
    await n.rename(p.ino, 'x', q.ino, 'y', 2);
    assert.equal((await n.lookup(p.ino, 'x')).ino, d.ino);
    assert.equal((await n.lookup(q.ino, 'y')).ino, f.ino);
    assert.equal((await n.getattr(p.ino)).nlink, 3);
    assert.equal((await n.getattr(q.ino)).nlink, 2);
    await rejectsWith(n.rename(p.ino, 'x', q.ino, 'missing', 2), S.NOT_FOUND, E.ENOENT);
    await rejectsWith(n.rename(p.ino, 'x', q.ino, 'y', 3), S.INVALID_ARGUMENT, E.EINVAL);
  });

  test('directory over a non-empty directory is ENOTEMPTY, over an empty one replaces it', async () => {
    const n = await fresh();
    const a = await n.mkdir(1, 'a');
    const b = await n.mkdir(1, 'b');
    await n.create(b.ino, 'inside');
    await rejectsWith(n.rename(1, 'a', 1, 'b'), S.FAILED_PRECONDITION, E.ENOTEMPTY);
    await n.mkdir(1, 'c');
    await n.rename(1, 'a', 1, 'c');
    assert.equal((await n.lookup(1, 'c')).ino, a.ino);
    assert.equal((await n.getattr(1)).nlink, 4, 'root: 2 + b + c');
  });

  test('directory over a file is ENOTDIR; file over a directory is EISDIR', async () => {
    const n = await fresh();
    await n.mkdir(1, 'd');
    await n.create(1, 'f');
    await rejectsWith(n.rename(1, 'd', 1, 'f'), S.FAILED_PRECONDITION, E.ENOTDIR);
    await rejectsWith(n.rename(1, 'f', 1, 'd'), S.FAILED_PRECONDITION, E.EISDIR);
  });

  test('a directory into its own subtree is EINVAL', async () => {
    const n = await fresh();
    const a = await n.mkdir(1, 'a');
    const b = await n.mkdir(a.ino, 'b');
    const cc = await n.mkdir(b.ino, 'c');
    await rejectsWith(n.rename(1, 'a', cc.ino, 'a2'), S.INVALID_ARGUMENT, E.EINVAL);
    await rejectsWith(n.rename(1, 'a', a.ino, 'self'), S.INVALID_ARGUMENT, E.EINVAL);
    await n.rename(a.ino, 'b', 1, 'b-moved');
    assert.equal((await n.lookup(1, 'b-moved')).ino, b.ino);
    assert.equal((await n.getattr(a.ino)).nlink, 2);
  });

  test('a different new_namespace_id is EXDEV', async () => {
    const n = await fresh();
    await n.create(1, 'f');
    await rejectsWith(n.rename(1, 'f', 1, 'g', 0, { value: 'elsewhere' }), S.FAILED_PRECONDITION, E.EXDEV);
  });
});

describe('xattrs', () => {
  const x = (n: Awaited<ReturnType<typeof fresh>>, ino: number, name: string, value: string, flags: number) =>
    c.ns('setXattr', { namespaceId: n.namespaceId, ino, nameKey: nameKey(ino, name), sealedName: sealedName(ino, name), sealedValue: sealed(Buffer.from(value)), flags });

  test('XATTR_CREATE on an existing name is EEXIST, XATTR_REPLACE on a missing one ENODATA; list and remove', async () => {
    const n = await fresh();
    const f = await n.create(1, 'f');
    await rejectsWith(x(n, f.ino, 'user.a', 'v', 2), S.FAILED_PRECONDITION, E.ENODATA);
    await x(n, f.ino, 'user.a', 'one', 1);
    await rejectsWith(x(n, f.ino, 'user.a', 'two', 1), S.ALREADY_EXISTS, E.EEXIST);
    await x(n, f.ino, 'user.a', 'two', 2);
    await x(n, f.ino, 'user.b', 'bee', 0);
    const g = await c.ns('getXattr', { namespaceId: n.namespaceId, ino: f.ino, nameKey: nameKey(f.ino, 'user.a') });
    assert.equal(openSealed(g.sealedValue!).toString(), 'two');
    const l = await c.ns('listXattr', { namespaceId: n.namespaceId, ino: f.ino });
    assert.deepEqual(l.sealedNames.map((e) => openSealed(e).toString()).sort(), ['user.a', 'user.b']);
    await c.ns('removeXattr', { namespaceId: n.namespaceId, ino: f.ino, nameKey: nameKey(f.ino, 'user.a') });
    await rejectsWith(c.ns('getXattr', { namespaceId: n.namespaceId, ino: f.ino, nameKey: nameKey(f.ino, 'user.a') }), S.FAILED_PRECONDITION, E.ENODATA);
    await rejectsWith(c.ns('removeXattr', { namespaceId: n.namespaceId, ino: f.ino, nameKey: nameKey(f.ino, 'user.a') }), S.FAILED_PRECONDITION, E.ENODATA);
    await rejectsWith(x(n, f.ino, 'user.c', 'v', 3), S.INVALID_ARGUMENT, E.EINVAL);
  });
});

describe('readdirplus', () => {
  test('cursor paging over 2,500 entries with inserts and deletes between pages: no entry twice, none that lived throughout missed', async () => {
    const n = await fresh();
    const d = await n.mkdir(1, 'big');
    const names = Array.from({ length: 2500 }, (_v, i) => `f${i}`);
    for (let i = 0; i < names.length; i += 50) await Promise.all(names.slice(i, i + 50).map((nm) => n.create(d.ino, nm)));
    const seen: string[] = [];
    const deleted = new Set<string>();
    let cursor: Buffer = Buffer.alloc(0);
    let page = 0;
    for (;;) {
      const r = await c.ns('readDirPlus', { namespaceId: n.namespaceId, ino: d.ino, cursor, limit: 300 });
      assert.ok(r.entries.length <= 300);
      for (const e of r.entries) {
        seen.push(openSealed(e.sealedName!).toString());
        assert.equal(e.attr!.kind, FileKind.FILE_KIND_REGULAR);
      }
      if (r.eof) break;
      cursor = r.entries.at(-1)!.cookie;
      page++;
      await n.create(d.ino, `new${page}`);
      const victim = `f${page * 7}`;
      await n.unlink(d.ino, victim);
      deleted.add(victim);
    }
    assert.equal(new Set(seen).size, seen.length, 'no duplicates');
    for (const nm of names) if (!deleted.has(nm)) assert.ok(seen.includes(nm), `missing ${nm}`);
  });

  test('readdir of a file is ENOTDIR; a cursor of the wrong length is INVALID_ARGUMENT', async () => {
    const n = await fresh();
    const f = await n.create(1, 'f');
    await rejectsWith(c.ns('readDirPlus', { namespaceId: n.namespaceId, ino: f.ino, cursor: Buffer.alloc(0), limit: 0 }), S.FAILED_PRECONDITION, E.ENOTDIR);
    await rejectsWith(c.ns('readDirPlus', { namespaceId: n.namespaceId, ino: 1, cursor: Buffer.alloc(5), limit: 0 }), S.INVALID_ARGUMENT, E.EINVAL, /cursor/);
  });
});

describe('layout', () => {
  const commit = (n: { namespaceId: { value: string } }, ino: number, over: Partial<Parameters<NodeRpc['ns']>[1] & object>) => c.ns('commitLayout', {
    namespaceId: n.namespaceId, ino, expectedGeneration: 0, newSize: 0, setChunks: [], dropFrom: 0, dropFromSet: false, inlineData: undefined, clearInline: false, mtime: undefined, ...over,
  } as never);

  test('I-N4 CommitLayout with a stale generation is ABORTED and changes nothing', async () => {
    const n = await fresh();
    const f = await n.create(1, 'f');
    const id = randomBytes(32);
    const r = await commit(n, f.ino, { expectedGeneration: f.generation, newSize: 100, setChunks: [{ chunkId: { value: id }, offset: 0, length: 100 }] }) as { attr: Attr };
    assert.equal(r.attr.generation, f.generation + 1);
    assert.equal(r.attr.size, 100);
    await rejectsWith(commit(n, f.ino, { expectedGeneration: f.generation, newSize: 5 }), S.ABORTED, E.EAGAIN);
    const l = await c.ns('getLayout', { namespaceId: n.namespaceId, ino: f.ino });
    assert.equal(l.size, 100);
    assert.equal(l.generation, f.generation + 1);
    assert.deepEqual(l.chunks.map((x) => [x.chunkId!.value, x.offset, x.length]), [[id, 0, 100]]);
  });

  test('chunk offsets must be multiples of chunk_size and below 2^53; chunks past new_size are refused', async () => {
    const n = await fresh();
    const f = await n.create(1, 'f');
    await rejectsWith(commit(n, f.ino, { newSize: 200000, setChunks: [{ chunkId: { value: randomBytes(32) }, offset: 100, length: 10 }] }), S.INVALID_ARGUMENT, E.EINVAL, /offset/);
    await rejectsWith(commit(n, f.ino, { newSize: 10, setChunks: [{ chunkId: { value: randomBytes(32) }, offset: 0, length: 20 }] }), S.INVALID_ARGUMENT, E.EINVAL);
    await rejectsWith(commit(n, f.ino, { newSize: 10, setChunks: [{ chunkId: { value: randomBytes(5) }, offset: 0, length: 10 }] }), S.INVALID_ARGUMENT, E.EINVAL, /chunk_id/);
  });

  test('I-N5 shrinking drops chunks past the size and cuts the straddling one', async () => {
    const n = await fresh();
    const f = await n.create(1, 'f');
    const cs = f.chunkSize;
    const ids = [randomBytes(32), randomBytes(32), randomBytes(32)];
    await commit(n, f.ino, { newSize: 3 * cs, setChunks: ids.map((id, i) => ({ chunkId: { value: id }, offset: i * cs, length: cs })) });
    await commit(n, f.ino, { newSize: cs + 10 });
    let l = await c.ns('getLayout', { namespaceId: n.namespaceId, ino: f.ino });
    assert.deepEqual(l.chunks.map((x) => [x.offset, x.length]), [[0, cs], [cs, 10]]);
    await commit(n, f.ino, { newSize: 5 * cs, dropFrom: cs, dropFromSet: true });
    l = await c.ns('getLayout', { namespaceId: n.namespaceId, ino: f.ino });
    assert.deepEqual(l.chunks.map((x) => [x.offset, x.length]), [[0, cs]]);
    assert.equal(l.size, 5 * cs);
  });

  test('inline content: set, read back, then moved to chunks only with clear_inline', async () => {
    const n = await fresh();
    const f = await n.create(1, 'small');
    const inline = sealed(Buffer.from('tiny file'));
    await commit(n, f.ino, { newSize: 9, inlineData: inline });
    const l = await c.ns('getLayout', { namespaceId: n.namespaceId, ino: f.ino });
    assert.equal(openSealed(l.inlineData!).toString(), 'tiny file');
    assert.equal(l.chunks.length, 0);
    await rejectsWith(commit(n, f.ino, { newSize: 20, setChunks: [{ chunkId: { value: randomBytes(32) }, offset: 0, length: 20 }] }), S.INVALID_ARGUMENT, E.EINVAL, /clear_inline/);
    await commit(n, f.ino, { newSize: 20, clearInline: true, setChunks: [{ chunkId: { value: randomBytes(32) }, offset: 0, length: 20 }] });
    const l2 = await c.ns('getLayout', { namespaceId: n.namespaceId, ino: f.ino });
    assert.equal(l2.inlineData, undefined);
    assert.equal(l2.chunks.length, 1);
    await rejectsWith(commit(n, f.ino, { newSize: 70000, inlineData: sealed(randomBytes(70000)) }), S.INVALID_ARGUMENT, E.EINVAL, /inline_data/);
  });

  test('GetLayout of a directory is EISDIR', async () => {
    const n = await fresh();
    await rejectsWith(c.ns('getLayout', { namespaceId: n.namespaceId, ino: 1 }), S.FAILED_PRECONDITION, E.EISDIR);
  });
});

describe('setattr, symlink, statfs, read-only', () => {
  test('setattr applies only the fields in valid, bumps generation, sets exact times', async () => {
    const n = await fresh();
    const f = await n.create(1, 'f');
    const r = await c.ns('setAttr', { namespaceId: n.namespaceId, ino: f.ino, valid: 1 | 8 | 16, mode: 0o100600, uid: 99, gid: 99, atime: { sec: 1000, nsec: 5 }, mtime: { sec: 2000, nsec: 999_999_999 }, ctime: undefined });
    assert.equal(r.attr!.mode, 0o600, 'permission bits only');
    assert.equal(r.attr!.uid, 1, 'uid not in valid');
    assert.deepEqual(r.attr!.atime, { sec: 1000, nsec: 5 });
    assert.deepEqual(r.attr!.mtime, { sec: 2000, nsec: 999_999_999 });
    assert.equal(r.attr!.generation, f.generation + 1);
    await rejectsWith(c.ns('setAttr', { namespaceId: n.namespaceId, ino: f.ino, valid: 8, mode: 0, uid: 0, gid: 0, atime: undefined, mtime: undefined, ctime: undefined }), S.INVALID_ARGUMENT, E.EINVAL, /atime/);
    await rejectsWith(c.ns('setAttr', { namespaceId: n.namespaceId, ino: f.ino, valid: 128, mode: 0, uid: 0, gid: 0, atime: undefined, mtime: undefined, ctime: undefined }), S.INVALID_ARGUMENT, E.EINVAL, /valid/);
  });

  test('symlink stores the sealed target; readlink of a file is EINVAL', async () => {
    const n = await fresh();
    const s = await c.ns('symlink', { namespaceId: n.namespaceId, parent: 1, nameKey: nameKey(1, 'l'), sealedName: sealedName(1, 'l'), sealedTarget: sealed(Buffer.from('../target')), uid: 0, gid: 0, targetLength: 9 });
    assert.equal(s.attr!.kind, FileKind.FILE_KIND_SYMLINK);
    assert.equal(s.attr!.size, 9);
    const t = await c.ns('readLink', { namespaceId: n.namespaceId, ino: s.attr!.ino });
    assert.equal(openSealed(t.sealedTarget!).toString(), '../target');
    const f = await n.create(1, 'f');
    await rejectsWith(c.ns('readLink', { namespaceId: n.namespaceId, ino: f.ino }), S.INVALID_ARGUMENT, E.EINVAL);
  });

  test('statfs reports the data disk and NAME_MAX', async () => {
    const n = await fresh();
    const s = await c.ns('statFs', { namespaceId: n.namespaceId });
    assert.ok(s.totalBytes > 0 && s.totalBytes >= s.freeBytes);
    assert.equal(s.maxNameLength, 255);
  });

  test('admin set-read-only makes every mutation EROFS while reads go on; --off lifts it', async () => {
    const n = await fresh();
    await n.create(1, 'before');
    const admin = (...args: string[]) => execFileSync(process.execPath, [BIN, 'admin', '--data-dir', join(dir, 'data'), ...args], { encoding: 'utf8' });
    admin('set-read-only', '--tenant', '00000000-0000-0000-0000-000000000001', '--namespace', n.namespaceId.value);
    const o = await c.ns('openNamespace', { namespaceId: n.namespaceId, create: false, defaultChunkSize: 0 });
    assert.equal(o.readOnly, true);
    await rejectsWith(n.create(1, 'after'), S.FAILED_PRECONDITION, E.EROFS);
    await rejectsWith(n.unlink(1, 'before'), S.FAILED_PRECONDITION, E.EROFS);
    assert.ok(await n.lookup(1, 'before'));
    admin('set-read-only', '--tenant', '00000000-0000-0000-0000-000000000001', '--namespace', n.namespaceId.value, '--off');
    await n.create(1, 'after');
  });
});

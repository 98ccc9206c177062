// The native request table, option checks and the FuseSession reply rules, on real mounts served in this
// process (the mounts are driven from child processes only: never touch your own mount).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import { kerr } from '../../src/errors.js';
import { fuseNative, mount, OpCode } from '../../src/fuse/fuse-binding.js';
import type { Attr, FuseOperations } from '../../src/fuse/fuse-ops.js';
import { resolveMountOptions } from '../../src/fuse/mount-options.js';
import { isMounted } from './fuse-binding-helper.js';

const execFileP = promisify(execFile);

test('I-FB1: replies to ids that were never issued are refused without touching anything', () => {
  const n = fuseNative();
  for (const id of [0, -1, 1.5, 7, 16777216 + 7, 2 ** 52, NaN]) {
    assert.equal(n.replyErr(id, 5), false, `id ${id}`);
    assert.equal(n.replyBuf(id, Buffer.from('x')), false, `id ${id}`);
  }
});

test('I-FB1: a second reply to a real request is refused, the first one reaches the caller', async () => {
  const base = mkdtempSync(path.join(os.tmpdir(), 'kiseki-fuse-native-'));
  const mnt = path.join(base, 'mnt');
  mkdirSync(mnt);
  const n = fuseNative();
  const results: boolean[] = [];
  let inited!: () => void;
  const init = new Promise<void>((r) => { inited = r; });
  const h = n.mount(mnt, ['fsname=raw'], {}, (type, id) => {
    if (type === OpCode.INIT) return inited();
    if (type === OpCode.FORGET || type === OpCode.INTERRUPT || type === OpCode.DESTROY) return;
    if (type === OpCode.LOOKUP) {
      results.push(n.replyErr(id, os.constants.errno.ENOENT));
      results.push(n.replyErr(id, os.constants.errno.EIO));
      return;
    }
    if (type === OpCode.GETATTR) {
      const a = new Float64Array(19);
      a[0] = 1; a[1] = 0o40755; a[2] = 2;
      return void n.replyAttr(id, a);
    }
    n.replyErr(id, os.constants.errno.ENOSYS);
  });
  try {
    await init;
    const err = await execFileP('stat', [`${mnt}/nothing`]).then(() => '', (e: { stderr: string }) => e.stderr);
    assert.match(err, /No such file or directory/, 'the first reply (ENOENT) is what the caller saw');
    assert.deepEqual(results, [true, false]);
    assert.equal(n.inFlight(h), 0, 'the request table holds nothing for this session');
  } finally {
    assert.equal(n.unmount(h), 0);
    assert.equal(n.unmount(h), 0, 'unmount is idempotent');
    assert.equal(isMounted(mnt), false);
    rmSync(base, { recursive: true, force: true });
  }
});

test('mount options: unknown keys, comma smuggling and out-of-range sizes are refused before mounting', () => {
  assert.throws(() => resolveMountOptions({ nope: true } as never), /unknown mount option 'nope'/);
  assert.throws(() => resolveMountOptions({ fsname: 'x,allow_other' }), /fsname must be/);
  assert.throws(() => resolveMountOptions({ maxWrite: 2 << 20 }), /maxWrite must be an integer in \[4096, 1048576\]/);
  assert.throws(() => resolveMountOptions({ congestionThreshold: 100, maxBackground: 10 }), /congestionThreshold/);
  const r = resolveMountOptions({ ro: true, allowOther: true, defaultPermissions: true, maxRead: 131072 });
  assert.deepEqual(r.kernelOptions, ['fsname=kiseki', 'ro', 'allow_other', 'default_permissions', 'max_read=131072']);
  assert.equal(r.config.writebackCache, false);
  assert.equal(r.config.maxWrite, 1 << 20);
});

test('native mount refuses an option libfuse does not know and leaves nothing mounted', () => {
  const base = mkdtempSync(path.join(os.tmpdir(), 'kiseki-fuse-native-'));
  const mnt = path.join(base, 'mnt');
  mkdirSync(mnt);
  try {
    assert.throws(() => fuseNative().mount(mnt, ['no_such_option'], {}, () => {}), /rejected the mount options/);
    assert.equal(isMounted(mnt), false);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('FuseSession: undefined ops answer ENOSYS, KisekiErrors their errno, malformed results and plain throws EIO', async () => {
  const base = mkdtempSync(path.join(os.tmpdir(), 'kiseki-fuse-ops-'));
  const mnt = path.join(base, 'mnt');
  mkdirSync(mnt);
  const t = { sec: 1_700_000_000, nsec: 0 };
  const attr = (ino: number, mode: number, size = 0): Attr =>
    ({ ino, mode, nlink: 1, uid: 0, gid: 0, size, atime: t, mtime: t, ctime: t });
  const ops: FuseOperations = {
    lookup: (_c, _p, name) => {
      if (name.equals(Buffer.from('f'))) return { ino: 2, attr: attr(2, 0o100644, 10), attrTimeout: 0, entryTimeout: 0 };
      throw kerr('NotFound', `no ${name}`);
    },
    getattr: (_c, ino) => ({ attr: ino === 1 ? attr(1, 0o40755) : attr(2, 0o100644, 10), timeout: 0 }),
    mkdir: async () => { throw kerr('NoSpace', 'full'); },
    read: (_c, _i, _fh, size) => Buffer.alloc(size + 1),
    setxattr: () => { throw new TypeError('a bug in the filesystem'); },
  };
  const logs: string[] = [];
  const session = await mount(mnt, { fsname: 'ops-test' }, ops, (m) => logs.push(m));
  const err = (cmd: string): Promise<string> =>
    execFileP('bash', ['-c', cmd]).then(() => 'no error', (e: { stderr: string }) => e.stderr);
  try {
    assert.equal(session.state, 'mounted');
    assert.match(await err(`mkfifo ${mnt}/p`), /Function not implemented/);
    assert.match(await err(`mkdir ${mnt}/d`), /No space left on device/);
    assert.match(await err(`cat ${mnt}/f`), /Input\/output error/);
    assert.match(await err(`setfattr -n user.a -v 1 ${mnt}/f`), /Input\/output error/);
    assert.ok(logs.some((l) => l.includes('a bug in the filesystem')), 'the plain throw was logged with its stack');
    assert.equal(session.stats.refusedReplies, 0);
    assert.equal(session.inFlight, 0);
  } finally {
    await session.unmount();
    await session.unmount();
    assert.equal(session.state, 'unmounted');
    assert.equal(isMounted(mnt), false);
    rmSync(base, { recursive: true, force: true });
  }
});

test('mount and unmount 10 times with garbage collection in between: no crash, nothing left mounted', async () => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const base = mkdtempSync(path.join(os.tmpdir(), 'kiseki-fuse-gc-'));
  const mnt = path.join(base, 'mnt');
  mkdirSync(mnt);
  try {
    for (let i = 0; i < 10; i++) {
      const t = { sec: 0, nsec: 0 };
      const session = await mount(mnt, {}, {
        getattr: () => ({ attr: { ino: 1, mode: 0o40755, nlink: 2, uid: 0, gid: 0, size: 0, atime: t, mtime: t, ctime: t }, timeout: 0 }),
      });
      const { stdout } = await execFileP('stat', ['-c', '%F', mnt]);
      assert.equal(stdout.trim(), 'directory');
      await session.unmount();
      gc();
      await new Promise((r) => setImmediate(r));
      gc();
      assert.equal(isMounted(mnt), false);
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('I-FB3: each write payload is its own Buffer of exactly its bytes, still intact after later writes', async () => {
  const base = mkdtempSync(path.join(os.tmpdir(), 'kiseki-fuse-write-'));
  const mnt = path.join(base, 'mnt');
  mkdirSync(mnt);
  const t = { sec: 0, nsec: 0 };
  const file = (size: number): Attr => ({ ino: 2, mode: 0o100644, nlink: 1, uid: 0, gid: 0, size, atime: t, mtime: t, ctime: t });
  const payloads: Buffer[] = [];
  let size = 0;
  const session = await mount(mnt, {}, {
    lookup: (_c, _p, name) => {
      if (!name.equals(Buffer.from('f'))) throw kerr('NotFound', name.toString());
      return { ino: 2, attr: file(size), attrTimeout: 0, entryTimeout: 0 };
    },
    getattr: (_c, ino) => ({ attr: ino === 1 ? { ...file(0), ino: 1, mode: 0o40755 } : file(size), timeout: 0 }),
    setattr: (_c, _ino, ch) => { if (ch.size !== undefined) size = ch.size; return { attr: file(size), timeout: 0 }; },
    open: () => ({ fh: 7, directIo: true }),
    write: (_c, _ino, fh, data, offset) => {
      assert.equal(fh, 7);
      payloads.push(data);
      size = Math.max(size, offset + data.length);
      return data.length;
    },
  });
  try {
    const a = randomBytes(300_000), b = randomBytes(5000);
    await execFileP('bash', ['-c', `printf '' > ${mnt}/f`]);
    writeFileSync(path.join(base, 'a'), a);
    writeFileSync(path.join(base, 'b'), b);
    await execFileP('python3', ['-c', `
import os
fd = os.open("${mnt}/f", os.O_WRONLY)
for part in ("a", "b"):
    data = open("${base}/" + part, "rb").read()
    assert os.write(fd, data) == len(data)
os.close(fd)`]);
    const all = Buffer.concat(payloads);
    assert.deepEqual(all, Buffer.concat([a, b]));
    for (const p of payloads) {
      assert.equal(p.byteOffset, 0);
      assert.equal(p.buffer.byteLength, p.length, 'the Buffer is exactly the payload, not a view of a shared one');
    }
    assert.deepEqual(payloads[0]!.subarray(0, 16), a.subarray(0, 16), 'the first payload survived later writes');
  } finally {
    await session.unmount();
    rmSync(base, { recursive: true, force: true });
  }
});

// The native request table and option checks, on a real mount served in this process by a raw dispatch
// function (the kernel side is driven from child processes only).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fuseNative, OpCode } from '../../src/fuse/fuse-binding.js';
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

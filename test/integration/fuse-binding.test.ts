// Real mounts of the memfs fixture (a child process on our binding), driven from this process with real
// tools (cat, cp, dd, ls, stat, mv, ln, setfattr/getfattr, truncate, chmod, chown, touch, python3 os.*).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readAheadFileOf } from '../../src/fuse/read-ahead.js';
import { FuseCap } from '../../src/fuse/fuse-ops.js';
import { execFileP, isMounted, startMemFs, type MemFsProcess } from './fuse-binding-helper.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function sh(cmd: string, cwd?: string): Promise<string> {
  const { stdout } = await execFileP('bash', ['-c', cmd], { cwd, maxBuffer: 64 << 20 });
  return stdout;
}

async function shFails(cmd: string): Promise<string> {
  try {
    await execFileP('bash', ['-c', cmd]);
  } catch (err) {
    return String((err as { stderr?: string }).stderr ?? err);
  }
  throw new Error(`expected failure: ${cmd}`);
}

async function py(code: string): Promise<string> {
  const { stdout } = await execFileP('python3', ['-c', code]);
  return stdout.trim();
}

describe('fuse binding: a memfs mount driven by real tools', () => {
  let fs: MemFsProcess;
  let m: string;
  let tmp: string;

  before(async () => {
    // Reply threads on: memfs returns ReadReply, so large reads here go through them (checksummed below).
    fs = await startMemFs({ fsname: 'memfs-test', subtype: 'memfs', replyThreads: 2 });
    m = fs.mnt;
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'kiseki-fuse-src-'));
  });

  after(async () => {
    const exit = await fs.stop();
    const stats = fs.lines.find((l) => l.startsWith('STATS '));
    fs.cleanup();
    await fsp.rm(tmp, { recursive: true, force: true });
    assert.equal(exit.code, 0, 'clean programmatic unmount exits 0');
    assert.ok(stats !== undefined, 'destroy ran after unmount');
    assert.equal(JSON.parse(stats.slice(6)).refusedReplies, 0);
    assert.ok(JSON.parse(stats.slice(6)).asyncReplies > 0, 'large reads went through the reply threads');
  });

  test('INIT negotiates the capabilities asked for, and no writeback cache by default', () => {
    const n = fs.negotiated as Record<string, number>;
    for (const cap of ['ASYNC_READ', 'ATOMIC_O_TRUNC', 'EXPORT_SUPPORT', 'READDIRPLUS', 'READDIRPLUS_AUTO',
      'PARALLEL_DIROPS', 'ASYNC_DIO'] as const) {
      assert.ok(n.want! & FuseCap[cap], `${cap} negotiated`);
    }
    assert.equal(n.want! & FuseCap.WRITEBACK_CACHE, 0);
    assert.equal(n.want! & (FuseCap.SPLICE_READ | FuseCap.SPLICE_WRITE | FuseCap.SPLICE_MOVE), 0);
    assert.equal(n.maxWrite, 1 << 20);
    assert.equal(n.maxBackground, 64);
    assert.equal(n.protoMajor, 7);
    const line = (require('node:fs').readFileSync('/proc/mounts', 'utf8') as string).split('\n').find((l) => l.split(' ')[1] === m);
    assert.match(line ?? '', /^memfs-test \S+ fuse\.memfs /);
  });

  test('cp in, dd out (bs=1M and 128k), cat, partial overwrite: bytes are identical', async () => {
    const ref = randomBytes(9 * (1 << 20) + 12345);
    await fsp.writeFile(path.join(tmp, 'src'), ref);
    await sh(`cp ${tmp}/src ${m}/data`);
    await sh(`dd if=${m}/data of=${tmp}/out1 bs=1M status=none`);
    await sh(`dd if=${m}/data of=${tmp}/out2 bs=128k status=none`);
    assert.equal(sha(await fsp.readFile(`${tmp}/out1`)), sha(ref));
    assert.equal(sha(await fsp.readFile(`${tmp}/out2`)), sha(ref));
    assert.equal((await sh(`cat ${m}/data | sha256sum`)).split(' ')[0], sha(ref));
    // dd with 1 MiB writes at an offset, no truncation, fsync at the end.
    const patch = randomBytes(3 << 20);
    await fsp.writeFile(`${tmp}/patch`, patch);
    await sh(`dd if=${tmp}/patch of=${m}/data bs=1M seek=2 conv=notrunc,fsync status=none`);
    patch.copy(ref, 2 << 20);
    assert.equal(sha(await fsp.readFile(`${m}/data`)), sha(ref));
    assert.equal((await fsp.stat(`${m}/data`)).size, ref.length);
  });

  test('ls -l, stat, mkdir -p, rmdir (and ENOTEMPTY)', async () => {
    await sh(`mkdir -p ${m}/d1/d2/d3 && echo hi > ${m}/d1/f`);
    const ls = await sh(`ls -l ${m}/d1`);
    assert.match(ls, /^d.* d2$/m);
    assert.match(ls, /^-rw-r--r-- 1 root root 3 .* f$/m);
    assert.equal((await sh(`stat -c '%F %s %h' ${m}/d1/f`)).trim(), 'regular file 3 1');
    assert.equal((await sh(`stat -c '%F %h' ${m}/d1`)).trim(), 'directory 3');
    assert.match(await shFails(`rmdir ${m}/d1/d2`), /not empty/i);
    await sh(`rmdir ${m}/d1/d2/d3 ${m}/d1/d2`);
    assert.deepEqual((await fsp.readdir(`${m}/d1`)).sort(), ['f']);
  });

  test('rename: mv over an existing file, renameat2 NOREPLACE and EXCHANGE', async () => {
    await sh(`echo A > ${m}/ra && echo B > ${m}/rb && echo C > ${m}/rc`);
    await sh(`mv ${m}/ra ${m}/rb`);
    assert.equal(await fsp.readFile(`${m}/rb`, 'utf8'), 'A\n');
    await assert.rejects(fsp.access(`${m}/ra`));
    const renameat2 = (flags: number, a: string, b: string): Promise<string> => py(`
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
r = libc.renameat2(-100, b"${a}", -100, b"${b}", ${flags})
print(0 if r == 0 else ctypes.get_errno())`);
    assert.equal(await renameat2(1, `${m}/rb`, `${m}/rc`), String(os.constants.errno.EEXIST));
    assert.equal(await fsp.readFile(`${m}/rc`, 'utf8'), 'C\n');
    assert.equal(await renameat2(2, `${m}/rb`, `${m}/rc`), '0');
    assert.equal(await fsp.readFile(`${m}/rb`, 'utf8'), 'C\n');
    assert.equal(await fsp.readFile(`${m}/rc`, 'utf8'), 'A\n');
    await sh(`mkdir ${m}/rd && mv ${m}/rc ${m}/rd/moved`);
    assert.equal(await fsp.readFile(`${m}/rd/moved`, 'utf8'), 'A\n');
  });

  test('ln, ln -s, readlink: hard links share the inode, symlinks resolve', async () => {
    await sh(`echo L > ${m}/lf && ln ${m}/lf ${m}/lf2 && ln -s lf ${m}/ls`);
    const [i1, n1] = (await sh(`stat -c '%i %h' ${m}/lf`)).trim().split(' ');
    const [i2] = (await sh(`stat -c '%i %h' ${m}/lf2`)).trim().split(' ');
    assert.equal(i1, i2);
    assert.equal(n1, '2');
    assert.equal((await sh(`readlink ${m}/ls`)).trim(), 'lf');
    assert.equal(await fsp.readFile(`${m}/ls`, 'utf8'), 'L\n');
    await sh(`rm ${m}/lf`);
    assert.equal((await sh(`stat -c '%h' ${m}/lf2`)).trim(), '1');
    assert.equal(await fsp.readFile(`${m}/lf2`, 'utf8'), 'L\n');
  });

  test('xattrs: setfattr/getfattr (size probe), list, XATTR_CREATE, remove', async () => {
    await sh(`touch ${m}/x && setfattr -n user.one -v first ${m}/x && setfattr -n user.two -v 0x00ff10 ${m}/x`);
    const dump = await sh(`getfattr -d -e hex ${m}/x`);
    assert.match(dump, /user\.one=0x6669727374/);
    assert.match(dump, /user\.two=0x00ff10/);
    assert.equal(await py(`import os; print(os.getxattr("${m}/x", "user.one").decode())`), 'first');
    assert.equal(await py(`import os; print(sorted(os.listxattr("${m}/x")))`), "['user.one', 'user.two']");
    assert.equal(await py(`
import os, errno
try:
    os.setxattr("${m}/x", "user.one", b"v", os.XATTR_CREATE); print("no error")
except OSError as e: print(errno.errorcode[e.errno])`), 'EEXIST');
    await sh(`setfattr -x user.one ${m}/x`);
    assert.match(await shFails(`getfattr -n user.one ${m}/x`), /No such attribute/);
  });

  test('truncate, chmod, chown, touch -d: atime and mtime land where they were given', async () => {
    await sh(`printf 'abcdef' > ${m}/t && truncate -s 3 ${m}/t`);
    assert.equal(await fsp.readFile(`${m}/t`, 'utf8'), 'abc');
    await sh(`truncate -s 8 ${m}/t`);
    assert.deepEqual(await fsp.readFile(`${m}/t`), Buffer.from('abc\0\0\0\0\0', 'latin1'));
    await sh(`chmod 0640 ${m}/t && chown 1234:5678 ${m}/t`);
    assert.equal((await sh(`stat -c '%a %u %g' ${m}/t`)).trim(), '640 1234 5678');
    await sh(`touch -a -d '2001-01-01 00:00:01.5 UTC' ${m}/t && touch -m -d '2002-02-02 00:00:02.25 UTC' ${m}/t`);
    const ns = await py(`import os; s = os.stat("${m}/t"); print(s.st_atime_ns, s.st_mtime_ns)`);
    assert.equal(ns, `${Date.UTC(2001, 0, 1, 0, 0, 1) / 1000}500000000 ${Date.UTC(2002, 1, 2, 0, 0, 2) / 1000}250000000`);
    await py(`import os; os.utime("${m}/t", ns=(978307200123456789, 1012608000987654321))`);
    assert.equal(await py(`import os; s = os.stat("${m}/t"); print(s.st_atime_ns, s.st_mtime_ns)`),
      '978307200123456789 1012608000987654321');
  });

  test('O_TRUNC, O_APPEND, O_EXCL and fallocate', async () => {
    await sh(`echo one > ${m}/o && echo two >> ${m}/o`);
    assert.equal(await fsp.readFile(`${m}/o`, 'utf8'), 'one\ntwo\n');
    await sh(`echo three > ${m}/o`);
    assert.equal(await fsp.readFile(`${m}/o`, 'utf8'), 'three\n');
    assert.equal(await py(`
import os, errno
try:
    os.open("${m}/o", os.O_CREAT | os.O_EXCL | os.O_WRONLY); print("no error")
except OSError as e: print(errno.errorcode[e.errno])`), 'EEXIST');
    await sh(`fallocate -l 1048576 ${m}/o`);
    assert.equal((await fsp.stat(`${m}/o`)).size, 1 << 20);
    assert.match(await shFails(`fallocate -p -o 0 -l 4096 ${m}/o`), /unsupported|not supported/i);
  });

  test('statfs answers through df / statvfs', async () => {
    assert.equal(await py(`import os; s = os.statvfs("${m}"); print(s.f_bsize, s.f_namemax, s.f_blocks)`),
      `4096 255 ${1 << 20}`);
  });

  test('concurrent reads from several processes all see the same bytes', async () => {
    const ref = randomBytes(16 << 20);
    await fsp.writeFile(`${m}/conc`, ref);
    const sums = await Promise.all(Array.from({ length: 6 }, (_, i) =>
      sh(i % 2 === 0 ? `sha256sum ${m}/conc` : `dd if=${m}/conc bs=128k status=none | sha256sum`)));
    for (const s of sums) assert.equal(s.split(' ')[0], sha(ref));
  });

  test('I-FB2: workers never wait for JS: 32 slow reads from 32 processes are all in flight at once', async () => {
    // libfuse's loop runs at most 10 worker threads; if they blocked until JS answered, at most 10
    // reads could be in the handler at once.
    const readers = Array.from({ length: 32 }, () =>
      execFileP('dd', [`if=${m}/delay`, 'of=/dev/null', 'bs=4096', 'count=1', 'iflag=direct', 'status=none']));
    await Promise.all(readers);
    const line = await fs.waitLine('EVENT {"event":"delay-drained"', 5000);
    assert.ok(JSON.parse(line.slice(6)).maxInFlight >= 16, line);
  });

  test('readdir and readdirplus page through 3000 entries without loss or duplicates', async () => {
    await py(`
import os
os.mkdir("${m}/big")
for i in range(3000): open("${m}/big/entry-with-a-longish-name-%05d" % i, "w").close()`);
    const names = (await sh(`ls -f ${m}/big`)).trim().split('\n').filter((x) => x !== '.' && x !== '..');
    assert.equal(names.length, 3000);
    assert.equal(new Set(names).size, 3000);
    const long = (await sh(`ls -l ${m}/big | tail -n +2`)).trim().split('\n');
    assert.equal(long.length, 3000);
    assert.ok(long.every((l) => l.startsWith('-rw-r--r-- 1 root root 0 ')));
  });

  test('names are bytes: a name that is not UTF-8 (b"\\xff\\xfe") lists, opens, renames and symlinks unchanged', async () => {
    const out = await py(`
import os
d = os.path.join(${JSON.stringify(m)}.encode(), b'bytes-names')
os.mkdir(d)
p = os.path.join(d, b'\\xff\\xfe')
open(p, 'wb').write(b'x')
os.symlink(b'\\xfe\\xff-target', os.path.join(d, b'l\\x80'))
print(repr(sorted(os.listdir(d))))
print(repr(os.readlink(os.path.join(d, b'l\\x80'))))
os.rename(p, os.path.join(d, b'\\xc3('))
print(repr(sorted(os.listdir(d))), open(os.path.join(d, b'\\xc3('), 'rb').read())
for n in os.listdir(d): os.unlink(os.path.join(d, n))
os.rmdir(d)`);
    assert.deepEqual(out.split('\n'), [
      "[b'l\\x80', b'\\xff\\xfe']", "b'\\xfe\\xff-target'", "[b'l\\x80', b'\\xc3('] b'x'",
    ]);
  });

  test('mknod: FIFOs are created, device nodes answer EPERM', async () => {
    await sh(`mkfifo ${m}/fifo`);
    assert.equal((await sh(`stat -c '%F' ${m}/fifo`)).trim(), 'fifo');
    assert.match(await shFails(`mknod ${m}/dev c 1 3`), /Operation not permitted/);
  });

  test('a handler that throws a plain Error answers EIO', async () => {
    assert.match(await shFails(`stat ${m}/__throw`), /Input\/output error/);
    assert.match(await shFails(`touch ${m}/d1/__throw`), /Input\/output error/);
  });

  test('I-FB4: a signal to the caller interrupts the request and aborts the handler signal', async () => {
    const out = await py(`
import signal
def boom(*a): raise TimeoutError("alarm")
signal.signal(signal.SIGALRM, boom)
signal.setitimer(signal.ITIMER_REAL, 0.3)
try:
    open("${m}/slow", "rb").read(); print("read returned")
except TimeoutError: print("interrupted")`);
    assert.equal(out, 'interrupted');
    await fs.waitLine('EVENT {"event":"interrupted"', 5000);
  });
});

describe('fuse binding: lifecycle', () => {
  test('unmount completes while a handler never replies; the caller gets EIO; no process or mount is left', async () => {
    const fs = await startMemFs({ unmountGraceMs: 300 });
    try {
      const reader = execFileP('cat', [`${fs.mnt}/hang`]).then(() => 'ok', (e: { stderr: string }) => e.stderr);
      await new Promise((r) => setTimeout(r, 300));
      fs.child.kill('SIGTERM');
      const exit = await fs.exited;
      assert.equal(exit.signal, 'SIGTERM', 'the signal is re-raised after the clean unmount');
      assert.match(await reader, /Input\/output error/);
      const stats = JSON.parse(fs.lines.find((l) => l.startsWith('STATS '))!.slice(6));
      assert.equal(stats.abandoned, 1);
      assert.equal(isMounted(fs.mnt), false);
      assert.deepEqual(await fsp.readdir(fs.mnt), [], 'the mountpoint is a plain empty directory again');
    } finally {
      fs.cleanup();
    }
  });

  test('invalidateEntry / invalidateInode make changes behind the kernel visible before the timeouts expire', async () => {
    const fs = await startMemFs({}, { TMO: '60', KEEP_CACHE: '1' });
    try {
      const m = fs.mnt;
      await fsp.writeFile(`${m}/a`, 'old');
      await fsp.writeFile(`${m}/b`, 'bbb');
      assert.equal(await fsp.readFile(`${m}/a`, 'utf8'), 'old');
      await fsp.stat(`${m}/b`);
      await fs.command('set a NEW');
      assert.equal(await fsp.readFile(`${m}/a`, 'utf8'), 'NEW', 'cached pages were dropped');
      await fs.command('drop b');
      const end = Date.now() + 3000;
      let gone = false;
      while (!gone && Date.now() < end) {
        gone = await fsp.stat(`${m}/b`).then(() => false, (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
        if (!gone) await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(gone, 'the cached entry (60 s timeout) was dropped');
    } finally {
      await fs.stop();
      fs.cleanup();
    }
  });

  test('writebackCache is optional: asked for, it is negotiated and writes still land; readaheadKb is applied', async () => {
    const fs = await startMemFs({ writebackCache: true, readaheadKb: 1024 });
    try {
      assert.ok((fs.negotiated.want as number) & FuseCap.WRITEBACK_CACHE);
      if (process.getuid?.() === 0) {
        assert.equal(fs.negotiated.readaheadKb, 1024);
        const bdi = readAheadFileOf(Number(fs.negotiated.devMajor), Number(fs.negotiated.devMinor));
        assert.equal((await fsp.readFile(bdi, 'utf8')).trim(), '1024');
      }
      const data = randomBytes(3 << 20);
      await fsp.writeFile(`${fs.mnt}/w`, data);
      assert.equal(sha(await fsp.readFile(`${fs.mnt}/w`)), sha(data));
    } finally {
      await fs.stop();
      fs.cleanup();
    }
  });

  test('SIGINT to the mounting process unmounts cleanly (clone_fd loop)', async () => {
    const fs = await startMemFs({ cloneFd: true, maxIdleThreads: 4 });
    try {
      await fsp.writeFile(`${fs.mnt}/f`, 'x');
      fs.child.kill('SIGINT');
      const exit = await fs.exited;
      assert.equal(exit.signal, 'SIGINT');
      assert.ok(fs.lines.some((l) => l.startsWith('STATS ')), 'destroy ran');
      assert.equal(isMounted(fs.mnt), false);
    } finally {
      fs.cleanup();
    }
  });

  test('ro + default_permissions mount refuses writes; process.exit while mounted still unmounts', async () => {
    const fs = await startMemFs({ ro: true, defaultPermissions: true });
    try {
      assert.match((await fsp.readFile('/proc/mounts', 'utf8')).split('\n').find((l) => l.includes(fs.mnt)) ?? '',
        / fuse ro,.*default_permissions/);
      await assert.rejects(fsp.writeFile(`${fs.mnt}/f`, 'x'), { code: 'EROFS' });
      assert.ok((await fsp.readdir(fs.mnt)).includes('hang'));
      fs.child.stdin!.write('exit\n');
      assert.equal((await fs.exited).code, 7);
      assert.equal(isMounted(fs.mnt), false);
      assert.deepEqual(await fsp.readdir(fs.mnt), []);
    } finally {
      fs.cleanup();
    }
  });

  test('a bad mount option is a clear error and leaves no dead mount', async () => {
    for (const opts of [{ bogus: 1 }, { fsname: 'a,allow_other' }, { maxWrite: 3 << 20 }]) {
      const fs = await startMemFs(opts);
      try {
        const failed = await fs.waitLine('FAILED');
        assert.match(failed, /KSK_ERR_INVALID_ARGUMENT/);
        assert.match(failed, /unknown mount option 'bogus'|fsname must be|maxWrite must be/);
        assert.equal((await fs.exited).code, 3);
        assert.equal(isMounted(fs.mnt), false);
        assert.deepEqual(await fsp.readdir(fs.mnt), []);
      } finally {
        fs.cleanup();
      }
    }
  });

  test('a mountpoint that does not exist is a clear error', async () => {
    const fs = await startMemFs();
    const missing = `${fs.mnt}-missing`;
    await fs.stop();
    fs.cleanup();
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(process.execPath, [path.resolve(__dirname, '../fixtures/memfs.js'), missing, '{}'], { encoding: 'utf8' });
    assert.equal(r.status, 3);
    assert.match(r.stdout, /mountpoint .*missing is not usable: ENOENT/);
  });
});

// A real mount against a separate kiseki-node, driven with real tools from child processes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { bash, sh, spawnTool, startMountHarness, type MountHarness, type Mounted } from './mount-harness.js';

let h: MountHarness;
let m: Mounted;
let M: string;

before(async () => {
  h = await startMountHarness();
  m = await h.mount('mnt', ['-o', 'meta_ttl_ms=500,chunk_size=1M']);
  M = m.path;
});
after(async () => h.close());

const py = (code: string) => sh('python3', ['-c', code], { cwd: M });

test('cp and dd round-trip with sha256; stat size and mtime are right right after the write', async () => {
  const out = await bash(`
    head -c 9437185 /dev/urandom > "${h.dir}/src.bin"
    before=$(date +%s)
    cp "${h.dir}/src.bin" "${M}/cp.bin"
    dd if="${h.dir}/src.bin" of="${M}/dd.bin" bs=1M status=none
    stat -c '%s %Y' "${M}/cp.bin"
    echo "$before"
    sha256sum "${h.dir}/src.bin" "${M}/cp.bin" "${M}/dd.bin" | awk '{print $1}' | sort -u | wc -l
    dd if="${M}/dd.bin" bs=128k status=none | sha256sum | awk '{print $1}'
    sha256sum "${h.dir}/src.bin" | awk '{print $1}'`);
  const [stat, before, distinct, viaDd, orig] = out.trim().split('\n');
  const [size, mtime] = stat!.split(' ').map(Number);
  assert.equal(size, 9437185);
  assert.ok(mtime! >= Number(before) - 1 && mtime! <= Date.now() / 1000 + 1, `mtime ${mtime} vs ${before}`);
  assert.equal(distinct, '1', 'all three copies have the same checksum');
  assert.equal(viaDd, orig);
});

test('mv, ln, ln -s, setfattr/getfattr, truncate, rm -r', async () => {
  const out = await bash(`
    cd "${M}"
    mkdir -p t/a/b && echo hello > t/a/b/f
    mv t/a/b/f t/a/g && test ! -e t/a/b/f
    ln t/a/g t/hard && stat -c %h t/a/g
    ln -s a/g t/sym && readlink t/sym && cat t/sym
    setfattr -n user.color -v blue t/a/g && getfattr --only-values -n user.color t/hard; echo
    truncate -s 3 t/a/g && cat t/hard; echo
    truncate -s 10 t/a/g && od -An -c t/a/g | tr -s ' '
    rm -r t && test ! -e t && echo gone`);
  const lines = out.split('\n');
  assert.equal(lines[0], '2');
  assert.equal(lines[1], 'a/g');
  assert.equal(lines[2], 'hello');
  assert.equal(lines[3], 'blue');
  assert.equal(lines[4], 'hel');
  assert.match(lines[5]!, /^ h e l \\0 \\0 \\0 \\0 \\0 \\0 \\0$/);
  assert.equal(lines[6], 'gone');
});

test('tar round-trip of a tree keeps every checksum, mode and symlink', async () => {
  await bash(`
    mkdir -p "${h.dir}/tree/x/y" && cd "${h.dir}/tree"
    for i in $(seq 1 40); do head -c $((i * 3001)) /dev/urandom > x/f$i; done
    head -c 3000000 /dev/urandom > x/y/big; echo small > x/y/s; chmod 600 x/y/s; ln -s ../f1 x/y/l
    tar -C "${h.dir}" -cf - tree | tar -C "${M}" -xpf -
    tar -C "${M}" -cf "${h.dir}/back.tar" tree
    mkdir "${h.dir}/back" && tar -C "${h.dir}/back" -xpf "${h.dir}/back.tar"`);
  const a = await bash(`cd "${h.dir}/tree" && find . -type f -exec sha256sum {} + | sort && find . -printf '%p %m %y %l\\n' | sort`);
  const b = await bash(`cd "${h.dir}/back/tree" && find . -type f -exec sha256sum {} + | sort && find . -printf '%p %m %y %l\\n' | sort`);
  assert.equal(b, a);
});

test('O_CREAT|O_EXCL race between two processes: exactly one wins', async () => {
  const racer = `import os,sys\ntry:\n  os.close(os.open('${M}/excl', os.O_CREAT|os.O_EXCL|os.O_WRONLY)); print('won')\nexcept FileExistsError: print('lost')`;
  const results = await Promise.all([0, 1, 2, 3].map(() => spawnTool('python3', ['-c', racer])));
  const won = results.filter((r) => r.out.trim() === 'won').length;
  const lost = results.filter((r) => r.out.trim() === 'lost').length;
  assert.deepEqual([won, lost], [1, 3]);
});

test('O_APPEND from two processes: every line lands whole', async () => {
  const writer = (tag: string) => `import os\nfd=os.open('${M}/app.log', os.O_CREAT|os.O_WRONLY|os.O_APPEND, 0o644)\nfor i in range(300): os.write(fd, b'${tag}%04d\\n' % i)\nos.close(fd)`;
  await Promise.all([spawnTool('python3', ['-c', writer('A')]), spawnTool('python3', ['-c', writer('B')])]);
  const lines = (await sh('cat', [join(M, 'app.log')])).trim().split('\n');
  assert.equal(lines.length, 600);
  assert.equal(new Set(lines).size, 600);
  assert.ok(lines.every((l) => /^[AB]\d{4}$/.test(l)));
});

test('unlink of an open file: the descriptor keeps working', async () => {
  const out = await py(`import os
fd=os.open('gone.txt', os.O_CREAT|os.O_RDWR, 0o644)
os.write(fd, b'alive')
os.unlink('gone.txt')
print(os.path.exists('gone.txt'))
os.write(fd, b'!')
os.lseek(fd, 0, 0)
print(os.read(fd, 100).decode())
os.close(fd)`);
  assert.equal(out, 'False\nalive!\n');
});

test('renameat2 RENAME_NOREPLACE and RENAME_EXCHANGE', async () => {
  const out = await py(`import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
AT = -100
open('p','w').write('P'); open('q','w').write('Q')
r = libc.renameat2(AT, b'p', AT, b'q', 1); print(r, ctypes.get_errno())
r = libc.renameat2(AT, b'p', AT, b'q', 2); print(r, open('p').read(), open('q').read())`);
  assert.equal(out, '-1 17\n0 Q P\n');
});

test('mmap: read-only shared mappings work; writable shared mappings are refused (ENODEV)', async () => {
  const out = await py(`import mmap, os
open('mm','wb').write(b'abcd' * 2048)
fd = os.open('mm', os.O_RDONLY)
m = mmap.mmap(fd, 8192, mmap.MAP_SHARED, mmap.PROT_READ); print(m[4:8].decode()); m.close(); os.close(fd)
fd = os.open('mm', os.O_RDWR)
try:
  mmap.mmap(fd, 8192, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE); print('mapped')
except OSError as e: print(e.errno)`);
  assert.equal(out, 'abcd\n19\n');
});

test('concurrent writers on separate files, then verified', async () => {
  const out = await bash(`
    cd "${M}"
    for i in 1 2 3 4; do (head -c 3145728 /dev/urandom > "${h.dir}/w$i"; cp "${h.dir}/w$i" w$i) & done; wait
    for i in 1 2 3 4; do cmp "${h.dir}/w$i" w$i && echo same; done`);
  assert.equal(out, 'same\nsame\nsame\nsame\n');
});

test('statfs answers (df)', async () => {
  const out = await sh('df', ['-P', M]);
  assert.match(out, /kiseki/);
});

test('a file name that is not UTF-8 (b"\\xff\\xfe") is created, listed, found again and removed byte for byte', async () => {
  // CPython's Pep383Tests: names are bytes; decoding them to U+FFFD anywhere would lose the file.
  const out = await py(`
import os
d = os.path.join(b'.', b'nonutf8')
os.mkdir(d)
p = os.path.join(d, b'\\xff\\xfe')
with open(p, 'wb') as f: f.write(b'raw name')
print(repr(sorted(os.listdir(d))))
print(open(p, 'rb').read().decode())
os.rename(p, os.path.join(d, b'\\xfe\\xff-moved'))
print(repr(sorted(os.listdir(d))))
print(os.path.exists(os.path.join(d, '\\ufffd\\ufffd'.encode())))
os.unlink(os.path.join(d, b'\\xfe\\xff-moved'))
os.rmdir(d)
print('ok')`);
  assert.deepEqual(out.trim().split('\n'), ["[b'\\xff\\xfe']", 'raw name', "[b'\\xfe\\xff-moved']", 'False', 'ok']);
});

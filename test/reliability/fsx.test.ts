// P-FSX (short): random write/read/truncate/fsync/mmap-read/close-reopen through a real mount,
// every read compared with a shadow copy; and the regression the checker found.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { bash, startMountHarness, type MountHarness } from '../integration/mount-harness.js';
import { fsxAgainstMount } from './fsx-run.js';

test('P-FSX1: 1,000 fsx operations against the mount match the shadow copy byte for byte', async () => {
  await fsxAgainstMount(1000, 100);
});

let h: MountHarness;
before(async () => { h = await startMountHarness(); });
after(async () => h.close());

test('P-FSX2: ftruncate into a chunk holding unflushed writes keeps those writes (found by fsx, seed 1)', async () => {
  const m = await h.mount('trunc', ['-o', 'chunk_size=1M']);
  const out = await bash(`python3 - "${m.path}/t.dat" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
os.pwrite(fd, b'\\x11' * 1000000, 0)
os.fsync(fd)
os.pwrite(fd, b'\\xcb' * 100, 807878)
os.ftruncate(fd, 884955)
a = os.pread(fd, 100, 807878)
os.close(fd)
fd = os.open(sys.argv[1], os.O_RDONLY)
b = os.pread(fd, 100, 807878)
print(a.hex()[:8], b.hex()[:8], os.fstat(fd).st_size, os.pread(fd, 10, 884950).hex())
PY`);
  assert.equal(out.trim(), 'cbcbcbcb cbcbcbcb 884955 1111111111');
  await m.unmount();
});

// Reliability tier (npm run test:reliability): a memfs mount under mixed concurrent load for
// KISEKI_FUSE_STRESS_S seconds (default 45). Each writer process owns one file and checks every read
// against its own model of the bytes (fsx-style: pwrite, pread, truncate, fsync at random offsets), while
// other processes list directories, stat, and stream a large file. Any wrong byte fails the test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileP, isMounted, startMemFs } from './fuse-binding-helper.js';

const SECONDS = parseInt(process.env.KISEKI_FUSE_STRESS_S ?? '45', 10);

const WRITER = `
import os, random, sys, time
path, seed, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
rnd = random.Random(seed)
model = bytearray()
fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
ops = 0
end = time.time() + secs
while time.time() < end:
    op = rnd.random()
    if op < 0.45:
        off = rnd.randrange(0, len(model) + 65536)
        data = rnd.randbytes(rnd.choice([1, 17, 4096, 65536, 200000, 1048576]))
        assert os.pwrite(fd, data, off) == len(data)
        if off > len(model):
            model.extend(b"\\0" * (off - len(model)))
        model[off:off + len(data)] = data
    elif op < 0.85:
        off = rnd.randrange(0, len(model) + 1)
        n = rnd.choice([1, 4096, 131072, 1048576, 3000000])
        got = os.pread(fd, n, off)
        want = bytes(model[off:off + n])
        if got != want:
            print("MISMATCH", path, off, n, len(got), len(want), flush=True)
            sys.exit(1)
    elif op < 0.95:
        size = rnd.randrange(0, len(model) + 100000)
        os.ftruncate(fd, size)
        if size < len(model):
            del model[size:]
        else:
            model.extend(b"\\0" * (size - len(model)))
    else:
        os.fsync(fd)
    ops += 1
os.close(fd)
assert open(path, "rb").read() == bytes(model), "final content differs"
print("OK", ops)
`;

const BROWSER = `
import os, sys, time
root, secs = sys.argv[1], float(sys.argv[2])
end = time.time() + secs
n = 0
while time.time() < end:
    for e in os.scandir(root):
        e.stat(follow_symlinks=False)
        n += 1
print("OK", n)
`;

test('memfs survives mixed concurrent load with every byte checked', { timeout: (SECONDS + 120) * 1000 }, async () => {
  const fs = await startMemFs({ replyThreads: 2 }, { BIG_MB: '256', TMO: '0' });
  try {
    const m = fs.mnt;
    const bigSum = (await execFileP('bash', ['-c', `sha256sum ${m}/big`])).stdout.split(' ')[0];
    const streamer = (async () => {
      let rounds = 0;
      const end = Date.now() + SECONDS * 1000;
      while (Date.now() < end) {
        const { stdout } = await execFileP('bash', ['-c', `dd if=${m}/big bs=128k status=none | sha256sum`]);
        assert.equal(stdout.split(' ')[0], bigSum, 'streamed /big changed');
        rounds++;
      }
      return rounds;
    })();
    const writers = Array.from({ length: 4 }, (_, i) =>
      execFileP('python3', ['-c', WRITER, `${m}/w${i}`, String(1000 + i), String(SECONDS)], { maxBuffer: 1 << 20 }));
    const browsers = Array.from({ length: 2 }, () =>
      execFileP('python3', ['-c', BROWSER, m, String(SECONDS)]));
    const results = await Promise.all([...writers, ...browsers]);
    for (const r of results) assert.match(r.stdout, /^OK \d+/);
    assert.ok((await streamer) > 0);
    const exit = await fs.stop();
    assert.equal(exit.code, 0);
    const stats = JSON.parse(fs.lines.find((l) => l.startsWith('STATS '))!.slice(6));
    assert.equal(stats.refusedReplies, 0);
    assert.equal(isMounted(fs.mnt), false);
  } finally {
    fs.cleanup();
  }
});

// Lookups and getattrs answered on the FUSE worker threads (native/fuse/entry-cache.*) from the mirror
// of the client's dentry cache, through real mounts of one kiseki-node: a walk over a directory is
// answered there, own changes show at once, another mount's changes within meta_ttl_ms (I-CC5), and
// open files are never answered from it. Every file access goes through child processes (python3).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { CLI, sh, startMountHarness, type MountHarness, type Mounted } from './mount-harness.js';

const FILES = 60;
const TTL_MS = 700;

let h: MountHarness;
let a: Mounted;
let b: Mounted;

before(async () => {
  h = await startMountHarness();
  a = await h.mount('a', ['-o', `meta_ttl_ms=${TTL_MS}`]);
  b = await h.mount('b', ['-o', `meta_ttl_ms=${TTL_MS}`]);
});
after(async () => {
  await h.close();
});

function py(script: string, ...args: string[]): Promise<string> {
  return sh('python3', ['-c', script, ...args], { env: h.env });
}

async function answers(m: Mounted): Promise<{ hits: number; misses: number; names: number; attrs: number; nameHits: number }> {
  const out = JSON.parse(await sh(process.execPath, [CLI, 'status', '--json'], { env: h.env })) as Array<{ mountpoint: string; workerAnswers: { hits: number; misses: number; names: number; attrs: number; nameHits: number } }>;
  const rec = out.find((r) => r.mountpoint === m.path);
  assert.ok(rec !== undefined, `status lists ${m.path}`);
  return rec.workerAnswers;
}

/** lstat of every name, twice: the sizes seen (or -1 = ENOENT) of the second pass. */
const WALK = `
import os, sys, json
d, n = sys.argv[1], int(sys.argv[2])
def walk():
    out = []
    for i in range(n):
        try: out.append(os.lstat(os.path.join(d, "f%03d" % i)).st_size)
        except FileNotFoundError: out.append(-1)
    return out
walk()
print(json.dumps(walk()))
`;

/** Makes directory argv[1] holding FILES empty files f000, f001, … */
const MAKE_FILES = `
import os, sys
d = sys.argv[1]
os.mkdir(d)
for i in range(${FILES}):
    open(os.path.join(d, "f%03d" % i), "wb").close()
`;

/** Polls lstat of one name until its size is the wanted one; prints the ms it took (or -1 after 5 s). */
const WAIT_SIZE = `
import os, sys, time
p, want = sys.argv[1], int(sys.argv[2])
t0 = time.monotonic()
while time.monotonic() - t0 < 5:
    try: size = os.lstat(p).st_size
    except FileNotFoundError: size = -1
    if size == want:
        print(int((time.monotonic() - t0) * 1000)); sys.exit(0)
    time.sleep(0.005)
print(-1)
`;

test('I-CC3 a walk over a listed directory is answered on the worker threads, with the sizes the node has', async () => {
  await py(`
import os, sys
d = sys.argv[1]
os.mkdir(d)
for i in range(${FILES}):
    with open(os.path.join(d, "f%03d" % i), "wb") as f: f.write(b"x" * i)
`, `${b.path}/walk`);
  const before = await answers(a);
  const sizes = JSON.parse(await py(WALK, `${a.path}/walk`, String(FILES))) as number[];
  assert.deepEqual(sizes, Array.from({ length: FILES }, (_, i) => i));
  const after = await answers(a);
  assert.ok(after.names >= FILES / 2, `the listing's names were mirrored (${after.names})`);
  // The kernel keeps entries for what remains of the TTL itself, so only part of a second walk reaches
  // the daemon; what did must have been answered by the worker threads, not by JS.
  assert.ok(after.hits > before.hits, `worker-thread hits ${before.hits} → ${after.hits}`);
  // ADR 0086: the worker threads hash each name themselves and find it among the listing's name keys.
  assert.ok(after.nameHits - before.nameHits >= FILES / 2, `worker-thread LOOKUP hits ${before.nameHits} → ${after.nameHits}`);
});

test('I-CC3 own creates, writes, unlinks and renames show at once through worker-thread answers', async () => {
  const dir = `${a.path}/own`;
  await py(MAKE_FILES, dir);
  await py(WALK, dir, String(FILES));
  const out = await py(`
import os, sys
d = sys.argv[1]
seen = []
for i in range(${FILES}): os.lstat(os.path.join(d, "f%03d" % i))
with open(os.path.join(d, "f001"), "r+b") as f: f.write(b"y" * 321)
seen.append(os.lstat(os.path.join(d, "f001")).st_size)
os.unlink(os.path.join(d, "f002"))
seen.append(os.path.exists(os.path.join(d, "f002")))
os.rename(os.path.join(d, "f003"), os.path.join(d, "g003"))
seen.append(os.path.exists(os.path.join(d, "f003")))
seen.append(os.lstat(os.path.join(d, "g003")).st_size)
os.truncate(os.path.join(d, "f004"), 77)
seen.append(os.lstat(os.path.join(d, "f004")).st_size)
with open(os.path.join(d, "new"), "wb") as f: f.write(b"z" * 5)
seen.append(os.lstat(os.path.join(d, "new")).st_size)
print(seen)
`, dir);
  assert.equal(out.trim(), '[321, False, False, 0, 77, 5]');
});

test('I-CC5 another mount\'s write, unlink, create and rename show through worker-thread answers within meta_ttl_ms', async () => {
  const dirA = `${a.path}/coh`;
  const dirB = `${b.path}/coh`;
  await py(MAKE_FILES, dirB);
  await py(WALK, dirA, String(FILES)); // A lists and mirrors the directory
  const hits0 = (await answers(a)).hits;
  await py(`
import os, sys
d = sys.argv[1]
with open(os.path.join(d, "f010"), "r+b") as f: f.write(b"w" * 999)
os.unlink(os.path.join(d, "f011"))
with open(os.path.join(d, "f%03d" % ${FILES}), "wb") as f: f.write(b"n" * 3)
with open(os.path.join(d, "f012"), "r+b") as f: f.write(b"r" * 12)
os.rename(os.path.join(d, "f012"), os.path.join(d, "renamed"))
`, dirB);
  // B's changes are committed; A may show the old state only for what remains of its fetch's TTL.
  const waits = await Promise.all([
    py(WAIT_SIZE, `${dirA}/f010`, '999'),
    py(WAIT_SIZE, `${dirA}/f011`, '-1'),
    py(WAIT_SIZE, `${dirA}/f${String(FILES).padStart(3, '0')}`, '3'),
    py(WAIT_SIZE, `${dirA}/f012`, '-1'),
    py(WAIT_SIZE, `${dirA}/renamed`, '12'),
  ]);
  for (const w of waits.map((x) => Number(x.trim()))) {
    assert.ok(w >= 0, 'the change became visible');
    // Slack for a loaded machine: the poller's own scheduling, not the cache, is what can be late.
    assert.ok(w <= TTL_MS + 400, `visible after ${w} ms, bound ${TTL_MS} ms`);
  }
  assert.ok((await answers(a)).hits >= hits0);
});

test('a file open for writing is never answered from the worker threads: fstat and stat see unflushed writes', async () => {
  const dir = `${a.path}/open`;
  const out = await py(`
import os, sys
d = sys.argv[1]
os.mkdir(d)
for i in range(${FILES}):
    open(os.path.join(d, "f%03d" % i), "wb").close()
for _ in range(2):
    for i in range(${FILES}): os.lstat(os.path.join(d, "f%03d" % i))
fd = os.open(os.path.join(d, "f005"), os.O_WRONLY)
os.write(fd, b"q" * 4321)
seen = [os.fstat(fd).st_size, os.stat(os.path.join(d, "f005")).st_size]
os.close(fd)
seen.append(os.stat(os.path.join(d, "f005")).st_size)
print(seen)
`, dir);
  assert.equal(out.trim(), '[4321, 4321, 4321]');
});

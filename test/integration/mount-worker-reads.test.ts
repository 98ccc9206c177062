// Reads answered on the FUSE worker threads from published L1 chunks (ADR 0045), through a real mount
// over a real kiseki-node: they must be byte-exact, count as L1 hits, and never outlive the content they
// were published for: own writes, truncations and appends, another mount's commit (seen at the next
// open), L1 eviction and a wipe each unpublish first. Every read is done by another process with the
// file's pages dropped first, so each byte is asked of the daemon.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { bash, sh, startMountHarness, startTool, type MountHarness } from './mount-harness.js';
import { MiB, mountWithOwnCache, poolStats, readThrough, type CacheMount } from './mount-cache-fixtures.js';

const CLIENT_CLI = resolve(__dirname, '../../src/cli/kiseki-client.js');
const CLI = resolve(__dirname, '../../src/cli/kiseki-client-fuse.js');
let h: MountHarness;
const mounts: CacheMount[] = [];

before(async () => {
  h = await startMountHarness();
});

after(async () => {
  for (const m of mounts) await m.cleanup().catch(() => undefined);
  await h?.close();
});

interface WorkerReads { hits: number; misses: number; entries: number }

async function workerReads(path: string): Promise<WorkerReads> {
  const all = JSON.parse(await sh(process.execPath, [CLI, 'status', '--json'], { env: h.env })) as Array<{ mountpoint: string; workerReads: WorkerReads }>;
  return all.find((m) => m.mountpoint === path)!.workerReads;
}

/**
 * Keeps the file open in another process, so its state (and what it has published) lives on
 * between the test's reads.
 */
async function holdOpen(path: string): Promise<() => Promise<void>> {
  const t = startTool('bash', ['-c', `exec 3<'${path}'; echo open; sleep 120`]);
  await new Promise((r) => setTimeout(r, 300));
  return async () => {
    process.kill(t.pid, 'SIGKILL');
    await t.done;
  };
}

/** Random writes, truncations and fsyncs through one descriptor, each O_DIRECT read checked against a shadow copy. */
const PY_STRESS = `
import os, sys, mmap, random
path, ops, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(seed)
CH = 1 << 20
SIZE = 3 * CH + 8192
shadow = bytearray(os.urandom(SIZE))
fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
os.pwrite(fd, bytes(shadow), 0)
os.fsync(fd)
dfd = os.open(path, os.O_RDONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 2 * CH)
def check(off, n, what):
    got = os.preadv(dfd, [memoryview(buf)[:n]], off)
    want = shadow[off:off + n]
    if buf[:got] != want[:got] or got != len(want):
        print(f"MISMATCH {what} off={off} n={n} got={got} want={len(want)}", flush=True)
        sys.exit(1)
for i in range(ops):
    r = rnd.random()
    if r < 0.35:
        n = rnd.choice([1, 100, 4096, 65536, 200000])
        off = rnd.randrange(0, len(shadow))
        data = os.urandom(n)
        os.pwrite(fd, data, off)
        end = off + n
        if end > len(shadow): shadow.extend(bytes(1) * (end - len(shadow)))
        shadow[off:end] = data
        if rnd.random() < 0.3: os.fsync(fd)
    elif r < 0.40:
        ns = rnd.randrange(CH, 4 * CH)
        os.ftruncate(fd, ns)
        if ns < len(shadow): del shadow[ns:]
        else: shadow.extend(bytes(1) * (ns - len(shadow)))
        os.fsync(fd)
    else:
        off = rnd.randrange(0, max(1, len(shadow) // 4096)) * 4096
        n = rnd.choice([4096, 131072, 1 << 20])
        check(off, n, f"op {i}")
print("ok", ops, len(shadow))
`;

/** Reads the whole file with O_DIRECT, over and over, so its chunks stay published while the stress changes them. */
const PY_BACKGROUND_READER = `
import os, sys, mmap
path = sys.argv[1]
buf = mmap.mmap(-1, 1 << 20)
while True:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    off = 0
    while True:
        try:
            n = os.preadv(fd, [buf], off)
        except OSError:
            break
        if n <= 0: break
        off += n
    os.close(fd)
`;

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function mountOwn(name: string, opts = ''): Promise<CacheMount> {
  const m = await mountWithOwnCache(h, name, `cache_l1_max=64M${opts === '' ? '' : `,${opts}`}`);
  mounts.push(m);
  return m;
}

test('worker-thread reads: a clean L1 chunk is answered without JS, byte-exact, and counted as L1 hits', async () => {
  // The kernel's own 128 KiB read-ahead: many small requests, each of which must be a worker-thread hit
  // (with the default one-chunk read-ahead, ADR 0099, 3 MiB is only four 1 MiB requests).
  const m = await mountOwn('plain', 'read_ahead_kb=128');
  const data = randomBytes(3 * MiB + 12345);
  await writeFile(join(h.dir, 'plain.src'), data);
  await bash(`cp '${h.dir}/plain.src' '${m.mount.path}/f'`);
  const close = await holdOpen(join(m.mount.path, 'f'));
  assert.equal(await readThrough(join(m.mount.path, 'f')), sha(data), 'first read (publishes)');
  const before = await workerReads(m.mount.path);
  const l1Before = (await poolStats(h, m.cacheDir)).l1_hits;
  assert.equal(await readThrough(join(m.mount.path, 'f')), sha(data), 'second read, from the worker threads');
  const afterRead = await workerReads(m.mount.path);
  assert.ok(afterRead.entries >= 3, `the file's chunks are published: ${JSON.stringify(afterRead)}`);
  const served = afterRead.hits - before.hits;
  assert.ok(served >= 20, `most of 3 MiB in ≤128 KiB requests answered on the worker threads: ${served}`);
  const l1After = (await poolStats(h, m.cacheDir)).l1_hits;
  assert.ok(l1After - l1Before >= served, `worker-thread hits count as L1 hits: ${l1After - l1Before} ≥ ${served}`);
  await close();
  const kept = await workerReads(m.mount.path);
  assert.ok(kept.entries >= 3, `published chunks outlive the last close: ${JSON.stringify(kept)}`);
  assert.equal(await readThrough(join(m.mount.path, 'f')), sha(data), 'a new open of the same generation');
  const again = await workerReads(m.mount.path);
  assert.ok(again.hits - kept.hits >= 24 && again.misses - kept.misses <= 2,
    `the new open is answered on the worker threads from its first read: ${JSON.stringify({ kept, again })}`);
});

test('worker-thread reads: own overwrites, appends and truncations are read back at once, never the published bytes', async () => {
  const m = await mountOwn('writes');
  const f = join(m.mount.path, 'f');
  let data = randomBytes(2 * MiB + 777);
  await writeFile(join(h.dir, 'writes.src'), data);
  await bash(`cp '${h.dir}/writes.src' '${f}'`);
  const close = await holdOpen(f); // the file's state, and what it published, outlive each reader
  for (let round = 0; round < 12; round++) {
    assert.equal(await readThrough(f), sha(data), `round ${round}: read before the change`);
    assert.equal(await readThrough(f), sha(data), `round ${round}: read again (published)`);
    const kind = round % 3;
    if (kind === 0) {
      const patch = randomBytes(4096 + round);
      const at = Math.floor(Math.random() * (data.length - patch.length));
      await writeFile(join(h.dir, 'patch'), patch);
      await bash(`dd if='${h.dir}/patch' of='${f}' bs=${patch.length} seek=${at} oflag=seek_bytes conv=notrunc status=none`);
      data = Buffer.from(data);
      patch.copy(data, at);
    } else if (kind === 1) {
      const more = randomBytes(50_000 + round);
      await writeFile(join(h.dir, 'more'), more);
      await bash(`cat '${h.dir}/more' >> '${f}'`);
      data = Buffer.concat([data, more]);
    } else {
      const size = data.length - 70_000 - round;
      await sh('truncate', ['-s', String(size), f]);
      data = data.subarray(0, size);
    }
    assert.equal(await readThrough(f), sha(data), `round ${round}: read right after the change (kind ${kind})`);
  }
  assert.ok((await workerReads(m.mount.path)).hits > 0, 'the reads between changes were answered on the worker threads');
  await close();
});

test('worker-thread reads: another mount\'s commit is seen at the next open, never the published bytes', async () => {
  const reader = await mountOwn('reader');
  const writer = await mountOwn('writer');
  const v1 = randomBytes(2 * MiB);
  const v2 = randomBytes(2 * MiB);
  await writeFile(join(h.dir, 'v1'), v1);
  await writeFile(join(h.dir, 'v2'), v2);
  await bash(`cp '${h.dir}/v1' '${writer.mount.path}/shared'`);
  const close = await holdOpen(join(reader.mount.path, 'shared'));
  assert.equal(await readThrough(join(reader.mount.path, 'shared')), sha(v1));
  assert.equal(await readThrough(join(reader.mount.path, 'shared')), sha(v1));
  assert.ok((await workerReads(reader.mount.path)).entries >= 2, 'v1 is published on the reader');
  await bash(`cat '${h.dir}/v2' > '${writer.mount.path}/shared'`);
  assert.equal(await readThrough(join(reader.mount.path, 'shared')), sha(v2), 'close-to-open: the new content, not the published one');
  await close();
  // Nothing holds the file open on the reader now: what it published stays, and the next open must
  // still see the writer's next commit (another layout generation).
  assert.ok((await workerReads(reader.mount.path)).entries >= 2, 'v2 stays published after the last close');
  const v3 = randomBytes(2 * MiB);
  await writeFile(join(h.dir, 'v3'), v3);
  await bash(`cat '${h.dir}/v3' > '${writer.mount.path}/shared'`);
  assert.equal(await readThrough(join(reader.mount.path, 'shared')), sha(v3), 'reopened after a commit elsewhere: the new content');
});

test('worker-thread reads: L1 eviction unpublishes first; what stays published is right', async () => {
  const m = await mountOwn('evict', 'cache_l1_max=2M');
  const data = randomBytes(6 * MiB);
  await writeFile(join(h.dir, 'evict.src'), data);
  await bash(`cp '${h.dir}/evict.src' '${m.mount.path}/f'`);
  const close = await holdOpen(join(m.mount.path, 'f'));
  for (let i = 0; i < 3; i++) assert.equal(await readThrough(join(m.mount.path, 'f')), sha(data), `read ${i}`);
  const r = await workerReads(m.mount.path);
  assert.ok(r.entries <= 2, `no more chunks published than L1 holds (2 of 1 MiB): ${JSON.stringify(r)}`);
  await close();
});

test('worker-thread reads: a cache wipe unpublishes everything, and reads stay right', async () => {
  const m = await mountOwn('wipe');
  const data = randomBytes(3 * MiB);
  await writeFile(join(h.dir, 'wipe.src'), data);
  await bash(`cp '${h.dir}/wipe.src' '${m.mount.path}/f'`);
  const close = await holdOpen(join(m.mount.path, 'f'));
  assert.equal(await readThrough(join(m.mount.path, 'f')), sha(data));
  assert.ok((await workerReads(m.mount.path)).entries >= 3);
  await sh(process.execPath, [CLIENT_CLI, 'cache', '--wipe', '--cache-dir', m.cacheDir], { env: h.env });
  assert.equal((await workerReads(m.mount.path)).entries, 0, 'nothing published after the wipe');
  assert.equal(await readThrough(join(m.mount.path, 'f')), sha(data), 'read after the wipe, from the node');
  await close();
});

test('worker-thread reads: O_DIRECT reads between random writes and truncations match a shadow copy, with readers racing', async () => {
  const m = await mountOwn('stress');
  const f = join(m.mount.path, 'stress');
  await sh('python3', ['-c', PY_STRESS, f, '10', '0']); // creates the file
  const readers = [startTool('python3', ['-c', PY_BACKGROUND_READER, f]), startTool('python3', ['-c', PY_BACKGROUND_READER, f])];
  try {
    const out = await sh('python3', ['-c', PY_STRESS, f, '1200', String(Date.now() % 100_000)], { timeoutMs: 240_000 });
    assert.match(out, /^ok 1200 /, out);
  } finally {
    for (const r of readers) process.kill(r.pid, 'SIGKILL');
    await Promise.all(readers.map((r) => r.done));
  }
  assert.ok((await workerReads(m.mount.path)).hits > 0, 'some reads were answered on the worker threads while the file changed');
});

// A sequential reader coming round again over a file larger than L1 (the next epoch of a dataset):
// the chunks ahead of it are promoted from L2 before it asks (ADR 0048), kept in L1 until it gets
// there, and published to the worker threads, so its reads are answered there, not by JS and not by a
// second L2 read. Real mount, real kiseki-node, reads from another process with the page cache dropped.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bash, sh, startMountHarness, type MountHarness } from './mount-harness.js';
import { MiB, mountWithOwnCache, poolStats, until, workerReadsOf, type CacheMount } from './mount-cache-fixtures.js';

const CHUNKS = 24;
let h: MountHarness;
let m: CacheMount;
let data: Buffer;

/** Reads the whole file in 128 KiB reads (the kernel then asks in 128 KiB requests) and prints its SHA-256. */
const PY_READ_128K = `
import hashlib, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
h = hashlib.sha256()
while True:
    b = os.read(fd, 128 << 10)
    if not b: break
    h.update(b)
print(h.hexdigest())
`;

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

before(async () => {
  h = await startMountHarness();
  // 1 MiB chunks, an L1 of 8 of them, the file three times that; cache_large_write keeps the chunks
  // this mount writes in its L2 pool, so every read after the write is an L2 or L1 hit.
  m = await mountWithOwnCache(h, 'ra', 'cache_l1_max=8M,cache_large_write,meta_ttl_ms=1000');
  data = randomBytes(CHUNKS * MiB);
  await writeFile(join(h.dir, 'ra.src'), data);
  await bash(`cp '${h.dir}/ra.src' '${m.mount.path}/f'`);
  assert.ok(await until(async () => (await poolStats(h, m.cacheDir)).l2_entries >= CHUNKS, 30_000), 'the L2 pool holds every chunk');
});

after(async () => {
  await m?.cleanup().catch(() => undefined);
  await h?.close();
});

test('L2 read-ahead: each pass over a file 3× L1 reads every chunk from L2 about once, byte-exact', async () => {
  const f = join(m.mount.path, 'f');
  assert.equal((await sh('python3', ['-c', PY_READ_128K, f])).trim(), sha(data), 'first pass');
  for (let pass = 2; pass <= 4; pass++) {
    const s0 = await poolStats(h, m.cacheDir);
    assert.equal((await sh('python3', ['-c', PY_READ_128K, f])).trim(), sha(data), `pass ${pass}`);
    const s1 = await poolStats(h, m.cacheDir);
    const l2 = s1.l2_hits - s0.l2_hits;
    // Prefetched chunks evicted before the reader got there are read again: 2–3× CHUNKS (ADR 0048).
    assert.ok(l2 >= CHUNKS - 8 && l2 <= CHUNKS + 6, `pass ${pass}: ${l2} L2 hits for ${CHUNKS} chunks`);
    assert.equal(s1.misses, s0.misses, `pass ${pass}: nothing fetched from the node`);
    assert.equal(s1.errors, s0.errors);
  }
});

test('L2 read-ahead: a sequential re-read is answered on the worker threads, chunk starts included', async () => {
  const f = join(m.mount.path, 'f');
  const before = await workerReadsOf(h, m.mount.path);
  assert.equal((await sh('python3', ['-c', PY_READ_128K, f])).trim(), sha(data));
  const after = await workerReadsOf(h, m.mount.path);
  const toJs = after.misses - before.misses;
  const onWorkers = after.hits - before.hits;
  // Without publishing ahead, the first request of every chunk goes to JS (≥ CHUNKS); the slack is for
  // a loaded machine where a promotion is now and then later than the reader.
  assert.ok(toJs < CHUNKS / 2, `${toJs} reads went to JS for ${CHUNKS} chunks (${onWorkers} on the worker threads)`);
  assert.ok(onWorkers >= CHUNKS * 8 - toJs, `${onWorkers} reads on the worker threads`);
});

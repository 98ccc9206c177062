// Capacity through a real mount over a real kiseki-node, checked on disk: organic L2 eviction follows
// the usage-weighted LRU (ADR 0043: a chunk hit N times survives N eviction rounds), and a pinned-mode
// mount over capacity keeps what it has and serves the rest from canonical. Reader mounts run with
// cache_l1_max=0, so every hit is an L2 hit, and read with O_DIRECT from another process, so that one
// read is exactly one FUSE request and one cache lookup.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bash, startMountHarness, type MountHarness, type Mounted } from './mount-harness.js';
import { MiB, chunkId, holdsValidEntry, l2Files, mountWithOwnCache, poolStats, readFirstByteDirect, readThrough, until, type CacheMount } from './mount-cache-fixtures.js';

const ENTRY = MiB + 4; // one single-chunk file's L2 entry: plaintext + CRC trailer
const NAMES = 'ABCDEFGHIJKL'.split('');
let h: MountHarness;
let writer: Mounted;
const files = new Map<string, Buffer>();
const mounts: CacheMount[] = [];

before(async () => {
  h = await startMountHarness();
  writer = await h.mount('w', ['-o', 'chunk_size=1M']);
  for (const n of NAMES) {
    const data = randomBytes(MiB);
    files.set(n, data);
    await writeFile(join(h.dir, n), data);
  }
  await bash(`for f in ${NAMES.join(' ')}; do cp '${h.dir}'/$f '${writer.path}'/$f; done`);
});

after(async () => {
  for (const m of mounts) await m.cleanup().catch(() => undefined);
  await h?.close();
});

/** Which of the test's files have their chunk in the reader's L2, as a sorted string ("ABD"). */
async function onDisk(cacheDir: string): Promise<string> {
  const ids = new Set((await l2Files(cacheDir)).keys());
  return NAMES.filter((n) => ids.has(chunkId(files.get(n)!))).join('');
}

/** Reads a file's first byte through the reader and checks it against the source. */
async function readOnce(reader: CacheMount, name: string): Promise<void> {
  const got = await readFirstByteDirect(join(reader.mount.path, name));
  assert.equal(got, files.get(name)!.subarray(0, 1).toString('hex'), `${name}: right byte`);
}

/** The first read of a file: a miss, then the insert; waits until L2 holds exactly `expect`. */
async function insert(reader: CacheMount, name: string, expect: string): Promise<void> {
  await readOnce(reader, name);
  const settled = await until(async () => (await onDisk(reader.cacheDir)) === expect, 10_000);
  assert.ok(settled, `after reading ${name} L2 should hold ${expect}, holds ${await onDisk(reader.cacheDir)}`);
}

test('ADR 0043 mount: organic L2 eviction is usage-weighted LRU, a chunk hit N times survives N eviction rounds (checked on disk)', async () => {
  const reader = await mountWithOwnCache(h, 'organic', `cache_l1_max=0,cache_l2_max=${4 * ENTRY}`);
  mounts.push(reader);
  // Four entries fill the pool; insertion order is recency order.
  await insert(reader, 'A', 'A');
  await insert(reader, 'B', 'AB');
  await insert(reader, 'C', 'ABC');
  await insert(reader, 'D', 'ABCD');
  // A gets 2 hits, B 1; C and D none. Recency now: C, D, A(2 credits), B(1 credit).
  const s0 = await poolStats(h, reader.cacheDir);
  await readOnce(reader, 'A');
  await readOnce(reader, 'A');
  await readOnce(reader, 'B');
  const s1 = await poolStats(h, reader.cacheDir);
  assert.equal(s1.l2_hits - s0.l2_hits, 3, 'each read was exactly one L2 hit');
  // Unread entries go first, least recent first.
  await insert(reader, 'E', 'ABDE');
  await insert(reader, 'F', 'ABEF');
  // Round 1 passes over A (2 → 1 credit), round 2 over B (1 → 0), round 3 takes E.
  await insert(reader, 'G', 'ABFG');
  await insert(reader, 'H', 'ABGH');
  // A still has a credit and survives once more; B, hit once, has spent its one round and goes.
  await insert(reader, 'I', 'AGHI');
  await insert(reader, 'J', 'AHIJ');
  await insert(reader, 'K', 'AIJK');
  // A has survived its two rounds and is now the least recent entry without credit.
  await insert(reader, 'L', 'IJKL');
  const s2 = await poolStats(h, reader.cacheDir);
  assert.equal(s2.l2_evictions, 8, 'eight entries were evicted for eight inserts past capacity');
  assert.ok(s2.l2_bytes <= 4 * ENTRY, `the pool stays within cache_l2_max (${s2.l2_bytes} bytes)`);
  // An evicted chunk reads correctly from canonical.
  assert.equal(await readThrough(join(reader.mount.path, 'A')), chunkId(files.get('A')!));
});

test('ADR 0043 mount: a pinned-mode mount over cache_l2_max evicts nothing; what does not fit is read from canonical, uncached', async () => {
  const reader = await mountWithOwnCache(h, 'pinned', `cache_mode=pinned,cache_l1_max=0,cache_l2_max=${2 * ENTRY}`);
  mounts.push(reader);
  assert.equal((await poolStats(h, reader.cacheDir)).mode, 'pinned', 'the policy allows pinned mode');
  await insert(reader, 'A', 'A');
  await insert(reader, 'B', 'AB');
  for (const n of ['C', 'D', 'E']) {
    assert.equal(await readThrough(join(reader.mount.path, n)), chunkId(files.get(n)!), `${n}: right bytes although the pool is full`);
  }
  const s = await poolStats(h, reader.cacheDir);
  assert.equal(await onDisk(reader.cacheDir), 'AB', 'the pinned entries stay, nothing else was cached');
  assert.equal(s.l2_evictions, 0, 'nothing evicted');
  assert.equal(s.errors, 0, 'a full pinned pool is not an error for reads');
  for (const n of ['A', 'B']) {
    assert.ok(await holdsValidEntry((await l2Files(reader.cacheDir)).get(chunkId(files.get(n)!))!, files.get(n)!), `${n} intact`);
  }
});

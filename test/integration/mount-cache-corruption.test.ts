// I-CC7 through a real mount over a real kiseki-node: a damaged L2 entry (a flipped plaintext byte, a
// flipped CRC trailer byte, a truncated file) never yields wrong bytes. The read is served from
// canonical, the entry is dropped and cached afresh, and the pool counts an error. The reader mount
// runs with cache_l1_max=0, so every read of a cached chunk really goes to its L2 file.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { open, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bash, startMountHarness, type MountHarness } from './mount-harness.js';
import { MiB, chunkId, holdsValidEntry, l2Files, mountWithOwnCache, poolStats, readThrough, until, type CacheMount } from './mount-cache-fixtures.js';

const harnesses: MountHarness[] = [];
const mounts: CacheMount[] = [];
after(async () => {
  for (const m of mounts) await m.cleanup().catch(() => undefined);
  await Promise.all(harnesses.map((h) => h.close()));
});

async function flipByte(path: string, at: (size: number) => number): Promise<void> {
  const f = await open(path, 'r+');
  try {
    const pos = at((await f.stat()).size);
    const { buffer } = await f.read({ buffer: Buffer.alloc(1), position: pos });
    await f.write(Buffer.of(buffer[0]! ^ 0xff), 0, 1, pos);
  } finally {
    await f.close();
  }
}

test('I-CC7 mount: a corrupt L2 entry (plaintext flipped, CRC trailer flipped, truncated) is read from canonical, dropped, cached afresh and counted', async () => {
  const h = await startMountHarness();
  harnesses.push(h);
  const writer = await h.mount('w', ['-o', 'chunk_size=1M']);
  const reader = await mountWithOwnCache(h, 'r', 'cache_l1_max=0');
  mounts.push(reader);

  const src = randomBytes(4 * MiB + 4321);
  const slices = [0, 1, 2, 3, 4].map((i) => src.subarray(i * MiB, Math.min((i + 1) * MiB, src.length)));
  const ids = slices.map(chunkId);
  const want = createHash('sha256').update(src).digest('hex');
  await writeFile(join(h.dir, 'src.bin'), src);
  await bash(`cp '${h.dir}/src.bin' '${writer.path}/f.bin'`);
  const file = join(reader.mount.path, 'f.bin');

  assert.equal(await readThrough(file), want, 'first read (canonical) returns the file');
  assert.ok(await until(async () => (await l2Files(reader.cacheDir)).size === 5, 15_000), 'the first read put all five chunks into L2');
  const files = await l2Files(reader.cacheDir);
  assert.deepEqual([...files.keys()].sort(), [...ids].sort(), 'L2 holds exactly the file\'s chunks');

  // The L2 path is the one taken: with L1 off a re-read is all L2 hits, no misses, no L1 hits.
  const s0 = await poolStats(h, reader.cacheDir);
  assert.equal(await readThrough(file), want);
  const s1 = await poolStats(h, reader.cacheDir);
  assert.ok(s1.l2_hits >= s0.l2_hits + 5, `every chunk was an L2 hit: ${s0.l2_hits} → ${s1.l2_hits}`);
  assert.equal(s1.misses, s0.misses, 'nothing went to canonical');
  assert.equal(s1.l1_hits, 0, 'L1 is off');
  assert.equal(s1.errors, s0.errors);

  const damages: { what: string; chunk: number; damage: (path: string) => Promise<void> }[] = [
    { what: 'a flipped plaintext byte', chunk: 1, damage: (p) => flipByte(p, () => 12_345) },
    { what: 'a flipped CRC trailer byte', chunk: 2, damage: (p) => flipByte(p, (size) => size - 3) },
    { what: 'a truncated file', chunk: 4, damage: (p) => truncate(p, 1000) },
  ];
  for (const d of damages) {
    const path = files.get(ids[d.chunk]!)!;
    await d.damage(path);
    assert.equal(await holdsValidEntry(path, slices[d.chunk]!), false, `${d.what}: the entry is damaged on disk`);
    const before = await poolStats(h, reader.cacheDir);
    assert.equal(await readThrough(file), want, `${d.what}: the read returns the right bytes`);
    const afterRead = await poolStats(h, reader.cacheDir);
    assert.ok(afterRead.errors >= before.errors + 1, `${d.what}: an error is counted (${before.errors} → ${afterRead.errors})`);
    assert.ok(afterRead.misses >= before.misses + 1, `${d.what}: the chunk was read from canonical`);
    assert.ok(await until(() => holdsValidEntry(path, slices[d.chunk]!), 10_000), `${d.what}: the entry was replaced by a valid one`);
    for (const [i, id] of ids.entries()) {
      assert.ok(await holdsValidEntry(files.get(id)!, slices[i]!), `${d.what}: chunk ${i} is intact in L2 afterwards`);
    }
  }

  // And once replaced, the entries serve hits again without errors.
  const s2 = await poolStats(h, reader.cacheDir);
  assert.equal(await readThrough(file), want);
  const s3 = await poolStats(h, reader.cacheDir);
  assert.equal(s3.errors, s2.errors, 'no error once the entries are replaced');
  assert.equal(s3.misses, s2.misses, 'all hits again');
});

// Cache modes through real mounts: bypass keeps no pool on disk; organic fills L2 with 0600 files
// that hold exactly plaintext + CRC32 trailer (I-CC13).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { crc32 } from '../../src/crypto/crc32.js';
import { bash, startMountHarness, type MountHarness } from './mount-harness.js';
import { chunkId, l2Files, mountWithOwnCache, poolStats, until } from './mount-cache-fixtures.js';

const TENANT = '00000000-0000-0000-0000-000000000001';
const harnesses: MountHarness[] = [];
after(async () => { await Promise.all(harnesses.map((h) => h.close())); });

async function filesUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else out.push(p);
  }
  return out;
}

test('bypass mount: reads and writes work and no cache pool or chunk file is ever created', async () => {
  const h = await startMountHarness();
  harnesses.push(h);
  const w = await h.mount('w', ['-o', 'chunk_size=1M,cache_mode=bypass']);
  const r = await h.mount('r', ['-o', 'chunk_size=1M,cache_mode=bypass']);
  await bash(`head -c 2500000 /dev/urandom > '${h.dir}/src.bin' && cp '${h.dir}/src.bin' '${w.path}/f.bin' && cmp '${h.dir}/src.bin' '${r.path}/f.bin'`);
  assert.deepEqual(await filesUnder(h.env.KISEKI_CACHE_DIR!), [], 'bypass leaves nothing under the cache dir');
});

test('I-CC13 organic mount: each L2 file is the chunk plaintext followed by its CRC32 (LE), mode 0600', async () => {
  const h = await startMountHarness();
  harnesses.push(h);
  const w = await h.mount('w', ['-o', 'chunk_size=1M']);
  const r = await h.mount('r', ['-o', 'chunk_size=1M']);
  await bash(`head -c 2500000 /dev/urandom > '${h.dir}/src.bin' && cp '${h.dir}/src.bin' '${w.path}/f.bin' && cmp '${h.dir}/src.bin' '${r.path}/f.bin'`);
  const src = await readFile(join(h.dir, 'src.bin'));
  const slices = [src.subarray(0, 1 << 20), src.subarray(1 << 20, 2 << 20), src.subarray(2 << 20)];
  const listChunkFiles = async () => (await filesUnder(join(h.env.KISEKI_CACHE_DIR!, TENANT))).filter((f) => /\/chunks\/[0-9a-f]{2}\/[0-9a-f]{64}$/.test(f));
  // Two pools: the reader caches the three chunks it fetched, the writer only the partial third chunk
  // it sealed (full chunks it writes stay in L1: next test). The L2 writes finish in the background,
  // after the reads that caused them.
  await until(async () => (await listChunkFiles()).length >= 4, 10_000);
  const chunkFiles = await listChunkFiles();
  assert.equal(chunkFiles.length, 4, 'the reader cached three chunks, the writer its partial one');
  assert.equal(new Set(chunkFiles.map((f) => f.slice(-64))).size, 3, 'three distinct chunks');
  for (const f of chunkFiles) {
    const bytes = await readFile(f);
    const plain = bytes.subarray(0, bytes.length - 4);
    assert.equal(bytes.readUInt32LE(bytes.length - 4), crc32(plain), `${f}: trailer is CRC32 of the plaintext`);
    const id = createHash('sha256').update(plain).digest('hex');
    assert.ok(f.endsWith(id), 'named by its content address (I-CC1)');
    assert.ok(slices.some((s) => s.equals(plain)), 'holds exactly one chunk of the file');
    assert.equal((await stat(f)).mode & 0o777, 0o600);
  }
});

test('organic mount: full chunks a mount writes are cached neither in L1 nor in its L2 pool unless -o cache_large_write', async () => {
  const h = await startMountHarness();
  harnesses.push(h);
  const plain = await mountWithOwnCache(h, 'plain', 'meta_ttl_ms=1000');
  const large = await mountWithOwnCache(h, 'large', 'meta_ttl_ms=1000,cache_large_write');
  try {
    await bash(`head -c 2500000 /dev/urandom > '${h.dir}/src.bin' && cp '${h.dir}/src.bin' '${plain.mount.path}/a.bin' && cp '${h.dir}/src.bin' '${large.mount.path}/b.bin'`);
    const src = await readFile(join(h.dir, 'src.bin'));
    const tail = src.length - (2 << 20);
    const ids = [src.subarray(0, 1 << 20), src.subarray(1 << 20, 2 << 20), src.subarray(2 << 20)].map(chunkId);
    assert.ok(await until(async () => (await l2Files(large.cacheDir)).size === 3, 10_000), 'cache_large_write: all three chunks in L2');
    assert.ok(await until(async () => (await l2Files(plain.cacheDir)).size >= 1, 10_000));
    assert.ok((await poolStats(h, large.cacheDir)).l1_bytes >= src.length, 'cache_large_write: all three chunks in L1');
    assert.equal((await poolStats(h, plain.cacheDir)).l1_bytes, tail, 'default: only the partial tail chunk in L1');
    // The other mount's L2 writes of the same chunks, started later, are done by now; and a full
    // chunk written through would have had all that time to land.
    assert.deepEqual([...(await l2Files(plain.cacheDir)).keys()], [ids[2]], 'default: only the partial tail chunk in L2');
    // Read back: the full chunks come from the node, byte for byte.
    await bash(`cmp '${h.dir}/src.bin' '${plain.mount.path}/a.bin'`);
  } finally {
    await plain.cleanup();
    await large.cleanup();
  }
});

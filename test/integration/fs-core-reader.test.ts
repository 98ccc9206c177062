// The read path's plaintext lives in one place: the cache. Against a real kiseki-node, in process:
// own writes and re-reads are L1 hits (counted), reads lease the cache's pages instead of copying,
// and in bypass mode nothing fetched outlives the requests that use it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import type { KisekiFileSystem } from '../../src/client/filesystem.js';
import type { MountSession } from '../../src/client/mount-session.js';
import { startCore, type CoreHarness } from './fs-core-harness.js';

const MiB = 1 << 20;
const who = { uid: 1000, gid: 1000 };

let h: CoreHarness;
before(async () => { h = await startCore(); });
after(async () => h.close());

async function writeFile_(f: KisekiFileSystem, name: string, data: Buffer): Promise<number> {
  const { attr, file } = await f.create(1, Buffer.from(name), 0o644, fsc.O_RDWR | fsc.O_CREAT, who);
  for (let off = 0; off < data.length; off += 256 * 1024) await f.write(file.fh, off, data.subarray(off, off + 256 * 1024));
  await f.release(file.fh);
  return attr.ino;
}

// Full chunks a mount writes are cached only with cache_large_write (ADR 0046); partial ones always.
test('L1 is the hot cache: re-reading this process\'s own writes (cache_large_write) is an L1 hit, counted, and never fetched', async () => {
  const ms: MountSession = await h.open('reader-l1', ['chunk_size=1M', 'cache_large_write']);
  const data = randomBytes(2 * MiB + 100);
  const ino = await writeFile_(ms.fs, 'own.bin', data);
  const hitsBefore = ms.cache.stats().l1_hits;
  const file = await ms.fs.open(ino, fsc.O_RDONLY);
  const parts: Buffer[] = [];
  for (let off = 0; off < data.length; off += 128 * 1024) parts.push(await ms.fs.read(file.fh, off, 128 * 1024));
  await ms.fs.release(file.fh);
  assert.ok(Buffer.concat(parts).equals(data), 'the bytes read are the bytes written');
  assert.equal(ms.fs.reader.stats.fetched, 0, 'nothing was fetched from the node');
  assert.ok(ms.cache.stats().l1_hits - hitsBefore >= 17, `L1 hits counted: ${ms.cache.stats().l1_hits - hitsBefore}`);
});

test('a read lease is a view of the L1 page (no copy); a wipe while it is held zeroes the page only on release (I-CC2)', async () => {
  const ms = await h.open('reader-lease', ['chunk_size=1M', 'cache_large_write']);
  const data = randomBytes(MiB);
  const ino = await writeFile_(ms.fs, 'lease.bin', data);
  const file = await ms.fs.open(ino, fsc.O_RDONLY);
  const a = await ms.fs.readLease(file.fh, 4096, 8192);
  const b = await ms.fs.readLease(file.fh, 0, 4096);
  assert.equal(a.data.buffer, b.data.buffer, 'both leases view the same cached page');
  assert.ok(a.data.equals(data.subarray(4096, 12288)));
  await ms.cache.wipe('manual');
  assert.ok(a.data.equals(data.subarray(4096, 12288)), 'held bytes stay intact through the wipe');
  a.release();
  assert.ok(b.data.equals(data.subarray(0, 4096)), 'one release does not pull the page from the other reader');
  b.release();
  assert.ok(a.data.every((x) => x === 0) && b.data.every((x) => x === 0), 'the last release zeroed the page');
  await ms.fs.release(file.fh);
});

test('bypass keeps no plaintext beyond the requests: one shared fetch, zeroed on the last release, no prefetch', async () => {
  const writer = await h.open('reader-bypass', ['chunk_size=1M']);
  const data = randomBytes(3 * MiB);
  const ino = await writeFile_(writer.fs, 'b.bin', data);
  const ms = await h.open('reader-bypass', ['chunk_size=1M', 'cache_mode=bypass']);
  const file = await ms.fs.open(ino, fsc.O_RDONLY);
  const [x, y] = await Promise.all([ms.fs.readLease(file.fh, 0, 128 * 1024), ms.fs.readLease(file.fh, 128 * 1024, 128 * 1024)]);
  assert.equal(ms.fs.reader.stats.fetched, 1, 'two requests for one chunk share one fetch');
  assert.ok(x.data.equals(data.subarray(0, 128 * 1024)) && y.data.equals(data.subarray(128 * 1024, 256 * 1024)));
  x.release();
  assert.ok(y.data.equals(data.subarray(128 * 1024, 256 * 1024)), 'still valid for the request that holds it');
  y.release();
  assert.ok(x.data.every((v) => v === 0) && y.data.every((v) => v === 0), 'zeroed once no request holds it');
  for (let off = 256 * 1024; off < 2 * MiB; off += 128 * 1024) (await ms.fs.readLease(file.fh, off, 128 * 1024)).release();
  assert.equal(ms.fs.reader.stats.prefetched, 0, 'bypass: nothing is read ahead into memory');
  // 6 more requests in chunk 0 and 8 in chunk 1: with no cache, no plaintext is kept between requests.
  assert.equal(ms.fs.reader.stats.fetched, 1 + 6 + 8, 'every request fetches: nothing was kept between requests');
  await ms.fs.release(file.fh);
});

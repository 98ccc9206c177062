// listDirectory against a model of the node's paging (entries in name_key order, resumed strictly
// after the cursor, at most `limit` per page): every entry exactly once, in order, however the keys
// are spread, and in fewer sequential round trips than page after page for large directories.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { keyAt, keyFraction, listDirectory, type PageFetch } from '../../src/client/dir-listing.js';
import type { DirEntry } from '../../src/gen/kiseki/v1/namespace.js';

const PAGE = 64;

function node(keys: Buffer[], opts: { cookie?: (k: Buffer) => Buffer } = {}) {
  const sorted = [...keys].sort(Buffer.compare);
  const calls: Array<{ cursor: Buffer; limit: number }> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const fetch: PageFetch = async (cursor, limit) => {
    calls.push({ cursor, limit });
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((r) => setImmediate(r));
    inFlight--;
    assert.ok(limit > 0 && limit <= PAGE, `limit ${limit}`);
    // Opaque cookies are resolved back to the entry they name, as a node with its own cookies would.
    const after = opts.cookie === undefined ? cursor : sorted.find((k) => opts.cookie!(k).equals(cursor)) ?? Buffer.alloc(0);
    const from = sorted.findIndex((k) => Buffer.compare(k, after) > 0);
    const page = from < 0 ? [] : sorted.slice(from, from + limit);
    const entries: DirEntry[] = page.map((k) => ({ nameKey: k, sealedName: undefined, attr: undefined, cookie: opts.cookie?.(k) ?? k }));
    return { entries, eof: from < 0 || from + limit >= sorted.length };
  };
  return { fetch, calls, sorted, maxInFlight: () => maxInFlight };
}

const keyN = (i: number, salt = '') => createHash('sha256').update(`${salt}${i}`).digest();

test('every entry exactly once and in name_key order, for any size and any spread of keys', async () => {
  await fc.assert(fc.asyncProperty(
    fc.integer({ min: 0, max: 1500 }), fc.constantFrom('uniform', 'low', 'high', 'clustered'), fc.string(),
    async (n, spread, salt) => {
      const keys = Array.from({ length: n }, (_, i) => {
        const k = keyN(i, salt);
        if (spread === 'low') k[0] = 0;
        if (spread === 'high') k[0] = 0xff;
        if (spread === 'clustered') k.fill(7, 0, 5);
        return k;
      });
      const m = node(keys);
      const seen: Buffer[] = [];
      const r = await listDirectory(m.fetch, { pageSize: PAGE, maxEntries: Infinity, maxRanges: 4, onPage: (p) => seen.push(...p.map((e) => e.nameKey)) });
      assert.equal(r.complete, true);
      assert.deepEqual(r.entries.map((e) => e.nameKey), m.sorted);
      assert.deepEqual(seen.sort(Buffer.compare), m.sorted, 'onPage saw each entry once');
    }), { numRuns: 120 });
});

test('a large directory takes two sequential rounds (first page, then its ranges at once), not one per page', async () => {
  const m = node(Array.from({ length: 10 * PAGE }, (_, i) => keyN(i)));
  const r = await listDirectory(m.fetch, { pageSize: PAGE, maxEntries: Infinity, maxRanges: 4 });
  assert.equal(r.entries.length, 10 * PAGE);
  assert.ok(m.maxInFlight() >= 3, `ranges fetched at once (${m.maxInFlight()} in flight)`);
});

test('cookies that are not the name keys are followed page by page; maxEntries stops early (incomplete)', async () => {
  const keys = Array.from({ length: 5 * PAGE }, (_, i) => keyN(i));
  const opaque = node(keys, { cookie: (k) => createHash('md5').update(k).digest() });
  const r = await listDirectory(opaque.fetch, { pageSize: PAGE, maxEntries: Infinity, maxRanges: 4 });
  assert.deepEqual(r.entries.map((e) => e.nameKey), opaque.sorted);
  assert.equal(opaque.maxInFlight(), 1);
  const capped = await listDirectory(node(keys).fetch, { pageSize: PAGE, maxEntries: 2 * PAGE, maxRanges: 4 });
  assert.equal(capped.complete, false);
  assert.ok(capped.entries.length >= 2 * PAGE);
});

test('keyAt and keyFraction map the key space to [0, 1) and back, in order', () => {
  assert.equal(keyFraction(keyAt(0.25)), 0.25);
  assert.ok(Buffer.compare(keyAt(0.1), keyAt(0.2)) < 0);
  assert.equal(keyAt(0.999999999999).length, 32);
});

test('the ranges after the first page are asked for before the first page is handed to onPage (its handler does not delay them)', async () => {
  const m = node(Array.from({ length: 10 * PAGE }, (_, i) => keyN(i, 'order')));
  let askedWhenFirstSeen = -1;
  await listDirectory(m.fetch, {
    pageSize: PAGE, maxEntries: Infinity, maxRanges: 4,
    onPage: () => { if (askedWhenFirstSeen < 0) askedWhenFirstSeen = m.calls.length; },
  });
  assert.ok(askedWhenFirstSeen >= 3, `${askedWhenFirstSeen} pages asked for when the first one was handed on`);
});

test('with opaque cookies the first page has firstPage entries and each next page twice the one before, up to pageSize; pages are handed on in order', async () => {
  const keys = Array.from({ length: 6 * PAGE }, (_, i) => keyN(i, 'grow'));
  const opaque = node(keys, { cookie: (k) => createHash('md5').update(k).digest() });
  const seen: Buffer[] = [];
  const r = await listDirectory(opaque.fetch, { pageSize: PAGE, firstPage: 8, maxEntries: Infinity, maxRanges: 4, onPage: (p) => seen.push(...p.map((e) => e.nameKey)) });
  assert.deepEqual(opaque.calls.map((c) => c.limit).slice(0, 5), [8, 16, 32, 64, 64]);
  assert.deepEqual(r.entries.map((e) => e.nameKey), opaque.sorted);
  assert.deepEqual(seen, opaque.sorted, 'onPage saw the pages in listing order');
});

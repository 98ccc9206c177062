import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/cache/clock.js';
import { MetaCache } from '../../src/cache/meta-cache.js';
import { DentryCache, PinnedMap, PREFETCH_AFTER_MISSES, type DentryMirror } from '../../src/client/dentry-cache.js';
import { FileKind, type Attr } from '../../src/gen/kiseki/v1/namespace.js';

const key = (s: string) => Buffer.alloc(32, s);

function attr(ino: number, size = 0): Attr {
  return {
    ino, kind: FileKind.FILE_KIND_REGULAR, mode: 0o644, uid: 0, gid: 0, size, nlink: 1, atime: undefined, mtime: undefined,
    ctime: undefined, generation: 1, chunkSize: 1 << 20,
  };
}

function cache(ttlMs: number, clock: ManualClock): DentryCache {
  return new DentryCache(
    new MetaCache<string, number>({ ttlMs, clock }), new MetaCache<number, Attr>({ ttlMs, clock }),
    new MetaCache<number, Set<string>>({ ttlMs, clock }),
  );
}

test('I-CC3: a fetched entry is served with its age inside the TTL and never after it', () => {
  const clock = new ManualClock();
  const d = cache(1000, clock);
  d.fetched(1, key('a'), attr(5, 10), d.begin());
  clock.advance(400);
  const hit = d.lookup(1, key('a'));
  assert.equal(hit.kind, 'entry');
  assert.equal(hit.kind === 'entry' ? hit.ageMs : -1, 400, 'the age lets the kernel keep it only for the rest of the TTL');
  assert.equal(hit.kind === 'entry' ? hit.attr.size : -1, 10);
  clock.advance(601);
  assert.equal(d.lookup(1, key('a')).kind, 'miss');
  assert.equal(d.attr(5), null);
});

test('I-CC5: a complete listing answers absent names (cached ENOENT) only within the TTL', () => {
  const clock = new ManualClock();
  const d = cache(1000, clock);
  d.listing(1, [{ nameKey: key('a'), attr: attr(5) }], true, d.begin());
  clock.advance(999);
  const absent = d.lookup(1, key('b'));
  assert.deepEqual(absent, { kind: 'absent', ageMs: 999 });
  clock.advance(2);
  assert.equal(d.lookup(1, key('b')).kind, 'miss');
  d.listing(2, [{ nameKey: key('a'), attr: attr(6) }], false, d.begin());
  assert.equal(d.lookup(2, key('b')).kind, 'miss', 'a partial listing proves nothing about other names');
});

test('I-CC3: own creates, removals and attribute changes are written through at once', () => {
  const clock = new ManualClock();
  const d = cache(1000, clock);
  d.listing(1, [{ nameKey: key('a'), attr: attr(5) }], true, d.begin());
  d.added(1, key('n'), attr(9, 3));
  const made = d.lookup(1, key('n'));
  assert.equal(made.kind === 'entry' ? made.attr.ino : -1, 9, 'an own create is visible, not a cached ENOENT');
  d.removed(1, key('a'));
  assert.equal(d.lookup(1, key('a')).kind, 'absent', 'an own unlink is a cached ENOENT in a listed directory');
  assert.equal(d.attr(5), null, 'the unlinked inode\'s nlink changed: its attributes are dropped');
  d.changed(9, attr(9, 77));
  assert.equal(d.attr(9)?.attr.size, 77);
  d.changed(9);
  assert.equal(d.attr(9), null);
  d.renamed(1, key('n'), 1, key('m'));
  assert.equal(d.lookup(1, key('m')).kind, 'miss', 'after a rename the directory listing is no longer trusted');
});

test('I-CC5: a slow fetch is aged from when it started, not from when it was stored', () => {
  const clock = new ManualClock();
  const d = cache(1000, clock);
  const t = d.begin();
  clock.advance(700); // the listing took 700 ms
  d.listing(1, [{ nameKey: key('a'), attr: attr(5) }], true, t);
  const hit = d.lookup(1, key('a'));
  assert.equal(hit.kind === 'entry' ? hit.ageMs : -1, 700);
  clock.advance(301);
  assert.equal(d.lookup(1, key('a')).kind, 'miss');
  assert.equal(d.lookup(1, key('b')).kind, 'miss');
});

test('a fetch that raced with an own change is not stored', () => {
  const clock = new ManualClock();
  const d = cache(1000, clock);
  const before = d.begin();
  d.changed(5);
  d.fetched(1, key('a'), attr(5, 1), before);
  d.fetchedAttr(attr(5, 1), before);
  d.listing(1, [{ nameKey: key('a'), attr: attr(5, 1) }], true, before);
  assert.equal(d.lookup(1, key('a')).kind, 'miss');
  assert.equal(d.attr(5), null);
});

test('an unlink of an entry the cache never saw drops every cached attribute (hard links keep nlink right)', () => {
  const clock = new ManualClock();
  const d = cache(1000, clock);
  d.fetchedAttr(attr(7), d.begin());
  d.removed(1, key('z'));
  assert.equal(d.attr(7), null);
});

test('the directory is listed ahead after a run of lookup misses, once per listing', () => {
  const d = cache(1000, new ManualClock());
  const fired: boolean[] = [];
  for (let i = 0; i < PREFETCH_AFTER_MISSES + 3; i++) fired.push(d.noteMiss(1));
  assert.equal(fired.filter(Boolean).length, 1);
  assert.equal(fired.indexOf(true), PREFETCH_AFTER_MISSES - 1);
  d.listing(1, [], true, d.begin());
  assert.equal(d.noteMiss(1), false, 'the count restarts after a listing');
});

test('a listing past half its TTL is due for a background refresh; a single fetched entry is not', () => {
  const clock = new ManualClock();
  const d = cache(1000, clock);
  d.listing(1, [{ nameKey: key('a'), attr: attr(5) }], true, d.begin());
  d.fetched(2, key('b'), attr(6), d.begin());
  clock.advance(500);
  assert.equal(d.refreshDue(1, 500), false);
  clock.advance(1);
  assert.equal(d.refreshDue(1, 501), true);
  assert.equal(d.refreshDue(2, 501), false);
});

test('a listing that took a quarter of the TTL or more is not refreshed in the background (it would arrive already old)', () => {
  const clock = new ManualClock();
  const d = cache(1000, clock);
  const t = d.begin();
  clock.advance(250);
  d.listing(1, [{ nameKey: key('a'), attr: attr(5) }], true, t);
  clock.advance(300);
  assert.equal(d.refreshDue(1, 550), false);
  const fast = d.begin();
  clock.advance(249);
  d.listing(1, [{ nameKey: key('a'), attr: attr(5) }], true, fast);
  clock.advance(300);
  assert.equal(d.refreshDue(1, 549), true);
});

test('ttl 0 caches nothing and never asks for a listing ahead of lookups', () => {
  const d = cache(0, new ManualClock());
  d.fetched(1, key('a'), attr(5), d.begin());
  d.listing(1, [], true, d.begin());
  assert.equal(d.lookup(1, key('a')).kind, 'miss');
  assert.equal(d.lookup(1, key('b')).kind, 'miss');
  for (let i = 0; i < 4 * PREFETCH_AFTER_MISSES; i++) assert.equal(d.noteMiss(1), false);
});

/** The name a test key stands for: key('a') → 'a'. */
const nameOf = (nameKey: Buffer) => String.fromCharCode(nameKey[0]!);

/** A DentryMirror that records what it holds (by the names the test keys stand for), with deadlines on the same manual clock. */
class RecordingMirror implements DentryMirror {
  readonly names = new Map<string, { ino: number; until: number }>();
  readonly attrs = new Map<number, { size: number; until: number }>();
  readonly pinned = new Set<number>();
  constructor(private readonly clock: ManualClock) {}
  put(parent: number, entries: ReadonlyArray<{ nameKey: Buffer | null; attr: Attr }>, validMs: number): void {
    for (const e of entries) {
      if (this.pinned.has(e.attr.ino)) continue;
      if (e.nameKey !== null) this.names.set(`${parent}/${nameOf(e.nameKey)}`, { ino: e.attr.ino, until: this.clock.now() + validMs });
      this.attrs.set(e.attr.ino, { size: e.attr.size, until: this.clock.now() + validMs });
    }
  }
  dropName(parent: number, nameKey: Buffer): void {
    const n = this.names.get(`${parent}/${nameOf(nameKey)}`);
    this.names.delete(`${parent}/${nameOf(nameKey)}`);
    this.attrs.delete(parent);
    if (n === undefined) this.attrs.clear();
    else this.attrs.delete(n.ino);
  }
  dropAttr(ino: number): void {
    this.attrs.delete(ino);
  }
  pin(ino: number, on: boolean): void {
    if (on) {
      this.pinned.add(ino);
      this.attrs.delete(ino);
    } else this.pinned.delete(ino);
  }
}

test('I-CC5 what the mirror gets is valid only for what remains of the TTL from the start of its fetch', () => {
  const clock = new ManualClock();
  const d = cache(1000, clock);
  const m = new RecordingMirror(clock);
  d.attachMirror(m, []);
  const t = d.begin();
  clock.advance(300); // a slow fetch
  d.fetched(1, key('a'), attr(5, 1), t);
  assert.equal(m.names.get('1/a')?.until, 1000, 'deadline = fetch start + TTL, not store time + TTL');
  const listed = d.begin();
  clock.advance(200);
  d.listingPage(2, [{ nameKey: key('b'), attr: attr(6) }], listed);
  assert.equal(m.names.get('2/b')?.until, 1300);
  clock.advance(50);
  d.listingPage(2, [{ nameKey: key('c'), attr: attr(7) }], listed);
  assert.equal(m.names.get('2/c')?.until, 1300, 'a later page keeps the listing\'s deadline');
  d.listing(3, [{ nameKey: key('d'), attr: attr(8) }], true, d.begin());
  assert.equal(m.names.has('3/d'), false, 'a READDIRPLUS listing is not mirrored (the kernel keeps its entries)');
  clock.advance(350);
  const hit = d.lookup(2, key('b'));
  assert.equal(hit.kind, 'entry');
  d.served(2, key('b'), attr(6), hit.kind === 'entry' ? hit.ageMs : 0);
  assert.equal(m.names.get('2/b')?.until, 1300, 'a hit served again is mirrored with the same deadline');
});

test('I-CC3 own changes drop mirrored names and attributes; a fetch that raced one is not mirrored', () => {
  const clock = new ManualClock();
  const d = cache(1000, clock);
  const m = new RecordingMirror(clock);
  d.attachMirror(m, []);
  const t = d.begin();
  const hexes = d.listingPage(1, ['a', 'b', 'c'].map((x, i) => ({ nameKey: key(x), attr: attr(10 + i) })), t);
  d.listingEnd(1, hexes, true, t);
  d.fetchedAttr(attr(1), d.begin());
  d.removed(1, key('a'));
  assert.equal(m.names.has('1/a'), false);
  assert.equal(m.attrs.has(10), false, 'the unlinked inode\'s nlink changed');
  assert.equal(m.attrs.has(1), false, 'the directory\'s mtime changed');
  d.renamed(1, key('b'), 1, key('z'));
  assert.equal(m.names.has('1/b'), false);
  d.changed(12);
  assert.equal(m.attrs.has(12), false);
  d.added(1, key('n'), attr(20, 4));
  assert.equal(m.names.get('1/n')?.ino, 20, 'an own create is answered at once');
  const raced = d.begin();
  d.changed(12);
  d.fetched(1, key('c'), attr(12, 99), raced);
  d.listingPage(1, [{ nameKey: key('c'), attr: attr(12, 99) }], raced);
  assert.equal(m.attrs.has(12), false, 'a fetch that raced an own change is not mirrored');
});

test('PinnedMap pins the inodes of open files in the mirror (never answered there) and unpins them when they go', () => {
  const clock = new ManualClock();
  const d = cache(1000, clock);
  const m = new RecordingMirror(clock);
  const states = new PinnedMap<string>(d);
  states.set(5, 'open before the mount');
  d.attachMirror(m, states.keys());
  assert.ok(m.pinned.has(5), 'inodes open before the mirror was attached are pinned');
  states.set(6, 'open');
  d.fetched(1, key('f'), attr(6, 1), d.begin());
  assert.equal(m.attrs.has(6), false);
  states.delete(6);
  assert.equal(m.pinned.has(6), false);
  d.fetched(1, key('f'), attr(6, 1), d.begin());
  assert.equal(m.attrs.get(6)?.size, 1);
});

// The client's dentry/attribute cache in process against a real kiseki-node: a walk over a
// directory's names is answered from one listing (the node can even be down), absent names are a
// cached ENOENT, another client's change shows after meta_ttl_ms, own changes show at once.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { constants as fsc } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { KisekiError } from '../../src/errors.js';
import { PREFETCH_AFTER_MISSES } from '../../src/client/dentry-cache.js';
import type { KisekiFileSystem } from '../../src/client/filesystem.js';
import type { MountSession } from '../../src/client/mount-session.js';
import { startCore, type CoreHarness } from './fs-core-harness.js';
import type { NodeProcess } from '../helpers/node-process.js';

const who = { uid: 1000, gid: 1000 };
const n = (s: string) => Buffer.from(s);
const FILES = 40;

let h: CoreHarness;
/** The node as restarted by the first test (h.node is the killed one). */
let restarted: NodeProcess | null = null;

before(async () => {
  h = await startCore();
});
after(async () => {
  await restarted?.stop();
  await h.close();
});

async function makeDir(fs: KisekiFileSystem, name: string): Promise<number> {
  const dir = (await fs.mkdir(1, n(name), 0o755, who)).ino;
  for (let i = 0; i < FILES; i++) {
    const { file } = await fs.create(dir, n(`f${i}`), 0o644, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, who);
    await fs.release(file.fh);
  }
  return dir;
}

test('I-CC3 a lookup walk lists the directory once; the rest (and absent names) is answered without the node', async () => {
  const maker = await h.open('walk');
  const dir = await makeDir(maker.fs, 'd');
  const reader = (await h.open('walk', ['meta_ttl_ms=60000'])).fs;
  for (let i = 0; i < PREFETCH_AFTER_MISSES; i++) await reader.lookup(dir, n(`f${i}`));
  await reader.lookupAged(dir, n(`f${PREFETCH_AFTER_MISSES}`)); // waits for the listing the misses started
  await h.node.kill9();
  try {
    for (let i = 0; i < FILES; i++) {
      const e = await reader.lookupAged(dir, n(`f${i}`));
      assert.ok(e.attr !== null && e.attr.size === 0, `f${i} from the cache`);
      assert.ok(e.ageMs >= 0 && e.ageMs < 60000);
    }
    const absent = await reader.lookupAged(dir, n('nope'));
    assert.equal(absent.attr, null, 'a complete listing answers ENOENT');
    await assert.rejects(reader.lookup(dir, n('nope')), (e) => KisekiError.is(e, 'NotFound'));
    // ADR 0086: the listing opened no name; a readdir opens the sealed names it kept, with the node down.
    const listed = (await reader.readdir(dir)).map((e) => e.name.toString()).sort();
    assert.deepEqual(listed, Array.from({ length: FILES }, (_, i) => `f${i}`).sort());
  } finally {
    restarted = await h.node.restart();
  }
});

test('I-CC5 another client\'s create and write show after meta_ttl_ms; own writes show at once', async () => {
  const a = (await h.open('coherence', ['meta_ttl_ms=400'])).fs;
  const b = (await h.open('coherence')).fs;
  const dir = await makeDir(a, 'd');
  for (let i = 0; i < FILES; i++) await a.lookup(dir, n(`f${i}`));
  await a.readdir(dir);
  const { file } = await b.create(dir, n('late'), 0o644, fsc.O_WRONLY | fsc.O_CREAT, who);
  await b.write(file.fh, 0, Buffer.alloc(10, 1));
  await b.release(file.fh);
  const t0 = performance.now();
  let seen = await a.lookupAged(dir, n('late'));
  while (seen.attr === null) {
    assert.ok(performance.now() - t0 < 1000, 'visible once the 400 ms TTL ran out');
    await sleep(50);
    seen = await a.lookupAged(dir, n('late'));
  }
  assert.equal(seen.attr.size, 10);
  // Own write to a cached file: the size after close is the new one, not the cached 0.
  const f0 = await a.lookup(dir, n('f0'));
  const w = await a.open(f0.ino, fsc.O_WRONLY);
  await a.write(w.fh, 0, Buffer.alloc(1234, 7));
  await a.release(w.fh);
  assert.equal((await a.lookup(dir, n('f0'))).size, 1234);
  assert.equal((await a.getattr(f0.ino)).size, 1234);
  await a.unlink(dir, n('f1'));
  await assert.rejects(a.lookup(dir, n('f1')), (e) => KisekiError.is(e, 'NotFound'));
});

test('I-CC5 readdir within the TTL of a complete listing is answered from the cache, aged; own changes show at once, others\' after the TTL', async () => {
  const a = (await h.open('listing', ['meta_ttl_ms=1500'])).fs;
  const b = (await h.open('listing')).fs;
  const dir = await makeDir(a, 'd');
  const first = await a.readdirAged(dir);
  assert.equal(first.entries.length, FILES);
  const { file } = await b.create(dir, n('from-b'), 0o644, fsc.O_WRONLY | fsc.O_CREAT, who);
  await b.release(file.fh);
  const t0 = performance.now();
  const again = await a.readdirAged(dir);
  const names = again.entries.map((e) => e.name.toString());
  if (performance.now() - t0 < 1000) {
    assert.ok(!names.includes('from-b'), 'within the TTL the cached listing answers');
    assert.ok(again.ageMs >= 0 && again.ageMs <= 1500, `aged ${again.ageMs} ms`);
  }
  await a.unlink(dir, n('f0'));
  const { file: own } = await a.create(dir, n('from-a'), 0o644, fsc.O_WRONLY | fsc.O_CREAT, who);
  await a.release(own.fh);
  const mine = (await a.readdirAged(dir)).entries.map((e) => e.name.toString());
  assert.ok(mine.includes('from-a') && !mine.includes('f0'), 'own create and unlink show at once');
  await sleep(1600);
  const later = (await a.readdirAged(dir)).entries.map((e) => e.name.toString());
  assert.ok(later.includes('from-b'), 'another client\'s create shows once the TTL ran out');
  assert.equal(later.length, FILES + 1);
});

/** Holds every ReadDirPlus answer of `ms` (the node has already answered) until release() is called; counts the calls. */
function holdListings(ms: MountSession): { calls: () => number; release: () => void } {
  const ns = ms.session.namespace as unknown as Record<string, (req: unknown, opts?: unknown) => Promise<unknown>>;
  const real = ns.readDirPlus!;
  let calls = 0;
  let release!: () => void;
  const gate = new Promise<void>((ok) => { release = ok; });
  ns.readDirPlus = async (req, opts) => {
    calls++;
    const res = await real(req, opts);
    await gate;
    return res;
  };
  return { calls: () => calls, release };
}

test('I-CC3 own unlink, create and rename made while a prefetch listing is in flight are never undone by it', async () => {
  const ms = await h.open('race', ['meta_ttl_ms=60000']);
  const a = ms.fs;
  const dir = await makeDir(a, 'd');
  const held = holdListings(ms);
  for (let i = 0; i < PREFETCH_AFTER_MISSES; i++) await a.lookup(dir, n(`f${i}`));
  assert.equal(held.calls(), 1, 'the misses started one listing of the directory');
  // The node has listed f20, f21 and no 'new'; these own changes land before that listing is delivered.
  await a.unlink(dir, n('f20'));
  const { file } = await a.create(dir, n('new'), 0o644, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, who);
  await a.release(file.fh);
  await a.rename(dir, n('f21'), dir, n('f21b'), 0);
  const waiting = a.lookupAged(dir, n(`f${PREFETCH_AFTER_MISSES}`)); // waits for the listing
  held.release();
  assert.ok((await waiting).attr !== null);
  await assert.rejects(a.lookup(dir, n('f20')), (e) => KisekiError.is(e, 'NotFound'), 'own unlink stays');
  assert.equal((await a.lookup(dir, n('new'))).size, 0, 'own create is not answered ENOENT from the older listing');
  await assert.rejects(a.lookup(dir, n('f21')), (e) => KisekiError.is(e, 'NotFound'), 'renamed-away name stays gone');
  assert.ok((await a.lookup(dir, n('f21b'))).ino > 0);
  const names = (await a.readdir(dir)).map((e) => e.name.toString()).sort();
  assert.equal(names.length, FILES);
  assert.ok(names.includes('new') && names.includes('f21b') && !names.includes('f20') && !names.includes('f21'));
});

test('meta_ttl_ms=0 caches nothing: no listing ahead of lookups, another client\'s unlink shows at once', async () => {
  const ms = await h.open('ttl0', ['meta_ttl_ms=0']);
  const a = ms.fs;
  const b = (await h.open('ttl0')).fs;
  const dir = await makeDir(b, 'd');
  const held = holdListings(ms);
  held.release();
  for (let i = 0; i < FILES; i++) await a.lookup(dir, n(`f${i}`));
  assert.equal(held.calls(), 0, 'no prefetch listing with caching off');
  await b.unlink(dir, n('f3'));
  await assert.rejects(a.lookup(dir, n('f3')), (e) => KisekiError.is(e, 'NotFound'));
  const { file } = await b.create(dir, n('late'), 0o644, fsc.O_WRONLY | fsc.O_CREAT, who);
  await b.release(file.fh);
  assert.equal((await a.lookup(dir, n('late'))).size, 0);
  assert.equal((await a.lookupAged(dir, n('f4'))).ageMs, 0, 'every answer is fresh from the node');
});

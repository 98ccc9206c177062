// A listing ahead of lookups, page by page, against a real kiseki-node (which lists in creation
// order): a lookup waiting for the listing is answered as soon as the page holding its name is
// stored, never from a page that raced an own change, and never answered ENOENT from a listing that
// has not ended (ADR 0085). A lookup that waits wrongly hangs on a held page: each test has a timeout.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { constants as fsc } from 'node:fs';
import { setImmediate as tick } from 'node:timers/promises';
import { KisekiError } from '../../src/errors.js';
import { PREFETCH_AFTER_MISSES } from '../../src/client/dentry-cache.js';
import type { KisekiFileSystem } from '../../src/client/filesystem.js';
import type { MountSession } from '../../src/client/mount-session.js';
import { startCore, type CoreHarness } from './fs-core-harness.js';

const who = { uid: 1000, gid: 1000 };
const n = (s: string) => Buffer.from(s);
/** More than the listing's first page (256 entries): the rest comes in later pages. */
const FILES = 600;

let h: CoreHarness;
before(async () => {
  h = await startCore();
});
after(async () => {
  await h.close();
});

async function makeDir(fs: KisekiFileSystem, name: string): Promise<number> {
  const dir = (await fs.mkdir(1, n(name), 0o755, who)).ino;
  for (let i = 0; i < FILES; i += 50) {
    await Promise.all(Array.from({ length: 50 }, async (_v, j) => {
      const { file } = await fs.create(dir, n(`f${i + j}`), 0o644, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, who);
      await fs.release(file.fh);
    }));
  }
  return dir;
}

/** Holds each ReadDirPlus answer of `ms` (already given by the node) until its own release(i); records the asked limits. */
function holdPages(ms: MountSession): { limits: number[]; release: (i: number) => void; asked: (k: number) => Promise<void> } {
  const ns = ms.session.namespace as unknown as Record<string, (req: { limit: number }, opts?: unknown) => Promise<unknown>>;
  const real = ns.readDirPlus!;
  const limits: number[] = [];
  const gates: Array<{ open: Promise<void>; release: () => void }> = [];
  const gate = (i: number) => {
    while (gates.length <= i) {
      let release!: () => void;
      const open = new Promise<void>((ok) => { release = ok; });
      gates.push({ open, release });
    }
    return gates[i]!;
  };
  ns.readDirPlus = async (req, opts) => {
    const i = limits.push(req.limit) - 1;
    const res = await real(req, opts);
    await gate(i).open;
    return res;
  };
  return {
    limits,
    release: (i) => gate(i).release(),
    asked: async (k) => {
      for (let t = 0; limits.length < k; t++) {
        assert.ok(t < 100_000, `page ${k} never asked`);
        await tick();
      }
    },
  };
}

/** Whether `p` has settled after the event loop had a few turns. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(() => { done = true; }, () => { done = true; });
  for (let i = 0; i < 20; i++) await tick();
  return done;
}

/**
 * A directory `d` of namespace `ns` made by one mount, and a second mount (TTL 60 s) whose first
 * PREFETCH_AFTER_MISSES lookups in it started a listing whose pages are held back.
 */
async function listingHeldBack(ns: string): Promise<{ maker: KisekiFileSystem; dir: number; a: KisekiFileSystem; held: ReturnType<typeof holdPages> }> {
  const maker = (await h.open(ns)).fs;
  const dir = await makeDir(maker, 'd');
  const ms = await h.open(ns, ['meta_ttl_ms=60000']);
  const held = holdPages(ms);
  for (let i = 0; i < PREFETCH_AFTER_MISSES; i++) await ms.fs.lookup(dir, n(`f${i}`));
  return { maker, dir, a: ms.fs, held };
}

test('I-CC3 a lookup waiting for a listing is answered from its page while later pages are still held; a name in a later page waits for it', { timeout: 60_000 }, async () => {
  const { maker, dir, a, held } = await listingHeldBack('pages');
  assert.equal(held.limits.length, 1, 'the misses started one listing');
  assert.ok(held.limits[0]! < FILES, `the first page (${held.limits[0]}) is smaller than the directory`);
  const early = a.lookupAged(dir, n(`f${PREFETCH_AFTER_MISSES}`));
  const late = a.lookupAged(dir, n(`f${FILES - 1}`));
  assert.equal(await settled(early), false, 'nothing stored yet: the lookup waits');
  held.release(0);
  await held.asked(2);
  const e = await early;
  assert.equal(e.attr?.ino, (await maker.lookup(dir, n(`f${PREFETCH_AFTER_MISSES}`))).ino, 'answered from the first page with the node\'s inode');
  assert.equal(await settled(late), false, 'a name past the first page waits for its page');
  for (let i = 1; i < 8; i++) held.release(i);
  assert.equal((await late).attr?.ino, (await maker.lookup(dir, n(`f${FILES - 1}`))).ino);
});

test('I-CC3 a name absent from a listing is not answered ENOENT before the listing ends; after a complete listing it is', { timeout: 60_000 }, async () => {
  const { dir, a, held } = await listingHeldBack('absent');
  const nope = a.lookupAged(dir, n('nope'));
  held.release(0);
  await held.asked(2);
  assert.equal(await settled(nope), false, 'not absent from a partial listing');
  for (let i = 1; i < 8; i++) held.release(i);
  const r = await nope;
  assert.equal(r.attr, null);
  await assert.rejects(a.lookup(dir, n('also-nope')), (err) => KisekiError.is(err, 'NotFound'));
});

test('I-CC3 own create and unlink made between pages of a listing are never undone by its later pages', { timeout: 60_000 }, async () => {
  const { dir, a, held } = await listingHeldBack('racing');
  held.release(0);
  await held.asked(2);
  // The node has already made page 2 (with f590, without 'mine'); these own changes land before it is delivered.
  const { file } = await a.create(dir, n('mine'), 0o644, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, who);
  await a.release(file.fh);
  assert.equal((await a.lookup(dir, n('mine'))).size, 0, 'own create found while the listing runs');
  await a.unlink(dir, n('f590'));
  for (let i = 1; i < 8; i++) held.release(i);
  await assert.rejects(a.lookup(dir, n('f590')), (err) => KisekiError.is(err, 'NotFound'), 'own unlink stays');
  assert.equal((await a.lookup(dir, n('mine'))).size, 0, 'own create is not answered ENOENT from the older listing');
  assert.ok((await a.lookup(dir, n('f300'))).ino > 0, 'names of later pages are found (from the node, the pages not stored)');
});

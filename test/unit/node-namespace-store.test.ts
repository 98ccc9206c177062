// NamespaceStore in-process on a real SQLite file: a random storm of operations never breaks the
// tree's bookkeeping (I-N3), and tenants with the same namespace id never meet (I-N2).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { KisekiError } from '../../src/errors.js';
import { EncryptionAlgorithm, type Envelope } from '../../src/gen/kiseki/v1/chunk.js';
import { FileKind } from '../../src/gen/kiseki/v1/namespace.js';
import { openMetadataDb } from '../../src/node/metadata-db.js';
import { NamespaceStore } from '../../src/node/namespace-store.js';

const T1 = '11111111-1111-4111-8111-111111111111';
const T2 = '22222222-2222-4222-8222-222222222222';

const key = (parent: number, name: string) => createHash('sha256').update(`${parent}/${name}`).digest();
const sealedName = (parent: number): Envelope => ({
  ciphertext: randomBytes(5), authTag: randomBytes(16), nonce: randomBytes(12), algorithm: EncryptionAlgorithm.ENCRYPTION_ALGORITHM_AES_256_GCM,
  systemEpoch: { value: 1 }, tenantEpoch: undefined, tenantWrappedMaterial: Buffer.alloc(0), chunkId: { value: key(parent, 'n') },
});

function withStore(fn: (s: NamespaceStore, db: ReturnType<typeof openMetadataDb>) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'kiseki-ns-unit-'));
  const db = openMetadataDb(dir);
  try {
    fn(new NamespaceStore(db), db);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('I-N3 after a random storm of create/mkdir/link/unlink/rmdir/rename every link count matches the entries pointing at it', () => {
  withStore((s, db) => {
    s.open(T1, 'storm', true, 0);
    let seed = 42;
    const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
    const dirs = [1];
    const files: number[] = [];
    const names = ['a', 'b', 'c', 'd', 'e'];
    let ok = 0;
    for (let i = 0; i < 3000; i++) {
      const p = dirs[rnd(dirs.length)]!;
      const q = dirs[rnd(dirs.length)]!;
      const n1 = names[rnd(names.length)]!;
      const n2 = names[rnd(names.length)]!;
      const entry = { namespaceId: undefined, parent: p, nameKey: key(p, n1), sealedName: sealedName(p), mode: 0o755, uid: 0, gid: 0 };
      try {
        switch (rnd(7)) {
          case 0: files.push(s.create(T1, 'storm', { ...entry, exclusive: rnd(2) === 0, chunkSize: 0 }).ino); break;
          case 1: dirs.push(s.mkdir(T1, 'storm', entry).ino); break;
          case 2: s.link(T1, 'storm', { namespaceId: undefined, ino: files[rnd(files.length)] ?? 1, newParent: q, nameKey: key(q, n2), sealedName: sealedName(q) }); break;
          case 3: s.unlink(T1, 'storm', p, key(p, n1)); break;
          case 4: s.rmdir(T1, 'storm', p, key(p, n1)); break;
          default: s.rename(T1, 'storm', { namespaceId: undefined, parent: p, nameKey: key(p, n1), newNamespaceId: undefined, newParent: q,
            newNameKey: key(q, n2), newSealedName: sealedName(q), flags: rnd(3), exchangedSealedName: undefined });
        }
        ok++;
      } catch (e) {
        assert.ok(KisekiError.is(e), `only KisekiErrors: ${String(e)}`);
      }
    }
    assert.ok(ok > 300, `enough operations succeeded (${ok})`);
    const inodes = db.prepare('SELECT ino, kind, nlink, parent FROM inodes').all() as { ino: number; kind: number; nlink: number; parent: number }[];
    const dirents = db.prepare('SELECT parent, ino FROM dirents').all() as { parent: number; ino: number }[];
    const byIno = new Map(inodes.map((r) => [r.ino, r]));
    for (const d of dirents) assert.ok(byIno.has(d.ino), `entry points at a live inode ${d.ino}`);
    for (const r of inodes) {
      const refs = dirents.filter((d) => d.ino === r.ino);
      if (r.kind === FileKind.FILE_KIND_DIRECTORY) {
        const subdirs = dirents.filter((d) => d.parent === r.ino && byIno.get(d.ino)?.kind === FileKind.FILE_KIND_DIRECTORY).length;
        assert.equal(r.nlink, 2 + subdirs, `dir ${r.ino} nlink`);
        if (r.ino !== 1) {
          assert.equal(refs.length, 1, `dir ${r.ino} has exactly one name`);
          assert.equal(refs[0]!.parent, r.parent, `dir ${r.ino} parent pointer`);
        }
      } else {
        assert.equal(r.nlink, refs.length, `file ${r.ino} nlink`);
      }
    }
  });
});

test('I-N2 the same namespace id under two tenants is two namespaces', () => {
  withStore((s) => {
    s.open(T1, 'same', true, 0);
    s.open(T2, 'same', true, 0);
    const f = s.create(T1, 'same', { namespaceId: undefined, parent: 1, nameKey: key(1, 'x'), sealedName: sealedName(1), mode: 0o600, uid: 0, gid: 0, exclusive: true, chunkSize: 0 });
    assert.throws(() => s.lookup(T2, 'same', 1, key(1, 'x')), (e) => KisekiError.is(e, 'NotFound'));
    assert.throws(() => s.getAttr(T2, 'same', f.ino), (e) => KisekiError.is(e, 'NotFound'));
    assert.equal(s.readDirPlus(T2, 'same', 1, Buffer.alloc(0), 0).entries.length, 0);
    assert.throws(() => s.getAttr('33333333-3333-4333-8333-333333333333', 'same', 1), (e) => KisekiError.is(e, 'NotFound'));
  });
});

test('orphans: an unlinked inode is swept only after the grace period', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kiseki-ns-unit-'));
  const db = openMetadataDb(dir);
  let now = 1_000_000;
  try {
    const s = new NamespaceStore(db, undefined, () => now);
    s.open(T1, 'o', true, 0);
    const f = s.create(T1, 'o', { namespaceId: undefined, parent: 1, nameKey: key(1, 'f'), sealedName: sealedName(1), mode: 0o600, uid: 0, gid: 0, exclusive: true, chunkSize: 0 });
    s.unlink(T1, 'o', 1, key(1, 'f'));
    now += 59_000;
    assert.equal(s.sweepOrphans(60_000), 0);
    assert.equal(s.getAttr(T1, 'o', f.ino).nlink, 0);
    now += 2_000;
    assert.equal(s.sweepOrphans(60_000), 1);
    assert.throws(() => s.getAttr(T1, 'o', f.ino), (e) => KisekiError.is(e, 'NotFound'));
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

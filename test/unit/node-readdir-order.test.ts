// NamespaceStore lists a directory in creation (inode) order on a real SQLite file, and its cookies
// resume exactly after the entry that gave them: names of one inode (hard links) split across pages
// are each listed once, a name created between pages is listed, a deleted one is not.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EncryptionAlgorithm, type Envelope } from '../../src/gen/kiseki/v1/chunk.js';
import { openMetadataDb } from '../../src/node/metadata-db.js';
import { NamespaceStore } from '../../src/node/namespace-store.js';

const T = '11111111-1111-4111-8111-111111111111';
const key = (name: string) => createHash('sha256').update(`1/${name}`).digest();
const sealed = (name: string): Envelope => ({
  ciphertext: Buffer.from(name), authTag: randomBytes(16), nonce: randomBytes(12), algorithm: EncryptionAlgorithm.ENCRYPTION_ALGORITHM_AES_256_GCM,
  systemEpoch: { value: 1 }, tenantEpoch: undefined, tenantWrappedMaterial: Buffer.alloc(0), chunkId: { value: randomBytes(32) },
});

test('readDirPlus lists in creation order; hard links split across pages, creates and unlinks between pages are each right', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kiseki-readdir-order-'));
  const db = openMetadataDb(dir);
  try {
    const s = new NamespaceStore(db);
    s.open(T, 'ns', true, 0);
    const create = (name: string) => s.create(T, 'ns', { namespaceId: undefined, parent: 1, nameKey: key(name), sealedName: sealed(name), mode: 0o644, uid: 0, gid: 0, exclusive: true, chunkSize: 0 });
    const made = Array.from({ length: 20 }, (_, i) => `f${i}`);
    for (const nm of made) create(nm);
    // Five more names of f3's inode: they sort with it (same inode number), by name_key.
    const f3 = s.lookup(T, 'ns', 1, key('f3')).ino;
    for (let i = 0; i < 5; i++) s.link(T, 'ns', { namespaceId: undefined, ino: f3, newParent: 1, nameKey: key(`l${i}`), sealedName: sealed(`l${i}`) });
    const first = s.readDirPlus(T, 'ns', 1, Buffer.alloc(0), 0).entries.map((e) => e.sealedName!.ciphertext.toString());
    assert.deepEqual(first.filter((nm) => nm.startsWith('f')), made, 'creation order');
    const seen: string[] = [];
    let cursor: Buffer = Buffer.alloc(0);
    for (let page = 0; ; page++) {
      const r = s.readDirPlus(T, 'ns', 1, cursor, 2);
      seen.push(...r.entries.map((e) => e.sealedName!.ciphertext.toString()));
      if (r.eof) break;
      cursor = r.entries.at(-1)!.cookie;
      if (page === 3) {
        create('late');
        s.unlink(T, 'ns', 1, key('f19'));
      }
    }
    assert.equal(new Set(seen).size, seen.length, 'no name twice');
    for (const nm of [...made.filter((x) => x !== 'f19'), 'l0', 'l1', 'l2', 'l3', 'l4', 'late']) assert.ok(seen.includes(nm), `missing ${nm}`);
    assert.ok(!seen.includes('f19'), 'unlinked before its page: not listed');
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

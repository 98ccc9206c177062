// Same-run A/B of the node's side of a 10,000-entry listing (NamespaceStore on a real SQLite file, pages of
// 4096 as the client asks, through to the bytes grpc-js sends): this checkout against another built one.
// Usage: node bench/readdir-wire-node.cjs <before-root> [rounds]   (run from a built checkout)
const { join } = require('node:path');
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { createHash, randomBytes } = require('node:crypto');

const T = '11111111-1111-4111-8111-111111111111';
function setup(root) {
  const { openMetadataDb } = require(join(root, 'dist/src/node/metadata-db.js'));
  const { NamespaceStore } = require(join(root, 'dist/src/node/namespace-store.js'));
  const { ReadDirPlusResponse } = require(join(root, 'dist/src/gen/kiseki/v1/namespace.js'));
  const dir = mkdtempSync(join(tmpdir(), 'readdir-node-'));
  const db = openMetadataDb(dir);
  const s = new NamespaceStore(db);
  s.open(T, 'ns', true, 0);
  for (let i = 0; i < 10000; i++) {
    s.create(T, 'ns', { namespaceId: undefined, parent: 1, nameKey: createHash('sha256').update(`f${i}`).digest(), mode: 0o644, uid: 0, gid: 0, exclusive: true, chunkSize: 0,
      sealedName: { ciphertext: randomBytes(6), authTag: randomBytes(16), nonce: randomBytes(12), algorithm: 1, systemEpoch: { value: 1 }, tenantEpoch: { value: 1 }, tenantWrappedMaterial: Buffer.alloc(0), chunkId: { value: randomBytes(32) } } });
  }
  // What the service hands grpc-js: the encoded page (new) or the message it then encodes (before).
  const page = s.readDirPlusEncoded !== undefined
    ? (cursor) => s.readDirPlusEncoded(T, 'ns', 1, cursor, 4096)
    : (cursor) => Buffer.from(ReadDirPlusResponse.encode(s.readDirPlus(T, 'ns', 1, cursor, 4096)).finish());
  // The cursors of the pages, taken once (decoding them is not the node's work).
  const cursors = [Buffer.alloc(0)];
  for (;;) {
    const r = ReadDirPlusResponse.decode(page(cursors.at(-1)));
    if (r.eof) break;
    cursors.push(r.entries.at(-1).cookie);
  }
  return { run: () => { let bytes = 0; for (const c of cursors) bytes += page(c).length; return bytes; }, close: () => { db.close(); rmSync(dir, { recursive: true, force: true }); } };
}

const here = join(__dirname, '..');
const before = process.argv[2];
const rounds = Number(process.argv[3] ?? 8);
const a = setup(here), b = setup(before);
const ms = { a: [], b: [] };
for (let r = 0; r < rounds; r++) {
  for (const [k, x] of [['a', a], ['b', b]]) {
    const t0 = performance.now();
    x.run();
    ms[k].push(performance.now() - t0);
  }
}
const med = (v) => [...v].sort((p, q) => p - q)[v.length >> 1];
console.log(`10,000-entry listing on the node, ms per listing (rounds interleaved): this ${ms.a.map((v) => v.toFixed(0)).join(' ')} | before ${ms.b.map((v) => v.toFixed(0)).join(' ')}`);
console.log(`median: this ${med(ms.a).toFixed(1)} ms, before ${med(ms.b).toFixed(1)} ms, before ÷ this ${(med(ms.b) / med(ms.a)).toFixed(2)}×`);
a.close(); b.close();

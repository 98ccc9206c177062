// What a kiseki-node acknowledged survives kill -9, and a full disk answers ENOSPC without losing or
// half-writing anything (I-N1).
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { KisekiError } from '../../src/errors.js';
import type { Envelope } from '../../src/gen/kiseki/v1/chunk.js';
import { FileKind } from '../../src/gen/kiseki/v1/namespace.js';
import { GrpcChunkTransport } from '../../src/transport/transport-grpc.js';
import { type CertSet, clientCredentials, makeCerts } from '../helpers/certs.js';
import { startNode } from '../helpers/node-process.js';
import { nameKey, nodeRpc, openSealed, rejectsWith, sealed, sealedName } from '../helpers/node-rpc.js';

const A = 'a1a1a1a1-0000-4000-8000-0000000000a1';
let dir: string;
let certs: CertSet;
const mounts: string[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kiseki-node-dur-'));
  certs = await makeCerts(join(dir, 'certs'), { tenants: [A], nodes: [1] });
});
after(() => {
  for (const m of mounts) {
    try { execFileSync('umount', [m]); } catch { execFileSync('umount', ['-l', m]); }
  }
  rmSync(dir, { recursive: true, force: true });
});

function walk(d: string): string[] {
  return readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
}

test('everything acknowledged before kill -9 is there after restart: namespace tree, layout, xattr, symlink, chunks', async () => {
  const dataDir = join(dir, 'persist');
  let node = await startNode({ dataDir, tls: { certs } });
  const creds = clientCredentials(certs, certs.tenant(A));
  const namespaceId = { value: 'persist' };
  let rpc = nodeRpc(node.address!, creds);
  let t = new GrpcChunkTransport({ target: node.address!, credentials: creds });
  const envs: Envelope[] = [randomBytes(2 * 1024 * 1024), randomBytes(77)].map((p) => sealed(p));
  const keys = await rpc.keys('fetchTenantKeys', {});
  await t.putChunks(envs);
  await rpc.ns('openNamespace', { namespaceId, create: true, defaultChunkSize: 0 });
  const d = (await rpc.ns('mkDir', { namespaceId, parent: 1, nameKey: nameKey(1, 'dir'), sealedName: sealedName(1, 'dir'), mode: 0o750, uid: 5, gid: 6 })).attr!;
  const f = (await rpc.ns('create', { namespaceId, parent: d.ino, nameKey: nameKey(d.ino, 'file'), sealedName: sealedName(d.ino, 'file'), mode: 0o640, uid: 5, gid: 6, exclusive: true, chunkSize: 0 })).attr!;
  const committed = (await rpc.ns('commitLayout', { namespaceId, ino: f.ino, expectedGeneration: f.generation, newSize: 2 * 1024 * 1024, setChunks: [{ chunkId: envs[0]!.chunkId, offset: 0, length: 2 * 1024 * 1024 }], dropFrom: 0, dropFromSet: false, inlineData: undefined, clearInline: false, mtime: undefined })).attr!;
  await rpc.ns('setXattr', { namespaceId, ino: f.ino, nameKey: nameKey(f.ino, 'user.k'), sealedName: sealedName(f.ino, 'user.k'), sealedValue: sealed(Buffer.from('v')), flags: 1 });
  await rpc.ns('symlink', { namespaceId, parent: 1, nameKey: nameKey(1, 'ln'), sealedName: sealedName(1, 'ln'), sealedTarget: sealed(Buffer.from('dir/file')), uid: 0, gid: 0, targetLength: 8 });
  rpc.close();
  await t.close();

  await node.kill9();
  node = await node.restart();
  rpc = nodeRpc(node.address!, creds);
  t = new GrpcChunkTransport({ target: node.address!, credentials: creds });
  try {
    const k2 = await rpc.keys('fetchTenantKeys', {});
    assert.deepEqual(k2.keks[0]!.kek, keys.keks[0]!.kek);
    assert.deepEqual(k2.indexKey, keys.indexKey);
    const back = await t.getChunks(envs.map((e) => e.chunkId!.value));
    assert.deepEqual(back.map((e) => openSealed(e)), envs.map((e) => openSealed(e)));
    const dd = (await rpc.ns('lookup', { namespaceId, parent: 1, nameKey: nameKey(1, 'dir') })).attr!;
    assert.equal(dd.ino, d.ino);
    assert.equal(dd.mode, 0o750);
    const ff = (await rpc.ns('lookup', { namespaceId, parent: d.ino, nameKey: nameKey(d.ino, 'file') })).attr!;
    assert.deepEqual({ ...ff, ctime: null }, { ...committed, ctime: null }, 'setxattr after the commit moved ctime only');
    const l = await rpc.ns('getLayout', { namespaceId, ino: f.ino });
    assert.deepEqual(l.chunks[0]!.chunkId!.value, envs[0]!.chunkId!.value);
    const x = await rpc.ns('getXattr', { namespaceId, ino: f.ino, nameKey: nameKey(f.ino, 'user.k') });
    assert.equal(openSealed(x.sealedValue!).toString(), 'v');
    const ln = (await rpc.ns('lookup', { namespaceId, parent: 1, nameKey: nameKey(1, 'ln') })).attr!;
    assert.equal(ln.kind, FileKind.FILE_KIND_SYMLINK);
    const n2 = (await rpc.ns('create', { namespaceId, parent: 1, nameKey: nameKey(1, 'after'), sealedName: sealedName(1, 'after'), mode: 0o644, uid: 0, gid: 0, exclusive: true, chunkSize: 0 })).attr!;
    assert.ok(n2.ino > ln.ino, 'inode numbers are never reused after a restart');
  } finally {
    rpc.close();
    await t.close();
    await node.stop();
  }
});

test('I-N1 a full disk answers RESOURCE_EXHAUSTED/ENOSPC, leaves no partial chunk, and loses nothing committed before',
  { skip: process.getuid?.() !== 0 && 'mounting the small tmpfs needs root' }, async () => {
  const mnt = join(dir, 'small');
  mkdirSync(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mnt]);
  mounts.push(mnt);
  const node = await startNode({ dataDir: join(mnt, 'data'), socket: join(dir, 'small.sock') });
  const t = new GrpcChunkTransport({ target: `unix:${node.socketPath}`, credentials: grpc.credentials.createInsecure() });
  const rpc = nodeRpc(`unix:${node.socketPath}`, grpc.credentials.createInsecure());
  try {
    const namespaceId = { value: 'full' };
    await rpc.ns('openNamespace', { namespaceId, create: true, defaultChunkSize: 0 });
    const stored: Envelope[] = [];
    let full: unknown = null;
    for (let i = 0; i < 20 && !full; i++) {
      const env = sealed(randomBytes(256 * 1024));
      try {
        await t.putChunks([env]);
        stored.push(env);
      } catch (e) {
        full = e;
      }
    }
    assert.ok(KisekiError.is(full, 'NoSpace'), `expected NoSpace, got ${String(full)}`);
    assert.equal((full as KisekiError).errno, constants.errno.ENOSPC);
    assert.ok(stored.length >= 3, `some chunks fit first (${stored.length})`);
    // Many chunks in one stream on the full disk: the first failing put ends the call, the node lives.
    await assert.rejects(t.putChunks(Array.from({ length: 8 }, () => sealed(randomBytes(256 * 1024)))), (e) => KisekiError.is(e, 'NoSpace'));
    assert.doesNotMatch(node.stderr(), /unhandled rejection/);
    assert.deepEqual(walk(join(mnt, 'data', 'chunks')).filter((p) => p.includes('.tmp-')), [], 'no tmp file left behind');
    const back = await t.getChunks(stored.map((e) => e.chunkId!.value));
    assert.deepEqual(back.map((e) => e.ciphertext), stored.map((e) => e.ciphertext));
    // Metadata writes on the full disk fail cleanly or succeed; never a crash. Freeing space heals.
    await rpc.ns('create', { namespaceId, parent: 1, nameKey: nameKey(1, 'x'), sealedName: sealedName(1, 'x'), mode: 0o644, uid: 0, gid: 0, exclusive: true, chunkSize: 0 })
      .catch((e: grpc.ServiceError) => assert.equal(e.code, grpc.status.RESOURCE_EXHAUSTED));
    assert.equal((await rpc.discovery('discover', {})).nodes.length, 1);
    await rejectsWith(rpc.ns('getAttr', { namespaceId, ino: 999 }), grpc.status.NOT_FOUND);
  } finally {
    rpc.close();
    await t.close();
    await node.stop();
  }
});

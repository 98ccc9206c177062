// P-ISO: tenant isolation and authentication through real mounts over TCP+TLS, plus the L2 cache's
// file modes. Tenant B's certificate never lists, reads or writes tenant A's namespace (by mount and
// by direct RPC on A's inode and chunk ids); expired and wrong-CA certificates are refused.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { clientCredentials } from '../helpers/certs.js';
import { nodeRpc, rejectsWith } from '../helpers/node-rpc.js';
import { CLI, bash, sh, spawnTool } from '../integration/mount-harness.js';
import { GrpcChunkTransport } from '../../src/transport/transport-grpc.js';
import { KisekiError } from '../../src/errors.js';
import { CommitLayoutRequest, SetAttrRequest } from '../../src/gen/kiseki/v1/namespace.js';
import { filesUnder, MiB, startTlsRig, until, type TlsRig } from './rel-harness.js';

let rig: TlsRig;
let aIno = 0;
let aChunks: Buffer[] = [];
const NS = 'iso';
const refusedMountErrors: string[] = [];

before(async () => {
  rig = await startTlsRig({ nodes: 1, replicas: 1 });
  const m = await rig.mount('iso-a', ['--namespace', NS, '-o', 'chunk_size=1M,cache_mode=bypass']);
  await bash(`head -c ${2 * MiB} /dev/urandom > "${rig.dir}/a.bin"; cp "${rig.dir}/a.bin" "${m.path}/a-secret.bin"`);
  aIno = (await stat(join(m.path, 'a-secret.bin'))).ino;
  await m.unmount();
  const a = nodeRpc(rig.cluster.nodes[0]!.address!, clientCredentials(rig.certs, rig.certs.tenant(rig.A)));
  aChunks = (await a.ns('getLayout', { namespaceId: { value: NS }, ino: aIno })).chunks.map((c) => c.chunkId!.value);
  a.close();
  assert.equal(aChunks.length, 2);
});
after(async () => rig.close());

test('P-ISO1: tenant B\'s certificate cannot list, read or write tenant A\'s namespace (RPC and mount)', async () => {
  // Direct RPCs with B's certificate naming A's namespace, inode and chunk ids (B has no namespace
  // of that name yet, so any success would be A's).
  const rpc = nodeRpc(rig.cluster.nodes[0]!.address!, clientCredentials(rig.certs, rig.certs.tenant(rig.B)));
  const chunks = new GrpcChunkTransport({ target: rig.cluster.nodes[0]!.address!, credentials: clientCredentials(rig.certs, rig.certs.tenant(rig.B)) });
  let refused = 0;
  try {
    const namespaceId = { value: NS };
    const calls: Array<() => Promise<unknown>> = [
      () => rpc.ns('openNamespace', { namespaceId, create: false, defaultChunkSize: 0 }),
      () => rpc.ns('readDirPlus', { namespaceId, ino: 1, cursor: Buffer.alloc(0), limit: 0 }),
      () => rpc.ns('getLayout', { namespaceId, ino: aIno }),
      () => rpc.ns('getAttr', { namespaceId, ino: aIno }),
      () => rpc.ns('setAttr', SetAttrRequest.fromPartial({ namespaceId, ino: aIno, valid: 1, mode: 0o100777 })),
      () => rpc.ns('commitLayout', CommitLayoutRequest.fromPartial({ namespaceId, ino: aIno, newSize: 0, dropFrom: 0, dropFromSet: true, clearInline: true })),
    ];
    for (const call of calls) {
      await rejectsWith(call(), grpc.status.NOT_FOUND);
      refused++;
    }
    for (const id of aChunks) {
      await assert.rejects(chunks.getChunks([id]), (e) => KisekiError.is(e, 'NotFound'));
      refused++;
    }
  } finally {
    rpc.close();
    await chunks.close();
  }
  console.log(`figure: P-ISO1 refused = ${refused}`);
  // A mount of the same namespace name as B is B's own, empty namespace; B's writes stay in it.
  const b = await rig.mount('iso-b', ['--namespace', NS, '-o', 'cache_mode=bypass'], rig.B);
  assert.equal((await bash(`ls -A "${b.path}"`)).trim(), '', 'B lists nothing of A');
  await bash(`echo from-b > "${b.path}/a-secret.bin"`);
  await b.unmount();
  // B claiming to be A is refused before anything is mounted.
  const claimed = join(rig.dir, 'iso-claim');
  await mkdir(claimed);
  await assert.rejects(sh(process.execPath, [CLI, 'mount', claimed, '--data-addr', rig.dataAddr(), '--tenant', rig.A], { env: rig.envFor(rig.B) }), /tenant/i);
  // A's file is unchanged.
  const a = await rig.mount('iso-a2', ['--namespace', NS, '-o', 'cache_mode=bypass']);
  await bash(`cmp "${rig.dir}/a.bin" "${a.path}/a-secret.bin"`);
  await a.unmount();
});

test('P-ISO4: tenant B\'s certificate cannot stage tenant A\'s dataset; A can (control)', async () => {
  const a = await rig.mount('iso-stage-a', ['--namespace', NS, '-o', 'chunk_size=1M,cache_mode=bypass']);
  await bash(`mkdir "${a.path}/a-only" && cp "${rig.dir}/a.bin" "${a.path}/a-only/data.bin"`);
  await a.unmount();
  const STAGE = join(CLI, '../kiseki-client.js');
  const stage = (tenant: string, cacheDir: string) => spawnTool(process.execPath, [STAGE, 'stage', '--dataset', '/a-only', '--namespace', NS,
    '--data-addr', rig.dataAddr(), '--cache-dir', cacheDir, '--timeout', '30'], rig.envFor(tenant));
  const cacheB = join(rig.dir, 'stage-b');
  const b = await stage(rig.B, cacheB);
  assert.notEqual(b.code, 0, `B's stage of A's dataset must fail: ${b.out}`);
  const bFiles = await filesUnder(cacheB);
  assert.equal(bFiles.filter((f) => f.includes('/chunks/')).length, 0, `B's cache holds no chunk: ${bFiles.join(', ')}`);
  const cacheA = join(rig.dir, 'stage-a');
  const okA = await stage(rig.A, cacheA);
  assert.equal(okA.code, 0, `A stages its own dataset: ${okA.out}`);
  const aChunkFiles = (await filesUnder(cacheA)).filter((f) => f.includes('/chunks/'));
  assert.equal(aChunkFiles.length, 2, 'A\'s pool holds the two chunks');
  console.log(`figure: P-ISO4 = ${JSON.stringify({ bExit: b.code, bError: b.out.trim().split('\n').pop(), aChunksStaged: aChunkFiles.length })}`);
  const pool = /[0-9a-f]{32}/.exec(okA.out)?.[0];
  if (pool !== undefined) await spawnTool(process.execPath, [STAGE, 'stage', '--release-all', '--pool', pool, '--cache-dir', cacheA], rig.envFor(rig.A));
});

test('P-ISO2: an expired or wrong-CA client certificate is refused at the TLS handshake; the mount fails', async () => {
  const p = join(rig.dir, 'iso-bad');
  await mkdir(p);
  // Through the mount command, with each certificate.
  for (const pair of [rig.certs.expired, rig.certs.rogue]) {
    const env = { ...rig.h.env, KISEKI_CERT_PATH: pair.cert, KISEKI_KEY_PATH: pair.key };
    const t0 = Date.now();
    const err = await sh(process.execPath, [CLI, 'mount', p, '--data-addr', rig.dataAddr()], { env, timeoutMs: 90_000 }).then(() => null, (e: Error) => e);
    assert.ok(err !== null, `the mount with ${pair.cert} failed`);
    const msg = (err as Error & { stderr?: string }).stderr?.trim() ?? '';
    refusedMountErrors.push(msg);
    console.log(`figure: P-ISO2 mount refused in ms = ${Date.now() - t0}: ${msg}`);
  }
  // Direct RPCs with both are refused at the handshake.
  for (const pair of [rig.certs.expired, rig.certs.rogue]) {
    const rpc = nodeRpc(rig.cluster.nodes[0]!.address!, clientCredentials(rig.certs, pair));
    await rejectsWith(rpc.ns('getAttr', { namespaceId: { value: NS }, ino: 1 }), grpc.status.UNAVAILABLE);
    rpc.close();
  }
  assert.equal((await readdir(p)).length, 0);
});

test('P-ISO2b: the refused mount names the certificate problem', () => {
  assert.equal(refusedMountErrors.length, 2);
  assert.match(refusedMountErrors[0]!, /certificate.*expired/i);
  assert.match(refusedMountErrors[1]!, /certificate.*(CA|issuer|signed)/i);
});

test('P-ISO3: L2 cache files are 0600 and pool directories 0700, owned by the mounting user', async () => {
  const cacheDir = join(rig.dir, 'iso-cache');
  const m = await rig.mount('iso-l2', ['--namespace', NS, '-o', `chunk_size=1M,cache_mode=organic,cache_dir=${cacheDir}`]);
  try {
    await bash(`cat "${m.path}/a-secret.bin" > /dev/null`);
    // Chunks reach L2 in the background after the read is answered.
    await until(async () => (await filesUnder(join(cacheDir, rig.A))).length >= 3, 10_000, 'cached chunks in the L2 pool');
    const seen = { files: 0, dirs: 0 };
    const walk = async (d: string): Promise<void> => {
      for (const e of await readdir(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        const s = await stat(p);
        assert.equal(s.uid, process.getuid!(), `${p} owner`);
        if (e.isDirectory()) {
          assert.equal(s.mode & 0o777, 0o700, `${p} is a directory with mode ${(s.mode & 0o777).toString(8)}`);
          seen.dirs++;
          await walk(p);
        } else if (e.isFile()) {
          assert.equal(s.mode & 0o777, 0o600, `${p} is a file with mode ${(s.mode & 0o777).toString(8)}`);
          seen.files++;
        }
      }
    };
    await walk(join(cacheDir, rig.A));
    console.log(`figure: P-ISO3 checked = ${JSON.stringify(seen)}`);
    assert.ok(seen.files >= 3, `the pool holds the cached chunks (${seen.files} files)`);
  } finally {
    await m.unmount();
  }
});

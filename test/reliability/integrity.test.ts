// P-INT: stored chunks altered, swapped, truncated or replaced by another tenant's chunk on the
// node's disk → the reader gets EIO, never wrong bytes. Real node over TLS, real mounts; every read
// goes through a fresh mount (no page cache) with cache_mode=bypass, so the bytes come from the node.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { placeChunk } from '../../src/client/placement.js';
import { Envelope } from '../../src/gen/kiseki/v1/chunk.js';
import { clientCredentials } from '../helpers/certs.js';
import { nodeRpc } from '../helpers/node-rpc.js';
import { bash, spawnTool } from '../integration/mount-harness.js';
import { MiB, startTlsRig, type TlsRig } from './rel-harness.js';

let rig: TlsRig;
const figures = { chunkReads: 0, eio: 0, bytesCompared: 0 };
const OPTS = ['-o', 'chunk_size=1M,cache_mode=bypass,meta_ttl_ms=0'];

before(async () => {
  rig = await startTlsRig({ nodes: 1, replicas: 1 });
});
after(async () => {
  console.log(`figure: P-INT totals = ${JSON.stringify(figures)}`);
  await rig.close();
});

/** Writes `data` as `name` in namespace `ns` through a mount of `tenant`; returns its chunk file paths in order. */
async function store(ns: string, name: string, data: Buffer, tenant = rig.A): Promise<string[]> {
  const m = await rig.mount(`w-${ns}-${name}-${tenant.slice(0, 4)}`, ['--namespace', ns, ...OPTS], tenant);
  await writeFile(join(rig.dir, `${name}.src`), data);
  await bash(`cp "${rig.dir}/${name}.src" "${m.path}/${name}"`);
  const ino = (await stat(join(m.path, name))).ino;
  await m.unmount();
  const rpc = nodeRpc(rig.cluster.nodes[0]!.address!, clientCredentials(rig.certs, rig.certs.tenant(tenant)));
  try {
    const layout = await rpc.ns('getLayout', { namespaceId: { value: ns }, ino });
    return layout.chunks.map((c) => {
      const hex = c.chunkId!.value.toString('hex');
      return join(rig.dir, 'nodes', 'node-1', 'chunks', tenant, hex.slice(0, 2), hex);
    });
  } finally {
    rpc.close();
  }
}

/** Reads chunk k of the file through a fresh mount: its bytes, or 'EIO'. Never anything else. */
async function readChunks(ns: string, name: string, data: Buffer): Promise<Array<'ok' | 'EIO'>> {
  const m = await rig.mount(`r-${ns}-${name}-${Date.now()}`, ['--namespace', ns, ...OPTS]);
  try {
    const out: Array<'ok' | 'EIO'> = [];
    const n = Math.ceil(data.length / MiB);
    for (let k = 0; k < n; k++) {
      const dst = join(rig.dir, `${name}.${k}.out`);
      const r = await spawnTool('dd', [`if=${join(m.path, name)}`, `of=${dst}`, 'bs=1M', `skip=${k}`, 'count=1', 'status=none']);
      const got = await readFile(dst).catch(() => Buffer.alloc(0));
      const want = data.subarray(k * MiB, (k + 1) * MiB);
      figures.chunkReads++;
      if (r.code === 0) {
        assert.equal(Buffer.compare(got, want), 0, `chunk ${k} read back wrong bytes`);
        figures.bytesCompared += got.length;
        out.push('ok');
      } else {
        assert.match(r.out, /Input\/output error/, `chunk ${k}: a failed read is EIO, got ${r.out}`);
        // Whatever reached the reader before the error is a prefix of the true bytes.
        assert.equal(Buffer.compare(got, want.subarray(0, got.length)), 0, `chunk ${k}: bytes before the EIO are wrong`);
        figures.bytesCompared += got.length;
        figures.eio++;
        out.push('EIO');
      }
    }
    return out;
  } finally {
    await m.unmount();
  }
}

function pattern(len: number, seed: number): Buffer {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i += 4) b.writeUInt32LE((Math.imul(i + 1, 2654435761) ^ seed) >>> 0, i);
  return b;
}

test('P-INT1: a sealed chunk altered on the node\'s disk → EIO, never wrong bytes', async () => {
  const data = pattern(4 * MiB + 1000, 1);
  const files = await store('int', 'altered', data);
  assert.equal(files.length, 5);
  // Ciphertext, tag and nonce of three different chunks; the other two stay intact.
  const edits: Array<(e: Envelope) => void> = [(e) => { e.ciphertext[4242] ^= 0x01; }, (e) => { e.authTag[3] ^= 0x80; }, (e) => { e.nonce[0] ^= 0xff; }];
  for (const [i, edit] of edits.entries()) {
    const env = Envelope.decode(await readFile(files[i]!));
    edit(env);
    await writeFile(files[i]!, Envelope.encode(env).finish());
  }
  assert.deepEqual(await readChunks('int', 'altered', data), ['EIO', 'EIO', 'EIO', 'ok', 'ok']);
});

test('P-INT2: a chunk swapped for another valid chunk → detected by chunk id (EIO)', async () => {
  const data = pattern(3 * MiB, 2);
  const files = await store('int', 'swapped', data);
  // Chunk 0's file replaced by chunk 1's valid envelope as stored (names the wrong chunk id) …
  await copyFile(files[1]!, files[0]!);
  // … and chunk 2's file by chunk 1's envelope relabelled with chunk 2's id (passes the node's
  // check; the AEAD's associated data is the chunk id, so opening must fail).
  const relabelled = Envelope.decode(await readFile(files[1]!));
  relabelled.chunkId = Envelope.decode(await readFile(files[2]!)).chunkId;
  await writeFile(files[2]!, Envelope.encode(relabelled).finish());
  assert.deepEqual(await readChunks('int', 'swapped', data), ['EIO', 'ok', 'EIO']);
});

test('P-INT3: a truncated chunk file → EIO', async () => {
  const data = pattern(3 * MiB, 3);
  const files = await store('int', 'truncated', data);
  await truncate(files[0]!, Math.floor((await stat(files[0]!)).size / 2));
  await truncate(files[1]!, 0);
  assert.deepEqual(await readChunks('int', 'truncated', data), ['EIO', 'EIO', 'ok']);
});

test('P-INT4: a node answering with another tenant\'s chunk → rejected (EIO), B\'s plaintext never returned', async () => {
  // Same plaintext for both tenants → the same chunk id (SHA-256 of the plaintext), so B's sealed
  // chunk fits A's path and names A's chunk id: only the tenant key tells them apart.
  const data = pattern(2 * MiB, 4);
  const filesA = await store('int', 'cross', data);
  const filesB = await store('int-b', 'cross', data, rig.B);
  assert.equal(Buffer.compare(Envelope.decode(await readFile(filesA[0]!)).chunkId!.value, Envelope.decode(await readFile(filesB[0]!)).chunkId!.value), 0);
  await copyFile(filesB[0]!, filesA[0]!);
  // A different plaintext of B relabelled with A's chunk id.
  const other = await store('int-b', 'other', pattern(MiB, 5), rig.B);
  const env = Envelope.decode(await readFile(other[0]!));
  env.chunkId = Envelope.decode(await readFile(filesA[1]!)).chunkId;
  await writeFile(filesA[1]!, Envelope.encode(env).finish());
  assert.deepEqual(await readChunks('int', 'cross', data), ['EIO', 'EIO']);
});

test('P-INT5: with R = 2, a tampered replica is skipped and the other replica serves the exact bytes; both tampered → EIO', async () => {
  const r2 = await startTlsRig({ nodes: 2, replicas: 2 });
  try {
    const data = pattern(2 * MiB, 6);
    const m = await r2.mount('w', ['--namespace', 'int5', ...OPTS]);
    await writeFile(join(r2.dir, 'src'), data);
    await bash(`cp "${r2.dir}/src" "${m.path}/f"`);
    const ino = (await stat(join(m.path, 'f'))).ino;
    await m.unmount();
    const rpc = nodeRpc(r2.cluster.nodes[0]!.address!, clientCredentials(r2.certs, r2.certs.tenant(r2.A)));
    const ids = (await rpc.ns('getLayout', { namespaceId: { value: 'int5' }, ino })).chunks.map((c) => c.chunkId!.value.toString('hex'));
    rpc.close();
    const copyOn = (node: number, hex: string) => join(r2.dir, 'nodes', `node-${node}`, 'chunks', r2.A, hex.slice(0, 2), hex);
    const flip = async (file: string) => {
      const env = Envelope.decode(await readFile(file));
      env.ciphertext[777] ^= 0x10;
      await writeFile(file, Envelope.encode(env).finish());
    };
    await flip(copyOn(1, ids[0]!));
    await flip(copyOn(2, ids[0]!));
    // Chunk 1: only the copy the reader tries first is tampered, so the read must fail over.
    await flip(copyOn(placeChunk(Buffer.from(ids[1]!, 'hex'), [1, 2], 2).read[0]!, ids[1]!));
    const rm = await r2.mount('r', ['--namespace', 'int5', ...OPTS]);
    const results: string[] = [];
    for (const k of [0, 1]) {
      const dst = join(r2.dir, `out${k}`);
      const r = await spawnTool('dd', [`if=${join(rm.path, 'f')}`, `of=${dst}`, 'bs=1M', `skip=${k}`, 'count=1', 'status=none']);
      figures.chunkReads++;
      if (r.code === 0) {
        assert.equal(Buffer.compare(await readFile(dst), data.subarray(k * MiB, (k + 1) * MiB)), 0, `chunk ${k} bytes`);
        figures.bytesCompared += MiB;
        results.push('ok');
      } else {
        assert.match(r.out, /Input\/output error/);
        figures.eio++;
        results.push('EIO');
      }
    }
    await rm.unmount();
    assert.deepEqual(results, ['EIO', 'ok']);
  } finally {
    await r2.close();
  }
});

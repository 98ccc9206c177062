// P-FLT: faults against real mounts and a real 3-node TLS cluster with R = 2 (node 1 holds the
// metadata; nodes 2 and 3 are data replicas too). Each test names the promise it checks; the
// figures (reads done, bytes compared) go to stdout as `figure:` lines for docs/reliability.md.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { placeChunk } from '../../src/client/placement.js';
import { clientCredentials } from '../helpers/certs.js';
import { startNode } from '../helpers/node-process.js';
import { nodeRpc } from '../helpers/node-rpc.js';
import { CLI, bash, isMounted, sh, spawnTool, startTool } from '../integration/mount-harness.js';
import { MiB, sleep, startTlsRig, until, type TlsRig } from './rel-harness.js';

let rig: TlsRig;
const figure = (name: string, v: unknown) => console.log(`figure: ${name} = ${JSON.stringify(v)}`);

before(async () => {
  rig = await startTlsRig({ nodes: 3, replicas: 2 });
});
after(async () => rig.close());

async function restartNode(i: number): Promise<void> {
  const n = rig.cluster.nodes[i]!;
  rig.cluster.nodes[i] = await n.restart();
}

test('P-FLT1: a node kill -9ed during reads with R = 2 → the replica serves, zero failed reads', async () => {
  const m = await rig.mount('flt1', ['--namespace', 'flt1', '-o', 'chunk_size=1M,cache_mode=bypass,meta_ttl_ms=0']);
  await bash(`head -c ${8 * MiB} /dev/urandom > "${rig.dir}/r.bin"; cp "${rig.dir}/r.bin" "${m.path}/r.bin"`);
  const want = (await bash(`sha256sum < "${rig.dir}/r.bin"`)).split(' ')[0];
  // The victim (node 2 or 3; node 1 holds the metadata) is the first replica in read order for the
  // most chunks: reads after its death must fail over.
  const rpc = nodeRpc(rig.cluster.nodes[0]!.address!, clientCredentials(rig.certs, rig.certs.tenant(rig.A)));
  const layout = await rpc.ns('getLayout', { namespaceId: { value: 'flt1' }, ino: (await stat(join(m.path, 'r.bin'))).ino });
  rpc.close();
  const firstOn = (id: number) => layout.chunks.filter((c) => placeChunk(c.chunkId!.value, [1, 2, 3], 2).read[0] === id).length;
  const victim = firstOn(2) >= firstOn(3) ? 2 : 3;
  const firstOnVictim = firstOn(victim);
  assert.ok(firstOnVictim > 0, `node ${victim} serves some chunks first`);
  // A reader process loops over the file while node 3 is killed under it; bypass (no client cache)
  // and O_DIRECT (no kernel page cache) make every pass read the nodes.
  const reader = startTool('bash', ['-c', `set -o pipefail; for i in $(seq 1 8); do dd if="${m.path}/r.bin" iflag=direct bs=1M status=none | sha256sum | cut -d' ' -f1 || echo FAILED; done`]);
  let finished = false;
  void reader.done.then(() => { finished = true; });
  await sleep(700);
  assert.equal(finished, false, 'the reader is still reading when the node dies');
  await rig.cluster.nodes[victim - 1]!.kill9();
  const { code, out } = await reader.done;
  const lines = out.trim().split('\n');
  figure('P-FLT1 reads', { fileReads: lines.length, bytesCompared: lines.length * 8 * MiB, chunks: layout.chunks.length, chunksFirstOnKilledNode: firstOnVictim });
  assert.equal(code, 0, out);
  assert.equal(lines.length, 8, out);
  for (const l of lines) assert.equal(l, want, 'every read of the file returned its exact bytes');
  await m.unmount();
  await restartNode(victim - 1);
});

test('P-FLT2: a node kill -9ed during writes → the write completes on the surviving replicas or fails with EIO; committed data is intact', async () => {
  const m = await rig.mount('flt2', ['--namespace', 'flt2', '-o', 'chunk_size=1M,cache_mode=bypass,meta_ttl_ms=0']);
  await bash(`head -c ${6 * MiB} /dev/urandom > "${rig.dir}/c.bin"; cp "${rig.dir}/c.bin" "${m.path}/committed.bin"; sync "${m.path}/committed.bin"`);
  await bash(`head -c ${48 * MiB} /dev/urandom > "${rig.dir}/w.bin"`);
  const writer = startTool('bash', ['-c', `dd if="${rig.dir}/w.bin" of="${m.path}/w.bin" bs=1M conv=fsync 2>&1`]);
  await sleep(800);
  await rig.cluster.nodes[1]!.kill9();
  const { code, out } = await writer.done;
  figure('P-FLT2 writer', { exit: code, outcome: code === 0 ? 'completed' : 'EIO' });
  if (code === 0) {
    await bash(`cmp "${rig.dir}/w.bin" "${m.path}/w.bin"`);
  } else {
    assert.match(out, /Input\/output error/, `a failed write reports EIO, got: ${out}`);
  }
  await bash(`cmp "${rig.dir}/c.bin" "${m.path}/committed.bin"`);
  await restartNode(1);
  // With every replica back, a fresh mount reads the committed file exactly.
  const again = await rig.mount('flt2b', ['--namespace', 'flt2', '-o', 'cache_mode=bypass']);
  await bash(`cmp "${rig.dir}/c.bin" "${again.path}/committed.bin"`);
  await again.unmount();
  await m.unmount();
});

test('P-FLT3: the metadata node restarted → the mount recovers without a remount', async () => {
  const m = await rig.mount('flt3', ['--namespace', 'flt3', '-o', 'chunk_size=1M,cache_mode=bypass,meta_ttl_ms=0']);
  await bash(`head -c ${3 * MiB} /dev/urandom > "${rig.dir}/p.bin"; cp "${rig.dir}/p.bin" "${m.path}/before.bin"`);
  await rig.cluster.nodes[0]!.kill9();
  await sleep(500);
  await restartNode(0);
  const ms = await until(async () => { await bash(`cmp "${rig.dir}/p.bin" "${m.path}/before.bin"`); return true; }, 30_000, 'reading through the same mount after the restart');
  await bash(`cp "${rig.dir}/p.bin" "${m.path}/after.bin" && cmp "${rig.dir}/p.bin" "${m.path}/after.bin"`);
  figure('P-FLT3 recovery ms', ms);
  assert.ok(await isMounted(m.path));
  await m.unmount();
});

test('P-FLT4: the client kill -9ed mid-write → fsynced data intact, unmount cleans the stale mount, the orphan pool is scrubbed', async () => {
  const cacheDir = join(rig.dir, 'flt4-cache');
  await mkdir(cacheDir, { recursive: true, mode: 0o700 });
  const seed = await rig.mount('flt4-seed', ['--namespace', 'flt4', '-o', 'chunk_size=1M,cache_mode=bypass']);
  await bash(`head -c ${5 * MiB} /dev/urandom > "${rig.dir}/old.bin"; cp "${rig.dir}/old.bin" "${seed.path}/old.bin"`);
  await seed.unmount();
  const m = await rig.mount('flt4', ['--namespace', 'flt4', '-o', `chunk_size=1M,cache_mode=organic,cache_dir=${cacheDir}`]);
  // Reading old.bin fills the mount's L2 pool with plaintext chunks: the pool the scrubber must remove.
  await bash(`cat "${m.path}/old.bin" > /dev/null; head -c ${5 * MiB} /dev/urandom > "${rig.dir}/s.bin"; dd if="${rig.dir}/s.bin" of="${m.path}/synced.bin" bs=1M conv=fsync status=none`);
  const pools = await readdir(join(cacheDir, rig.A));
  assert.equal(pools.length, 1, 'the mount owns one cache pool');
  const writer = startTool('bash', ['-c', `head -c ${200 * MiB} /dev/urandom > "${m.path}/torn.bin"`]);
  await sleep(700);
  process.kill(m.pid, 'SIGKILL');
  await writer.done;
  assert.ok(await isMounted(m.path), 'the dead daemon left its mount behind');
  const st = await spawnTool('stat', [m.path]);
  assert.match(st.out, /Transport endpoint is not connected/, 'the stale mount answers ENOTCONN');
  await sh(process.execPath, [CLI, 'unmount', m.path], { env: rig.h.env });
  assert.equal(await isMounted(m.path), false, 'unmount removed the stale mount');
  const scrub = JSON.parse(await sh(process.execPath, [join(CLI, '../kiseki-cache-scrub.js'), '--cache-dir', cacheDir, '--json'], { env: rig.h.env })) as { removed: Array<{ files: number; bytes: number }> };
  figure('P-FLT4 scrub', { removedPools: scrub.removed.length, files: scrub.removed[0]?.files, bytes: scrub.removed[0]?.bytes });
  assert.equal(scrub.removed.length, 1);
  assert.ok(scrub.removed[0]!.bytes >= 5 * MiB, `the scrubbed pool held the cached chunks (${scrub.removed[0]!.bytes} bytes)`);
  assert.deepEqual(await readdir(join(cacheDir, rig.A)), [], 'the orphaned pool was scrubbed');
  const again = await rig.mount('flt4', ['--namespace', 'flt4', '-o', 'cache_mode=bypass']);
  await bash(`cmp "${rig.dir}/s.bin" "${again.path}/synced.bin" && cmp "${rig.dir}/old.bin" "${again.path}/old.bin"`);
  await again.unmount();
});

const run = promisify(execFile);

test('P-FLT5: the node\'s disk full → ENOSPC to the writer, nothing lost', async (t) => {
  const small = join(rig.dir, 'tiny');
  await mkdir(small, { recursive: true });
  try {
    await run('mount', ['-t', 'tmpfs', '-o', 'size=40m,mode=0700', 'tmpfs', small]);
  } catch (e) {
    t.skip(`cannot mount a tmpfs here: ${(e as Error).message}`);
    return;
  }
  const node = await startNode({ dataDir: join(small, 'node'), socket: join(rig.dir, 'tiny.sock') });
  try {
    const path = join(rig.dir, 'flt5');
    await mkdir(path);
    const env = { ...rig.h.env };
    delete env.KISEKI_CA_PATH;
    delete env.KISEKI_CERT_PATH;
    delete env.KISEKI_KEY_PATH;
    await sh(process.execPath, [CLI, 'mount', path, '--data-addr', `unix:${node.socketPath}`, '-o', 'chunk_size=1M,cache_mode=bypass'], { env });
    try {
      await bash(`head -c ${8 * MiB} /dev/urandom > "${rig.dir}/k.bin"; cp "${rig.dir}/k.bin" "${path}/keep.bin"`);
      const big = await spawnTool('bash', ['-c', `dd if=/dev/urandom of="${path}/big.bin" bs=1M count=64 conv=fsync 2>&1`]);
      figure('P-FLT5 writer', { exit: big.code, error: /No space left on device/.exec(big.out)?.[0] ?? big.out.trim().split('\n').pop() });
      assert.notEqual(big.code, 0, 'the oversized write fails');
      assert.match(big.out, /No space left on device/, `ENOSPC to the writer, got: ${big.out}`);
      await bash(`timeout 30 cmp "${rig.dir}/k.bin" "${path}/keep.bin"`);
      // With the disk still full, another writer also gets ENOSPC (never EIO), or succeeds intact.
      const second = await spawnTool('bash', ['-c', `timeout 30 cp "${rig.dir}/k.bin" "${path}/after.bin" 2>&1 && timeout 30 cmp "${rig.dir}/k.bin" "${path}/after.bin"`]);
      figure('P-FLT5 second writer', { exit: second.code, error: second.out.trim().split('\n').pop() ?? '' });
      if (second.code !== 0) assert.match(second.out, /No space left on device/, `the second writer gets ENOSPC, got: ${second.out}`);
      await bash(`timeout 30 cmp "${rig.dir}/k.bin" "${path}/keep.bin"`);
    } finally {
      await sh(process.execPath, [CLI, 'unmount', path], { env }).catch(() => undefined);
      if (await isMounted(path)) await sh('fusermount3', ['-uz', path]).catch(() => undefined);
    }
  } finally {
    await node.stop();
    await run('umount', [small]);
  }
});

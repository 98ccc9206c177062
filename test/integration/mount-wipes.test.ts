// I-CC12 and I-CC6 through a real mount: a crypto-shred reported by key health, and a node that
// stays unreachable past max_disconnect_seconds, each wipe every cached plaintext byte of the mount.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { open, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DEFAULT_POLICY } from '../../src/cache/cache-policy.js';
import { NODE_CLI, bash, sh, spawnTool, startMountHarness, type MountHarness } from './mount-harness.js';
import { TENANT, l2Files, until } from './mount-cache-fixtures.js';

const CLIENT_CLI = resolve(__dirname, '../../src/cli/kiseki-client.js');
const harnesses: MountHarness[] = [];
after(async () => { await Promise.all(harnesses.map((h) => h.close())); });

/** Every L2 chunk file of every pool under the harness's cache dir. */
async function chunkFiles(h: MountHarness): Promise<string[]> {
  return [...(await l2Files(h.env.KISEKI_CACHE_DIR!)).values()];
}

/** A mount whose policy has short wipe intervals, with a 3-chunk file written and read back. */
async function mountWithCachedFile(policy: Partial<typeof DEFAULT_POLICY>): Promise<{ h: MountHarness; file: string }> {
  const h = await startMountHarness();
  harnesses.push(h);
  const policyFile = join(h.dir, 'policy.json');
  await writeFile(policyFile, JSON.stringify({ ...DEFAULT_POLICY, ...policy }));
  await sh(process.execPath, [NODE_CLI, 'admin', '--data-dir', join(h.dir, 'node'), 'set-policy', '--tenant', TENANT, '--file', policyFile]);
  // One mount writes; a second mount of the namespace reads, so its L2 fills from canonical (the
  // writer's L2 holds its own sealed chunks too).
  const writer = await h.mount('w', ['-o', 'chunk_size=1M']);
  const reader = await h.mount('r', ['-o', 'chunk_size=1M']);
  const file = join(reader.path, 'f.bin');
  await bash(`head -c 3145728 /dev/urandom > '${h.dir}/src.bin' && cp '${h.dir}/src.bin' '${writer.path}/f.bin' && cmp '${h.dir}/src.bin' '${file}'`);
  assert.ok(await until(async () => (await chunkFiles(h)).length >= 3, 10_000), 'the read filled L2');
  return { h, file };
}

test('I-CC12 mount: a crypto-shred seen by key health wipes L2 (zeroed before unlink) and reads fail with EIO', async () => {
  const { h, file } = await mountWithCachedFile({ key_health_interval_ms: 300 });
  const cached = await chunkFiles(h);
  const held = await open(cached[0]!, 'r'); // I-CC2: watch the bytes through a descriptor opened before the wipe
  try {
    await sh(process.execPath, [NODE_CLI, 'admin', '--data-dir', join(h.dir, 'node'), 'destroy-kek', '--tenant', TENANT]);
    assert.ok(await until(async () => (await chunkFiles(h)).length === 0, 15_000), 'L2 emptied within the key-health interval (plus slack)');
    const { buffer } = await held.read({ buffer: Buffer.alloc(1 << 20), position: 0 });
    assert.ok(buffer.every((b) => b === 0), 'the cached plaintext was overwritten with zeros before unlink');
  } finally {
    await held.close();
  }
  const read = await spawnTool('cat', [file], h.env);
  assert.notEqual(read.code, 0, 'no plaintext is served after a crypto-shred');
  assert.match(read.out, /Input\/output error/);
  // Stats may come from stats.json (published about once a second) when the control socket's path is too long.
  let stats: { wipes: number }[] = [];
  const counted = await until(async () => {
    stats = JSON.parse(await sh(process.execPath, [CLIENT_CLI, 'cache', '--stats', '--json'], { env: h.env })) as { wipes: number }[];
    return stats.some((s) => s.wipes >= 1);
  }, 10_000);
  assert.ok(counted, `a wipe is counted: ${JSON.stringify(stats)}`);
});

test('I-CC6 mount: no successful RPC for max_disconnect_seconds wipes L2; the mount itself stays up', async () => {
  const { h, file } = await mountWithCachedFile({ max_disconnect_seconds: 2, key_health_interval_ms: 500 });
  await h.node!.stop();
  h.node = null;
  assert.ok(await until(async () => (await chunkFiles(h)).length === 0, 20_000), 'L2 wiped after the disconnect threshold');
  const read = await spawnTool('cat', [file], h.env);
  assert.notEqual(read.code, 0, 'with the node down and the cache wiped there is nothing to serve');
  assert.match(read.out, /Input\/output error/);
});

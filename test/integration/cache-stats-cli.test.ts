// `kiseki-client cache --stats/--wipe` in one process reading and wiping the live pool of another.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runCacheCommand } from '../../src/cli/commands/cache.js';
import { exited, spawnPoolOwner, tempDir } from './cache-fixtures.js';

const dirs: { cleanup(): Promise<void> }[] = [];
after(async () => { for (const d of dirs) await d.cleanup(); });

/** The command as a real program: commander + registerCacheCommand in a fresh node process. */
function cacheCli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const mod = join(__dirname, '../../src/cli/commands/cache.js');
  const script = `const { Command } = require('commander'); const { registerCacheCommand } = require(${JSON.stringify(mod)});
    const p = new Command('kiseki-client'); registerCacheCommand(p);
    p.parseAsync(process.argv.slice(1), { from: 'user' }).catch((e) => { process.stderr.write(e.message + '\\n'); process.exit(1); });`;
  return spawnSync(process.execPath, ['-e', script, 'cache', ...args], { encoding: 'utf8' });
}

test('cache --stats in another process reads the live pool of a running cache owner; --wipe wipes it', async () => {
  const d = await tempDir();
  dirs.push(d);
  const owner = await spawnPoolOwner({ cacheDir: d.path, tenant: 't1', chunks: 3, chunkBytes: 8192 });
  const json = cacheCli(['--stats', '--json', '--cache-dir', d.path]);
  assert.equal(json.status, 0, json.stderr);
  const [s] = JSON.parse(json.stdout) as { pool_id: string; pid: number; l2_entries: number; l2_bytes: number; l1_hits: number; source: string }[];
  assert.equal(s!.pool_id, owner.info.poolId);
  assert.equal(s!.pid, owner.proc.pid);
  assert.equal(s!.l2_entries, 3);
  assert.equal(s!.l2_bytes, 3 * (8192 + 4));
  assert.equal(s!.l1_hits, 1);
  assert.equal(s!.source, 'control-socket');

  const human = cacheCli(['--stats', '--cache-dir', d.path]);
  assert.match(human.stdout, /^Cache mode:\s{8}Organic$/m);
  assert.match(human.stdout, /^L2 bytes used:\s+24\.0 KiB$/m);
  assert.match(human.stdout, /^L1 hits:\s+1$/m);

  const wiped = cacheCli(['--wipe', '--pool', owner.info.poolId, '--cache-dir', d.path]);
  assert.equal(wiped.status, 0, wiped.stderr);
  assert.match(wiped.stdout, /Cache wiped \(L1 \+ L2 \+ metadata\)/);
  for (const id of owner.info.chunkIds) assert.equal(existsSync(join(owner.info.dir, 'chunks', id.slice(0, 2), id)), false);
  const after = JSON.parse(cacheCli(['--stats', '--json', '--cache-dir', d.path]).stdout) as { wipes: number; l2_entries: number; l1_bytes: number }[];
  assert.deepEqual([after[0]!.wipes, after[0]!.l2_entries, after[0]!.l1_bytes], [1, 0, 0]);

  owner.proc.kill('SIGKILL');
  await exited(owner.proc);
  assert.equal(await runCacheCommand({ stats: true, cacheDir: d.path }), `No live cache pools under ${d.path}.`, 'a dead owner\'s pool is not live');
  await assert.rejects(runCacheCommand({ stats: true, cacheDir: d.path, pool: owner.info.poolId }), /no live cache pool/);
  await assert.rejects(runCacheCommand({ cacheDir: d.path }), /--stats or --wipe/);
  const bad = cacheCli(['--stats', '--pool', 'nope', '--cache-dir', d.path]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /32 lowercase hex/);
});

test('a pool whose control.sock path exceeds sun_path still answers on it (bound through /proc/self/fd)', async () => {
  const d = await tempDir();
  dirs.push(d);
  const deep = join(d.path, 'x'.repeat(60));
  const owner = await spawnPoolOwner({ cacheDir: deep, tenant: 't1', chunks: 2 });
  assert.ok(Buffer.byteLength(join(owner.info.dir, 'control.sock')) > 107);
  assert.equal(existsSync(join(owner.info.dir, 'control.sock')), true, 'the socket is bound at its long path');
  type Row = { l2_entries: number; source: string; pid: number };
  const [s] = JSON.parse(await runCacheCommand({ stats: true, json: true, cacheDir: deep })) as Row[];
  assert.deepEqual([s!.source, s!.l2_entries, s!.pid], ['control-socket', 2, owner.proc.pid]);
  assert.match(await runCacheCommand({ wipe: true, cacheDir: deep }), /Cache wiped/);
  owner.proc.kill('SIGTERM');
  await exited(owner.proc);
  assert.equal(existsSync(owner.info.dir), false);
});

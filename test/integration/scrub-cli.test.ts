// kiseki-cache-scrub as a real program against real pools owned by real processes.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { exited, spawnPoolOwner, tempDir, waitFor } from './cache-fixtures.js';

const SCRUB = join(__dirname, '../../src/cli/kiseki-cache-scrub.js');
const dirs: { cleanup(): Promise<void> }[] = [];
after(async () => { for (const d of dirs) await d.cleanup(); });

test('kiseki-cache-scrub --dry-run reports orphans and removes nothing; a real pass zero-overwrites and removes only orphans', async () => {
  const d = await tempDir();
  dirs.push(d);
  const live = await spawnPoolOwner({ cacheDir: d.path, tenant: 'tA', chunks: 2 });
  const deadA = await spawnPoolOwner({ cacheDir: d.path, tenant: 'tA', chunks: 2 });
  const deadB = await spawnPoolOwner({ cacheDir: d.path, tenant: 'tB', chunks: 1 });
  for (const p of [deadA, deadB]) { p.proc.kill('SIGKILL'); await exited(p.proc); }

  const dry = spawnSync(process.execPath, [SCRUB, '--cache-dir', d.path, '--dry-run', '--json'], { encoding: 'utf8' });
  assert.equal(dry.status, 0, dry.stderr);
  const dryOut = JSON.parse(dry.stdout) as { dryRun: boolean; removed: { path: string }[]; live: { path: string }[] };
  assert.equal(dryOut.dryRun, true);
  assert.deepEqual(dryOut.removed.map((p) => p.path).sort(), [deadA.info.dir, deadB.info.dir].sort());
  assert.ok(dryOut.live.some((l) => l.path === live.info.dir));
  assert.equal(existsSync(deadA.info.dir) && existsSync(deadB.info.dir), true, 'dry run leaves everything');
  assert.match(dry.stderr, /would remove orphaned cache pool/);

  const fd = await open(join(deadA.info.dir, 'chunks', deadA.info.chunkIds[0]!.slice(0, 2), deadA.info.chunkIds[0]!), 'r');
  const real = spawnSync(process.execPath, [SCRUB, '--cache-dir', d.path], { encoding: 'utf8' });
  assert.equal(real.status, 0, real.stderr);
  assert.equal(real.stdout.trim(), 'removed 2 orphaned pools');
  const logs = real.stderr.trim().split('\n').map((l) => JSON.parse(l) as { msg: string; pool: string; tenant: string });
  assert.deepEqual(logs.filter((l) => l.msg === 'removed orphaned cache pool').map((l) => l.pool).sort(), [deadA.info.dir, deadB.info.dir].sort());
  assert.equal(existsSync(deadA.info.dir) || existsSync(deadB.info.dir), false);
  const b = Buffer.alloc(4100, 9);
  await fd.read(b, 0, b.length, 0);
  await fd.close();
  assert.ok(b.every((x) => x === 0), 'zero-overwritten before unlinking');
  for (const id of live.info.chunkIds) assert.equal(existsSync(join(live.info.dir, 'chunks', id.slice(0, 2), id)), true);

  const again = spawnSync(process.execPath, [SCRUB, '--cache-dir', d.path], { encoding: 'utf8' });
  assert.equal(again.stdout.trim(), 'removed 0 orphaned pools');
  live.proc.kill('SIGTERM');
  await exited(live.proc);
});

test('kiseki-cache-scrub --interval keeps scrubbing until SIGTERM; bad arguments exit 2', async () => {
  const d = await tempDir();
  dirs.push(d);
  const scrub = spawn(process.execPath, [SCRUB, '--cache-dir', d.path, '--interval', '0.1', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  scrub.stdout.setEncoding('utf8').on('data', (c: string) => { out += c; });
  const dead = await spawnPoolOwner({ cacheDir: d.path, tenant: 't1', chunks: 1 });
  dead.proc.kill('SIGKILL');
  await exited(dead.proc);
  await waitFor(() => !existsSync(dead.info.dir));
  assert.equal(existsSync(dead.info.dir), false, 'the looping scrubber removed the orphan');
  const linesNow = out.split('\n').length;
  await waitFor(() => out.split('\n').length > linesNow + 1); // at least one more pass: it loops
  scrub.kill('SIGTERM');
  assert.deepEqual(await exited(scrub), { code: 0, signal: null });
  const passes = out.trim().split('\n').map((l) => JSON.parse(l) as { removed: unknown[] });
  assert.ok(passes.length >= 2, `${passes.length} passes`);
  assert.equal(passes.reduce((n, p) => n + p.removed.length, 0), 1);
  assert.equal(spawnSync(process.execPath, [SCRUB, '--interval', 'soon'], { encoding: 'utf8' }).status, 2);
});

// Reliability tier (npm run test:reliability): pool owners start, crash and exit cleanly for a while
// (KISEKI_LONG_SECONDS, default 60) while kiseki-cache-scrub loops every 100 ms and start-up
// scavenging runs in every new owner. No live pool may ever lose a file; at the end nothing is left.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { exited, spawnPoolOwner, tempDir, waitFor } from './cache-fixtures.js';

const SCRUB = join(__dirname, '../../src/cli/kiseki-cache-scrub.js');
const SECONDS = Number(process.env.KISEKI_LONG_SECONDS ?? 60);
const dirs: { cleanup(): Promise<void> }[] = [];
after(async () => { for (const d of dirs) await d.cleanup(); });

test('I-CC8 (long): a looping scrubber and start-up scavenging never remove a live pool, and leave no orphan behind', { timeout: (SECONDS + 120) * 1000 }, async () => {
  const d = await tempDir();
  dirs.push(d);
  const scrub = spawn(process.execPath, [SCRUB, '--cache-dir', d.path, '--interval', '0.1', '--json'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let scrubOut = '';
  scrub.stdout.setEncoding('utf8').on('data', (c: string) => { scrubOut += c; });
  const end = Date.now() + SECONDS * 1000;
  let owners = 0;
  let crashed = 0;
  while (Date.now() < end) {
    const batch = await Promise.all([1, 2, 3].map(() => spawnPoolOwner({ cacheDir: d.path, tenant: 't1', chunks: 5, chunkBytes: 16 * 1024, scavenge: true })));
    owners += batch.length;
    await new Promise((r) => setTimeout(r, 150)); // at least one scrub pass while they live
    for (const o of batch) {
      for (const id of o.info.chunkIds) assert.equal(existsSync(join(o.info.dir, 'chunks', id.slice(0, 2), id)), true, `live pool ${o.info.dir} lost ${id}`);
    }
    for (const [i, o] of batch.entries()) {
      o.proc.kill(i === 0 ? 'SIGKILL' : 'SIGTERM');
      const r = await exited(o.proc);
      if (i === 0) crashed++;
      else assert.deepEqual(r, { code: 0, signal: null });
    }
  }
  await waitFor(() => scrubOut.split('\n').length > 3);
  const t1 = join(d.path, 't1');
  await waitFor(() => existsSync(t1) && readdirSync(t1).length === 0, 20_000);
  assert.deepEqual(await readdir(t1), [], 'every crashed owner\'s pool was scrubbed');
  scrub.kill('SIGTERM');
  assert.deepEqual(await exited(scrub), { code: 0, signal: null });
  const removed = scrubOut.trim().split('\n').map((l) => JSON.parse(l) as { removed: unknown[]; errors: unknown[] });
  assert.equal(removed.reduce((n, p) => n + p.errors.length, 0), 0);
  assert.ok(owners >= 3 && crashed >= 1);
});

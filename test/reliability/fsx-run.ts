// Runs the fsx checker (fsx.ts) as a child process against a file in a real mount (kiseki-node on a
// unix socket, chunk_size=1M so random I/O crosses many chunk boundaries). Every flush stores new
// chunks and the reference node keeps every chunk file it ever stored (docs/node.md): about 9 GB
// per 25,000 operations (fsx.long.test.ts runs rounds of that). The L2 pool is capped at 1 GiB so
// that its copy of every written chunk does not double that (eviction then runs all the time, which
// fsx checks too).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startTool, startMountHarness } from '../integration/mount-harness.js';

export async function fsxAgainstMount(ops: number, mmapEvery: number): Promise<void> {
  const seed = Number(process.env.KISEKI_FSX_SEED ?? (Date.now() % 2 ** 31));
  const h = await startMountHarness();
  try {
    const m = await h.mount('fsx', ['-o', 'chunk_size=1M,cache_l2_max=1G']);
    const run = startTool(process.execPath, [join(__dirname, 'fsx.js'), '--file', join(m.path, 'fsx.dat'), '--ops', String(ops), '--seed', String(seed),
      '--mmap-every', String(mmapEvery)]);
    const { code, out } = await run.done;
    assert.equal(code, 0, `fsx failed (rerun with KISEKI_FSX_SEED=${seed}):\n${out}`);
    const summary = JSON.parse(out.split('\n').find((l) => l.startsWith('{'))!) as { ops: number; bytesCompared: number; counts: Record<string, number> };
    console.log(`figure: fsx = ${JSON.stringify({ seed, ...summary })}`);
    assert.equal(summary.ops, ops);
    assert.ok(summary.counts.read! > ops / 4 && summary.bytesCompared > 0);
    await m.unmount();
  } finally {
    await h.close();
  }
}

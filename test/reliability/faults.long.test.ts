// P-FLT6 (long tier): replicas of a 3-node R = 2 cluster kill -9ed and restarted again and again,
// one at a time, under continuous O_DIRECT readers of one mount → zero failed reads, every read exact.
// P-FLT7: the same under a writer, the kill landing at a random moment of the write.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { bash, startTool } from '../integration/mount-harness.js';
import { MiB, sleep, startTlsRig, type TlsRig } from './rel-harness.js';

let rig: TlsRig;
before(async () => {
  rig = await startTlsRig({ nodes: 3, replicas: 2 });
});
after(async () => rig.close());

test('P-FLT6: 20 kill -9 / restart cycles of replica nodes under continuous reads → zero failed reads', { timeout: 3600_000 }, async () => {
  const cycles = Number(process.env.KISEKI_FAULT_CYCLES ?? 20);
  const m = await rig.mount('flt6', ['--namespace', 'flt6', '-o', 'chunk_size=1M,cache_mode=bypass,meta_ttl_ms=0']);
  await bash(`head -c ${16 * MiB} /dev/urandom > "${rig.dir}/f.bin"; cp "${rig.dir}/f.bin" "${m.path}/f.bin"`);
  const want = (await bash(`sha256sum < "${rig.dir}/f.bin"`)).split(' ')[0];
  const stop = `${rig.dir}/stop`;
  const readers = [1, 2].map(() => startTool('bash', ['-c',
    `set -o pipefail; while [ ! -e "${stop}" ]; do dd if="${m.path}/f.bin" iflag=direct bs=1M status=none | sha256sum | cut -d' ' -f1 || echo FAILED; done`]));
  const killed: number[] = [];
  for (let c = 0; c < cycles; c++) {
    const i = 1 + (c % 2); // nodes 2 and 3 (node 1 also holds the metadata)
    await rig.cluster.nodes[i]!.kill9();
    killed.push(i + 1);
    await sleep(1500);
    rig.cluster.nodes[i] = await rig.cluster.nodes[i]!.restart();
    await sleep(1500);
  }
  await bash(`touch "${stop}"`);
  const outs = await Promise.all(readers.map((r) => r.done));
  const lines = outs.flatMap((o) => o.out.trim().split('\n')).filter((l) => l !== '');
  const failed = lines.filter((l) => l !== want);
  console.log(`figure: P-FLT6 = ${JSON.stringify({ cycles, fileReads: lines.length, bytesCompared: lines.length * 16 * MiB, failed: failed.length })}`);
  assert.deepEqual(failed, [], 'every read of the file returned its exact bytes');
  assert.ok(lines.length >= cycles, `reads happened throughout (${lines.length})`);
  await m.unmount();
});

test('P-FLT7: a replica kill -9ed at a random moment under a writer, 12 times → each write completes or fails with EIO within bounds, committed data intact, every unmount flushes', { timeout: 3600_000 }, async () => {
  await bash(`head -c ${6 * MiB} /dev/urandom > "${rig.dir}/flt7-c.bin"; head -c ${64 * MiB} /dev/urandom > "${rig.dir}/flt7-w.bin"`);
  const outcomes: Array<{ killAtMs: number; exit: number | null; ms: number; storedMiB?: number }> = [];
  for (let i = 0; i < 12; i++) {
    const m = await rig.mount(`flt7-${i}`, ['--namespace', `flt7-${i}`, '-o', 'chunk_size=1M,cache_mode=bypass,meta_ttl_ms=0']);
    await bash(`cp "${rig.dir}/flt7-c.bin" "${m.path}/committed.bin"; sync "${m.path}/committed.bin"`);
    const started = Date.now();
    const writer = startTool('bash', ['-c', `dd if="${rig.dir}/flt7-w.bin" of="${m.path}/w.bin" bs=1M conv=fsync 2>&1`]);
    const killAtMs = 50 + Math.floor(Math.random() * 900);
    await sleep(killAtMs);
    await rig.cluster.nodes[1]!.kill9();
    const { code, out } = await writer.done;
    outcomes.push({ killAtMs, exit: code, ms: Date.now() - started });
    if (code !== 0) assert.match(out, /Input\/output error/, `round ${i}: a failed write reports EIO, got: ${out}`);
    await bash(`cmp "${rig.dir}/flt7-c.bin" "${m.path}/committed.bin"`);
    rig.cluster.nodes[1] = await rig.cluster.nodes[1]!.restart();
    // The unmount flushes what the failed write left dirty, to the replica that is back.
    await m.unmount();
    const again = await rig.mount(`flt7-${i}-check`, ['--namespace', `flt7-${i}`, '-o', 'cache_mode=bypass']);
    await bash(`cmp "${rig.dir}/flt7-c.bin" "${again.path}/committed.bin"`);
    // Whatever of the written file the nodes hold is exactly what was written (all of it, when the
    // writer's data reached the unmount flush).
    const size = Number((await bash(`stat -c %s "${again.path}/w.bin"`)).trim());
    await bash(`cmp -n ${size} "${rig.dir}/flt7-w.bin" "${again.path}/w.bin"`);
    outcomes.at(-1)!.storedMiB = size / MiB;
    await again.unmount();
  }
  console.log(`figure: P-FLT7 rounds = ${JSON.stringify(outcomes)}`);
  // ADR 0097: with one of two replicas dead, 64 MiB reach EIO in well under two minutes.
  for (const o of outcomes) assert.ok(o.ms < 120_000, `a writer took ${o.ms} ms`);
});

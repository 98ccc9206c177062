// P-FLT6 (long tier): replicas of a 3-node R = 2 cluster kill -9ed and restarted again and again,
// one at a time, under continuous O_DIRECT readers of one mount → zero failed reads, every read exact.
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

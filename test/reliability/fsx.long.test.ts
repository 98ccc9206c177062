// P-FSX (long tier, npm run test:reliability): ≥ 100,000 fsx operations against the mount, in rounds
// of 25,000 on a fresh node each: the reference node keeps every chunk file it stored (no GC,
// docs/node.md), about 9 GB a round, so a CI disk never holds more than one round's. Each round
// starts from an empty file; its seed is printed.
import { test } from 'node:test';
import { fsxAgainstMount } from './fsx-run.js';

const ROUND_OPS = 25_000;

test('P-FSX3: 100,000 fsx operations against the mount match the shadow copy byte for byte', { timeout: 4 * 3600_000 }, async () => {
  for (let left = Number(process.env.KISEKI_FSX_OPS ?? 100_000); left > 0; left -= ROUND_OPS) {
    await fsxAgainstMount(Math.min(left, ROUND_OPS), 1000);
  }
});

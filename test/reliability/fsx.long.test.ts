// P-FSX (long tier, npm run test:reliability): ≥ 100,000 fsx operations against the mount.
import { test } from 'node:test';
import { fsxAgainstMount } from './fsx-run.js';

test('P-FSX3: 100,000 fsx operations against the mount match the shadow copy byte for byte', { timeout: 4 * 3600_000 }, async () => {
  await fsxAgainstMount(Number(process.env.KISEKI_FSX_OPS ?? 100_000), 1000);
});

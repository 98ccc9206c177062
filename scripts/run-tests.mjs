// Test tiers over the compiled tests in dist/test/:
//   default      every *.test.js except *.long.test.js   (npm test; CI; well under 15 minutes)
//   reliability  only *.long.test.js                     (npm run test:reliability; long fsx/fault runs)
// Files run in separate processes (node's test runner); KISEKI_TEST_CONCURRENCY sets how many at once.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const tier = process.argv[2] ?? 'default';
const root = new URL('..', import.meta.url).pathname;
const testRoot = join(root, 'dist/test');

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

const all = walk(testRoot).filter((f) => f.endsWith('.test.js')).sort();
const files = all.filter((f) => (tier === 'reliability') === f.endsWith('.long.test.js'));
const only = process.env.KISEKI_TEST_ONLY;
const selected = only ? files.filter((f) => f.includes(only)) : files;
if (selected.length === 0) {
  console.error(`no test files for tier '${tier}'${only ? ` matching '${only}'` : ''}`);
  process.exit(1);
}
console.log(`tier ${tier}: ${selected.length} test files`);
for (const f of selected) console.log(`  ${relative(root, f)}`);
const r = spawnSync(process.execPath, [
  '--test',
  `--test-concurrency=${process.env.KISEKI_TEST_CONCURRENCY ?? '2'}`,
  // Per file: 5 minutes in the default tier; the long tier's fsx run alone takes half an hour.
  `--test-timeout=${process.env.KISEKI_TEST_TIMEOUT_MS ?? (tier === 'reliability' ? '14400000' : '300000')}`,
  ...selected,
], { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);

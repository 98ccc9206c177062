// The kiseki-client program as users run it: every command area is wired into the root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const BIN = join(__dirname, '../../src/cli/kiseki-client.js');
const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });

test('kiseki-client lists its command areas and each answers --help', () => {
  const root = run('--help');
  assert.equal(root.status, 0, root.stderr);
  for (const cmd of ['discover', 'cache', 'transport']) {
    assert.match(root.stdout, new RegExp(`^\\s+${cmd}\\b`, 'm'), `root help lists ${cmd}`);
    const sub = run(cmd, '--help');
    assert.equal(sub.status, 0, `${cmd} --help: ${sub.stderr}`);
    assert.match(sub.stdout, new RegExp(`Usage: kiseki-client ${cmd}`));
  }
});

test('kiseki-client rejects an unknown command with exit 2 and names it', () => {
  const r = run('frobnicate');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /frobnicate/);
});

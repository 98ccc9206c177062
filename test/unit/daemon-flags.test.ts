// The daemons' V8 flags reach every way they are started: the CLIs' shebangs and the daemonising spawn.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DAEMON_V8_FLAGS, daemonExecArgv } from '../../src/util/daemon-flags.js';

const DIST_CLI = resolve(__dirname, '../../src/cli');

test('the kiseki-node and kiseki-client-fuse shebangs start node with every daemon flag', () => {
  for (const cli of ['kiseki-node.js', 'kiseki-client-fuse.js']) {
    const shebang = readFileSync(join(DIST_CLI, cli), 'utf8').split('\n')[0]!;
    assert.match(shebang, /^#!\/usr\/bin\/env -S node /, `${cli}: ${shebang}`);
    for (const flag of DAEMON_V8_FLAGS) assert.ok(shebang.split(' ').includes(flag), `${cli} lacks ${flag}: ${shebang}`);
  }
});

test('daemonExecArgv adds the missing daemon flags and keeps a value the user gave', () => {
  assert.deepEqual(daemonExecArgv(['--inspect']), ['--inspect', ...DAEMON_V8_FLAGS]);
  assert.deepEqual(daemonExecArgv(['--initial-old-space-size=512']), ['--initial-old-space-size=512']);
});

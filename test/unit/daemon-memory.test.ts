import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

// In a child process: the settings are process-wide and the test runner is not a daemon.
function inChild(code: string): string {
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', cwd: join(__dirname, '..', '..') });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

test('keepFreedMemory: glibc takes the daemons\' malloc settings; bad arguments are a TypeError', () => {
  const mod = JSON.stringify(join(__dirname, '..', '..', 'src', 'util', 'daemon-memory.js'));
  const native = JSON.stringify(join(__dirname, '..', '..', 'src', 'util', 'native.js'));
  assert.equal(inChild(`console.log(require(${mod}).keepFreedMemory())`), 'true');
  assert.throws(() => inChild(`require(${native}).loadNative().sys.keepFreedMemory('big')`), /keepFreedMemory\(mmapThreshold, trimThreshold\)/);
});

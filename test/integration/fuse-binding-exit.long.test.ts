// Regression (long tier): process.exit() while mounted, repeated under CPU load, must exit with the
// process's code and leave no mount. It used to SIGSEGV in about 1 of 3 runs under load: the request
// table, a function-local static, was destroyed by exit() before the atexit unmount that uses it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { isMounted, startMemFs } from './fuse-binding-helper.js';

test('I-FB5: process.exit while mounted exits cleanly and unmounts, 40 times under CPU load', async () => {
  const burners: ChildProcess[] = [0, 1].map(() => spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
  try {
    for (let i = 0; i < 40; i++) {
      const fs = await startMemFs({ ro: true, defaultPermissions: true });
      try {
        await fsp.readdir(fs.mnt);
        fs.child.stdin!.write('exit\n');
        assert.deepEqual(await fs.exited, { code: 7, signal: null }, `run ${i}`);
        assert.equal(isMounted(fs.mnt), false, `run ${i}: no mount left`);
      } finally {
        fs.cleanup();
      }
    }
  } finally {
    for (const b of burners) b.kill('SIGKILL');
  }
});

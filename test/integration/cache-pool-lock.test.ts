// native/sys/flock.cc and PoolLock against real files and a real lock-holding process (flock(1)).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { flockBinding } from '../../src/cache/flock-binding.js';
import { PoolLock } from '../../src/cache/pool-lock.js';
import { exited, tempDir } from './cache-fixtures.js';

const dirs: { cleanup(): Promise<void> }[] = [];
after(async () => { for (const d of dirs) await d.cleanup(); });

test('flock: exclusive per open file description, released by unlock and by close; bad fds are typed errors', async () => {
  const d = await tempDir();
  dirs.push(d);
  const path = join(d.path, 'pool.lock');
  await writeFile(path, '');
  const f = flockBinding();
  const a = await open(path, 'r');
  const b = await open(path, 'r');
  assert.equal(f.tryLockExclusive(a.fd), true);
  assert.equal(f.tryLockExclusive(a.fd), true, 're-locking one description is a no-op');
  assert.equal(f.tryLockExclusive(b.fd), false, 'a second description of the same file in the same process is refused');
  f.unlock(a.fd);
  assert.equal(f.tryLockExclusive(b.fd), true);
  await b.close();
  assert.equal(f.tryLockExclusive(a.fd), true, 'closing the holder released it');
  await a.close();
  assert.throws(() => f.tryLockExclusive(987654), (e: NodeJS.ErrnoException) => e.code === 'EBADF');
  await assert.rejects(f.lockExclusive(987654), (e: NodeJS.ErrnoException) => e.code === 'EBADF');
  assert.throws(() => f.tryLockExclusive('3' as unknown as number), TypeError);
  assert.throws(() => f.unlock(-1), RangeError);
});

test('PoolLock.acquireBlocking waits off the JS thread until another process releases the lock', async () => {
  const d = await tempDir();
  dirs.push(d);
  const path = join(d.path, 'pool.lock');
  await writeFile(path, '');
  const holder = spawn('flock', ['-x', path, '-c', 'echo locked; read line'], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => holder.stdout!.once('data', () => resolve()));
  assert.equal((await PoolLock.tryOpen(path)).kind, 'held');
  let acquired = false;
  const waiting = PoolLock.acquireBlocking(path).then((l) => { acquired = true; return l; });
  let ticks = 0;
  for (; ticks < 20; ticks++) await new Promise((r) => setTimeout(r, 10)); // the event loop keeps running
  assert.equal(acquired, false);
  holder.stdin!.end('go\n');
  await exited(holder);
  const lock = await waiting;
  assert.equal(lock.held, true);
  assert.equal(await lock.isStillAtPath(), true);
  assert.equal((await PoolLock.tryOpen(path)).kind, 'held');
  await lock.release();
  await lock.release();
  const again = await PoolLock.tryOpen(path);
  assert.equal(again.kind, 'locked');
  if (again.kind === 'locked') await again.lock.release();
  assert.equal((await PoolLock.tryOpen(join(d.path, 'absent'))).kind, 'missing');
});

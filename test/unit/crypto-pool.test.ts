// The crypto pool (native/crypto/crypto-pool.cc, ADR 0015): one thread per CPU runs seal and open;
// promises settle on the JS thread; a process exits as soon as its last job settles; worker_threads
// get their own pool, torn down with the worker even while jobs run. Each case runs in a child process
// so that a hang or a crash fails the test instead of the runner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadCryptoBinding } from '../../src/crypto/crypto-binding.js';

const run = promisify(execFile);
const binding = join(__dirname, '../../src/crypto/crypto-binding.js');

/** A script for a child node: `seal(len)` resolves to the hex tag of a seal of len bytes of 0x03. */
function script(body: string): string {
  return `const { Worker, parentPort, workerData } = require('node:worker_threads');
const n = require(${JSON.stringify(binding)}).loadCryptoBinding().binding;
const kek = Buffer.alloc(32, 1), info = Buffer.from('i'), id = Buffer.alloc(32), nonce = Buffer.alloc(12);
async function seal(len) {
  const tag = Buffer.alloc(16);
  await n.seal(Buffer.alloc(len, 3), Buffer.alloc(len), id, 'given', null, kek, info, nonce, tag);
  return tag.toString('hex');
}
${body}`;
}

async function child(body: string, env: NodeJS.ProcessEnv = {}): Promise<{ stdout: string; ms: number }> {
  const t0 = Date.now();
  const { stdout } = await run(process.execPath, ['-e', script(body)], { timeout: 30_000, env: { ...process.env, ...env } });
  return { stdout: stdout.trim(), ms: Date.now() - t0 };
}

test('the crypto pool has one thread per CPU unless KISEKI_CRYPTO_THREADS says otherwise', async () => {
  const b = loadCryptoBinding();
  assert.equal(b.kind, 'loaded');
  if (process.env.KISEKI_CRYPTO_THREADS === undefined) {
    assert.equal((b as { binding: { poolThreads(): number } }).binding.poolThreads(), availableParallelism());
  }
  const { stdout } = await child('console.log(n.poolThreads())', { KISEKI_CRYPTO_THREADS: '3' });
  assert.equal(stdout, '3');
});

test('a process exits as soon as its last crypto job settles (the pool does not hold the loop open)', async () => {
  const { stdout, ms } = await child('seal(1 << 20).then((t) => console.log(t.length))');
  assert.equal(stdout, '32');
  assert.ok(ms < 10_000, `exited after ${ms} ms`);
});

test('a worker_thread seals with its own pool (same result as the main thread) and is torn down with jobs in flight', async () => {
  const worker = script(`
if (workerData === 'busy') { for (let i = 0; i < 8; i++) seal(32 << 20); }
else seal(1 << 20).then((t) => parentPort.postMessage(t));`);
  const { stdout } = await child(`
const code = ${JSON.stringify(worker)};
(async () => {
  const mine = await seal(1 << 20);
  const w = new Worker(code, { eval: true, workerData: 'one' });
  const theirs = await new Promise((res, rej) => { w.on('message', res); w.on('error', rej); });
  await new Promise((r) => w.on('exit', r));
  const busy = new Worker(code, { eval: true, workerData: 'busy' });
  await new Promise((r) => setTimeout(r, 100));
  await busy.terminate();
  console.log(mine === theirs ? 'same' : 'different', 'terminated');
})();`);
  assert.equal(stdout, 'same terminated');
});

test('process.exit while a 64 MiB seal runs does not crash', async () => {
  const { stdout } = await child('seal(64 << 20); setTimeout(() => { console.log("exiting"); process.exit(0); }, 5);');
  assert.equal(stdout, 'exiting');
});

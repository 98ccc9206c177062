// Mount lifecycle and coherence: two mounts of one namespace, read-only namespaces, draining on
// SIGTERM, unmount leaving nothing behind, and the embedded default persisting across remounts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mountReadAheadKb } from '../../src/fuse/read-ahead.js';
import { freePort } from '../helpers/node-process.js';
import { isMounted, NODE_CLI, bash, sh, startTool, startMountHarness, type MountHarness } from './mount-harness.js';

const LOCAL_TENANT = '00000000-0000-0000-0000-000000000001';
let h: MountHarness;

before(async () => {
  h = await startMountHarness();
});
after(async () => h.close());

async function until(check: () => Promise<boolean>, ms: number): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (await check()) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`condition not met within ${ms} ms`);
}

function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

test('two mounts of one namespace see each other\'s changes within meta_ttl_ms', async () => {
  const a = await h.mount('a', ['--namespace', 'shared', '-o', 'meta_ttl_ms=500']);
  const b = await h.mount('b', ['--namespace', 'shared', '-o', 'meta_ttl_ms=500']);
  await writeFile(join(a.path, 'note'), 'v1');
  const seen = await until(async () => (await readFile(join(b.path, 'note'), 'utf8').catch(() => '')) === 'v1', 3000);
  await writeFile(join(a.path, 'note'), 'version two');
  const changed = await until(async () => (await readFile(join(b.path, 'note'), 'utf8')) === 'version two', 3000);
  await bash(`rm "${a.path}/note"`);
  const removed = await until(async () => !(await bash(`ls "${b.path}"`)).includes('note'), 3000);
  // Each change shows within the 500 ms TTL plus slack for a loaded 2-core machine (the kernel and
  // the client each may serve the old view for one TTL).
  for (const ms of [seen, changed, removed]) assert.ok(ms <= 2000, `visible after ${ms} ms`);
  await a.unmount();
  await b.unmount();
});

test('unmount waits, flushes, and leaves no process and no mount', async () => {
  const m = await h.mount('u');
  await bash(`head -c 2000000 /dev/urandom > "${h.dir}/u.bin"; cp "${h.dir}/u.bin" "${m.path}/u.bin"`);
  await m.unmount();
  assert.equal(await isMounted(m.path), false);
  assert.ok(gone(m.pid), 'the mount process exited');
  assert.equal((await sh(process.execPath, [join(__dirname, '../../src/cli/kiseki-client-fuse.js'), 'status'], { env: h.env })).trim(), 'no kiseki mounts');
  const again = await h.mount('u');
  await bash(`cmp "${h.dir}/u.bin" "${again.path}/u.bin"`);
  await again.unmount();
});

test('status lists the mount; -o metrics_addr serves Prometheus cache counters', async () => {
  const port = await freePort();
  const m = await h.mount('st', ['-o', `metrics_addr=127.0.0.1:${port},cache_mode=organic`]);
  await bash(`head -c 3000000 /dev/urandom > "${m.path}/f" && cat "${m.path}/f" > /dev/null`);
  const st = JSON.parse(await sh(process.execPath, [join(__dirname, '../../src/cli/kiseki-client-fuse.js'), 'status', '--json'], { env: h.env })) as Array<Record<string, unknown>>;
  const mine = st.find((r) => r.mountpoint === m.path);
  assert.ok(mine !== undefined);
  assert.equal(mine.pid, m.pid);
  assert.equal(mine.cacheMode, 'organic');
  assert.equal(mine.state, 'serving');
  // ADR 0099: one chunk of read-ahead by default, in force on the mount's bdi (the tests run as root).
  assert.equal(mine.readAheadKb, 4096);
  assert.equal(await mountReadAheadKb(m.path), 4096);
  assert.match(await sh(process.execPath, [join(__dirname, '../../src/cli/kiseki-client-fuse.js'), 'status'], { env: h.env }), /read-ahead 4096 KiB/);
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  assert.match(text, /^cache_l1_hits \d+/m);
  assert.match(text, /^cache_misses \d+/m);
  assert.match(text, /^cache_l2_bytes \d+/m);
  await m.unmount();
});

test('-o read_ahead_kb sets the kernel read-ahead of the mount (ADR 0099)', async () => {
  const m = await h.mount('ra', ['-o', 'read_ahead_kb=512']);
  assert.equal(await mountReadAheadKb(m.path), 512);
  await bash(`head -c 3000000 /dev/urandom > "${h.dir}/ra.bin"; cp "${h.dir}/ra.bin" "${m.path}/ra.bin"; cmp "${h.dir}/ra.bin" "${m.path}/ra.bin"`);
  await m.unmount();
});

test('SIGTERM drains: data written through a still-open descriptor is flushed before exit', async () => {
  const m = await h.mount('sig');
  const holder = startTool('python3', ['-c', `import os,time,sys
fd=os.open('${m.path}/held', os.O_CREAT|os.O_WRONLY, 0o644)
os.write(fd, b'written but never closed')
print('written', flush=True)
time.sleep(30)`]);
  await until(async () => (await readFile(join(m.path, 'held'), 'utf8').catch(() => '')).length > 0, 5000);
  process.kill(m.pid, 'SIGTERM');
  await until(async () => gone(m.pid), 20_000);
  assert.equal(await isMounted(m.path), false);
  process.kill(holder.pid, 'SIGKILL');
  await holder.done;
  const again = await h.mount('sig');
  assert.equal(await readFile(join(again.path, 'held'), 'utf8'), 'written but never closed');
  await again.unmount();
});

test('a read-only namespace answers EROFS to writes and still reads', async () => {
  const m = await h.mount('ro', ['--namespace', 'frozen']);
  await writeFile(join(m.path, 'kept'), 'old');
  await m.unmount();
  await sh(process.execPath, [NODE_CLI, 'admin', '--data-dir', join(h.dir, 'node'), 'set-read-only', '--tenant', LOCAL_TENANT, '--namespace', 'frozen']);
  const again = await h.mount('ro', ['--namespace', 'frozen']);
  assert.equal(await readFile(join(again.path, 'kept'), 'utf8'), 'old');
  const out = await bash(`touch "${again.path}/new" 2>&1 || true; echo x >> "${again.path}/kept" 2>&1 || true`);
  assert.match(out, /Read-only file system/);
  assert.equal(await readFile(join(again.path, 'kept'), 'utf8'), 'old');
  await again.unmount();
});

test('embedded default: no --data-addr starts a local node; data persists across remounts', async () => {
  const e = await startMountHarness({ node: false });
  try {
    const m = await e.mount('emb');
    await bash(`echo persisted > "${m.path}/f" && mkdir "${m.path}/d"`);
    await m.unmount();
    const again = await e.mount('emb');
    assert.equal(await readFile(join(again.path, 'f'), 'utf8'), 'persisted\n');
    const sock = await bash(`stat -c %a "${e.env.XDG_RUNTIME_DIR}/kiseki/node.sock"`);
    assert.equal(sock.trim(), '600');
    await again.unmount();
  } finally {
    const pid = Number(await readFile(join(e.env.XDG_RUNTIME_DIR!, 'kiseki', 'node.pid'), 'utf8').catch(() => 'NaN'));
    if (Number.isInteger(pid)) {
      process.kill(pid, 'SIGTERM');
      await until(async () => gone(pid), 10_000).catch(() => process.kill(pid, 'SIGKILL'));
    }
    await e.close();
  }
});

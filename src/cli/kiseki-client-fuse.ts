#!/usr/bin/env -S node --initial-old-space-size=64
// kiseki-client-fuse: mount / unmount / status. Argument parsing and output only; the mount itself
// is src/fuse/kiseki-mount.ts. Like sshfs and rclone, `mount` daemonises unless -f is given, and
// returns only once the mount is live (exit 0) or has failed (the error printed, exit 1).
import { execFile, spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { Command, Option } from 'commander';
import { formatBytes } from '../cache/cache-stats.js';
import { askControl, controlSocketPath, listRecords, registryDir, removeRecord, type MountRecord } from '../client/mount-registry.js';
import { parseMountOptions, MOUNT_OPTIONS } from '../client/mount-options.js';
import { DEFAULT_NAMESPACE } from '../client/mount-session.js';
import { KisekiError } from '../errors.js';
import { RunningMount } from '../fuse/kiseki-mount.js';
import { daemonExecArgv } from '../util/daemon-flags.js';
import { keepFreedMemory } from '../util/daemon-memory.js';
import { processAlive } from '../util/process.js';
import type { TransportStatus } from '../transport/transport-selector.js';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';

interface MountFlags {
  dataAddr?: string;
  tenant?: string;
  namespace: string;
  option: string[];
  foreground?: boolean;
}

function fail(err: unknown, code = 1): never {
  const msg = KisekiError.is(err) ? `${err.message} (${err.code})` : err instanceof Error ? err.message : String(err);
  process.stderr.write(`kiseki-client-fuse: ${msg}\n`);
  process.exit(code);
}

function describe(rec: MountRecord): string {
  return `${rec.mountpoint}: namespace ${rec.namespace} (tenant ${rec.tenant}) on ${rec.nodes.join(', ')}` +
    `${rec.embedded ? ' [embedded node]' : ''}, cache ${rec.cacheMode}${rec.readOnly ? ', read-only' : ''}, pid ${rec.pid}`;
}

async function runForeground(mountpoint: string, flags: MountFlags): Promise<void> {
  keepFreedMemory();
  const options = parseMountOptions(flags.option);
  let running: RunningMount;
  try {
    running = await RunningMount.start({
      mountpoint, namespace: flags.namespace, options,
      ...(flags.dataAddr !== undefined ? { dataAddr: flags.dataAddr } : {}),
      ...(flags.tenant !== undefined ? { tenant: flags.tenant } : {}),
      log: (m) => process.stderr.write(`kiseki-client-fuse: ${m}\n`),
    });
  } catch (err) {
    process.send?.({ error: KisekiError.is(err) ? `${err.message} (${err.code})` : String((err as Error).message ?? err) });
    fail(err);
  }
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => void running.stop(sig));
  process.stdout.write(`mounted ${describe(running.record)}\n`);
  process.send?.({ ready: running.record });
  process.disconnect?.();
  process.exit(await running.done);
}

async function runDaemon(mountpoint: string): Promise<void> {
  const abs = resolve(mountpoint);
  mkdirSync(registryDir(), { recursive: true, mode: 0o700 });
  const logPath = controlSocketPath(abs).replace(/\.sock$/, '.log');
  const log = openSync(logPath, 'a', 0o600);
  const args = [...process.argv.slice(1).filter((a) => a !== '--daemon'), '--foreground'];
  const child = spawn(process.execPath, [...daemonExecArgv(), ...args], { detached: true, stdio: ['ignore', log, log, 'ipc'] });
  const outcome = await new Promise<{ ready?: MountRecord; error?: string }>((done) => {
    child.once('message', (m) => done(m as { ready?: MountRecord; error?: string }));
    child.once('exit', (code, sig) => done({ error: `the mount process exited (${sig ?? `code ${code}`}) before the mount was live; see ${logPath}` }));
  });
  if (outcome.ready === undefined) fail(outcome.error);
  child.disconnect();
  child.unref();
  process.stdout.write(`mounted ${describe(outcome.ready)}\nlog: ${logPath}\n`);
  process.exit(0);
}

/**
 * A kiseki FUSE mount whose daemon died (kill -9, OOM) stays in the mount table and answers ENOTCONN.
 * Detaches it (fusermount3 -uz) and drops its record; false when `abs` is no such stale mount.
 */
async function cleanStaleMount(abs: string): Promise<boolean> {
  const escaped = abs.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
  const isKisekiFuse = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').some((l) => {
    const f = l.split(' ');
    return f[4] === escaped && (f[f.indexOf('-') + 1] ?? '').startsWith('fuse');
  });
  if (!isKisekiFuse) return false;
  const probe = await Promise.race([
    stat(abs).then(() => 'answers', (e: NodeJS.ErrnoException) => e.code ?? 'error'),
    new Promise<string>((r) => setTimeout(() => r('hangs'), 2000).unref()),
  ]);
  if (probe !== 'ENOTCONN') return false;
  await promisify(execFile)('fusermount3', ['-u', '-z', abs]);
  await removeRecord(abs);
  return true;
}

async function unmountCmd(mountpoint: string, opts: { timeout: string }): Promise<void> {
  const abs = resolve(mountpoint);
  const stale = async (): Promise<boolean> => {
    if (!(await cleanStaleMount(abs))) return false;
    process.stdout.write(`removed stale mount ${abs} (its mount process had died; data not fsynced before is lost)\n`);
    return true;
  };
  const rec = (await listRecords()).find((r) => r.mountpoint === abs);
  if (rec === undefined) {
    if (await stale()) process.exit(0);
    fail(`${abs} is not a running kiseki mount of this user (see \`kiseki-client-fuse status\`)`);
  }
  let res: Record<string, unknown>;
  try {
    res = await askControl(rec.controlSocket, { op: 'unmount' }, Number(opts.timeout) * 1000);
  } catch (err) {
    if (await stale()) process.exit(0);
    throw err;
  }
  if (typeof res.error === 'string') fail(res.error);
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && processAlive(rec.pid)) await new Promise((r) => setTimeout(r, 50));
  process.stdout.write(`unmounted ${abs}${res.code === 0 ? '' : ' (some data could not be flushed: see the mount log)'}\n`);
  process.exit(res.code === 0 ? 0 : 1);
}

async function statusCmd(opts: { json?: boolean }): Promise<void> {
  const recs = await listRecords();
  const live = await Promise.all(recs.map(async (r) => {
    try {
      return { ...r, ...(await askControl(r.controlSocket, { op: 'status' }, 2000)) };
    } catch (err) {
      return { ...r, state: 'not answering', error: (err as Error).message };
    }
  }));
  if (opts.json === true) {
    process.stdout.write(`${JSON.stringify(live, null, 2)}\n`);
    return;
  }
  if (live.length === 0) {
    process.stdout.write('no kiseki mounts\n');
    return;
  }
  for (const m of live) {
    const c = (m as { cache?: { l1_bytes: number; l2_bytes: number } }).cache;
    const ra = (m as { readAheadKb?: number | null }).readAheadKb;
    const t = (m as { transports?: TransportStatus[] }).transports ?? [];
    const active = t.map((x) => `node ${x.node}: ${x.active} (${x.failovers} failovers; ${x.transports.map((y) => `${y.name} ${y.state}`).join(', ')})`);
    process.stdout.write(`${m.mountpoint}\n  namespace  ${m.namespace} (tenant ${m.tenant})${m.readOnly ? ' read-only' : ''}\n` +
      `  node(s)    ${m.nodes.join(', ')}${m.embedded ? ' [embedded]' : ''}\n  transport  ${m.transport}\n` +
      active.map((a) => `  active     ${a}\n`).join('') +
      `  cache      ${m.cacheMode} in ${m.cacheDir}${c !== undefined ? `: L1 ${formatBytes(c.l1_bytes)}, L2 ${formatBytes(c.l2_bytes)}` : ''}\n` +
      (ra !== undefined ? `  read-ahead ${ra === null ? 'the kernel default (could not be set: not root?)' : `${ra} KiB`}\n` : '') +
      `  pid        ${m.pid}  state ${String((m as { state?: string }).state)}\n`);
  }
}

const optionHelp = Object.entries(MOUNT_OPTIONS).map(([k, s]) => `  ${k.padEnd(20)} ${s.help}`).join('\n');

const program = new Command('kiseki-client-fuse')
  .description('Mount a Kiseki namespace (client-side encrypted) with FUSE.');

program.command('mount')
  .argument('<mountpoint>', 'an existing empty directory')
  .option('--data-addr <h:p,...>', 'storage node seeds (default: KISEKI_SEEDS, else the embedded node of this user)')
  .option('--tenant <id>', 'expected tenant id (checked against the client identity)')
  .option('--namespace <name>', 'namespace to mount (created if missing)', DEFAULT_NAMESPACE)
  .option('-o, --option <k=v,...>', 'mount options (repeatable), see below', (v: string, acc: string[]) => [...acc, v], [] as string[])
  .option('-f, --foreground', 'stay in the foreground (default: daemonise once mounted)')
  .addOption(new Option('--daemon').hideHelp())
  .addHelpText('after', `\nMount options (-o):\n${optionHelp}\n\nPrecedence: -o > KISEKI_CACHE_* environment > the node's cache policy, clamped to the policy's ceilings.\n`)
  .action(async (mountpoint: string, flags: MountFlags) => {
    try {
      parseMountOptions(flags.option);
    } catch (err) {
      fail(err, 2);
    }
    await (flags.foreground === true ? runForeground(mountpoint, flags) : runDaemon(mountpoint));
  });

program.command('unmount')
  .argument('<mountpoint>')
  .option('--timeout <seconds>', 'how long to wait for in-flight I/O and flushes', '120')
  .description('wait for in-flight I/O, flush dirty files, unmount, stop the mount process')
  .action((mp: string, opts: { timeout: string }) => unmountCmd(mp, opts).catch((e: unknown) => fail(e)));

program.command('status')
  .option('--json', 'machine-readable output')
  .description('running mounts: mount point, namespace, node(s), transport, cache mode and usage, pid')
  .action((opts: { json?: boolean }) => statusCmd(opts).catch((e: unknown) => fail(e)));

program.parseAsync(process.argv).catch((e: unknown) => fail(e));

// `kiseki-client stage`: pre-fetch datasets into a pinned cache pool (brief §5, ADR 0090–0091).
//
//   stage --dataset P [--dataset P2 …] [--daemon] [--timeout S] [--json]   stage into one pool
//   stage --status [--dataset P] [--pool ID] [--json]                       what is staged where
//   stage --release P [--pool ID]                                           drop one dataset
//   stage --release-all [--pool ID]                                         drop every dataset
//
// Without --daemon the pool is handed over on exit (kept on disk with a handoff deadline of --timeout)
// and its id printed. With --daemon a detached child stages, the foreground prints only the pool id
// once the data is staged, and the child keeps the pool locked until a workload adopts it.
import { spawn } from 'node:child_process';
import { readFile, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { CACHE_ENV, defaultCacheDir } from '../../cache/cache-config.js';
import { formatBytes } from '../../cache/cache-stats.js';
import { isPoolId, parsePoolId } from '../../cache/pool-id.js';
import { HANDOFF_FILE, LOCK_FILE } from '../../cache/pool-layout.js';
import { PoolLock } from '../../cache/pool-lock.js';
import { scrubCacheDir } from '../../cache/scrub.js';
import { listManifests, removeManifest, type StagingManifest } from '../../cache/staging-manifest.js';
import { parseMountOptions } from '../../client/mount-options.js';
import { DEFAULT_NAMESPACE, fsDepsFor, MountSession, selectingTransportFactory } from '../../client/mount-session.js';
import { PoolHold } from '../../client/pool-handoff.js';
import { Session } from '../../client/session.js';
import { canonicalReader, DEFAULT_STAGE_CONCURRENCY, DEFAULT_STAGE_LIMITS, normalizeDatasetPath, Stager, type StageProgress, type StageResult } from '../../client/stager.js';
import { kerr, KisekiError, type ErrorKind } from '../../errors.js';

export interface StageOptions {
  dataset?: string[];
  daemon?: boolean;
  daemonChild?: boolean;
  timeout: string;
  status?: boolean;
  release?: string;
  releaseAll?: boolean;
  pool?: string;
  json?: boolean;
  namespace: string;
  dataAddr?: string;
  cacheDir?: string;
  maxDepth: string;
  maxFiles: string;
  parallel: string;
}

/** Messages of the --daemon child to its foreground parent (IPC). */
type ChildMessage =
  | { kind: 'event'; event: StageEvent }
  | { kind: 'ready'; poolId: string }
  | { kind: 'error'; message: string; errorKind: ErrorKind };

/** One line of --json output. */
export type StageEvent =
  | { event: 'pool'; pool_id: string; tenant: string; adopted: boolean }
  | ({ event: 'progress' } & ProgressJson)
  | ({ event: 'staged' } & StageResult)
  | { event: 'done'; pool_id: string; datasets: StageResult[] };

interface ProgressJson {
  dataset: string; phase: string; files: number; chunks_total: number; chunks_done: number; chunks_cached: number; bytes_total: number; bytes_done: number;
}

function cacheDirOf(opts: StageOptions): string {
  return opts.cacheDir ?? (process.env[CACHE_ENV.dir] || defaultCacheDir());
}

function count(text: string, name: string): number {
  if (!/^\d+$/.test(text)) throw kerr('InvalidArgument', `${name} must be a whole number, got ${JSON.stringify(text)}`);
  return Number(text);
}

function poolFilter(opts: StageOptions): string | undefined {
  const p = opts.pool ?? (process.env[CACHE_ENV.poolId] || undefined);
  return p === undefined ? undefined : parsePoolId(p, opts.pool !== undefined ? '--pool' : CACHE_ENV.poolId);
}

// ─── staging ────────────────────────────────────────────────────────────────────────────────────

/**
 * Stages every dataset into one pool. `emit` receives the progress and result events. Returns the
 * open mount session and the pool id; the caller decides the pool's fate (hold, hand over).
 */
async function stageAll(opts: StageOptions, emit: (e: StageEvent) => void, hold: PoolHold | null): Promise<{ ms: MountSession; poolId: string; results: StageResult[] }> {
  try {
    return await stageAllUnnamed(opts, emit, hold);
  } catch (err) {
    throw namingDatasets(opts.dataset ?? [], err);
  }
}

/** Every staging failure starts with what could not be staged (the Slurm hook log shows the first line). */
function namingDatasets(datasets: string[], err: unknown): KisekiError {
  const message = err instanceof Error ? err.message : String(err);
  if (message.startsWith('cannot stage') || message.startsWith('dataset ')) return KisekiError.is(err) ? err : kerr('Internal', message, err);
  return kerr(KisekiError.is(err) ? err.kind : 'Internal', `cannot stage ${datasets.join(', ')}: ${message}`, err);
}

async function stageAllUnnamed(opts: StageOptions, emit: (e: StageEvent) => void, hold: PoolHold | null): Promise<{ ms: MountSession; poolId: string; results: StageResult[] }> {
  const datasets = (opts.dataset ?? []).map(normalizeDatasetPath);
  const limits = { maxDepth: count(opts.maxDepth, '--max-depth'), maxFiles: count(opts.maxFiles, '--max-files') };
  const env: NodeJS.ProcessEnv = { ...process.env, ...(opts.cacheDir !== undefined ? { [CACHE_ENV.dir]: opts.cacheDir } : {}) };
  const { factory } = await selectingTransportFactory(env);
  const session = await Session.open({ ...(opts.dataAddr !== undefined ? { dataAddr: opts.dataAddr } : {}), env, transportFactory: factory });
  let ms: MountSession;
  try {
    ms = await MountSession.open(session, {
      namespaceId: opts.namespace, create: false, mount: parseMountOptions([]), env,
      ...(hold !== null ? { onHandoffRequest: hold.request } : {}),
    });
  } catch (err) {
    await session.close().catch(() => undefined);
    throw err;
  }
  try {
    if (ms.cacheConfig.mode === 'bypass' || ms.cache.pool === null) {
      throw kerr('InvalidArgument', `cannot stage into a cache in bypass mode (${CACHE_ENV.mode} or the cache policy says bypass): bypass keeps no L2 pool`);
    }
    if (!ms.cacheConfig.stagingEnabled) {
      throw kerr('PermissionDenied', 'staging is disabled by the cache policy (staging_enabled=false, or the policy could not be fetched and the conservative defaults apply); ask the cluster administrator');
    }
    const deps = fsDepsFor(session, ms.cache, ms.namespaceId, true);
    const stager = new Stager({
      fs: ms.fs, cache: ms.cache, namespace: opts.namespace, limits, concurrency: Math.max(1, count(opts.parallel, '--parallel')),
      layout: (ino) => session.namespace.getLayout({ namespaceId: { value: ms.namespaceId }, ino }),
      reader: canonicalReader(deps.chunkCrypto, deps.placement),
    });
    const pool = ms.cache.pool;
    emit({ event: 'pool', pool_id: pool.id, tenant: pool.tenant, adopted: pool.adopted });
    const results: StageResult[] = [];
    for (const d of datasets) {
      const r = await stager.stage(d, (p) => emit({ event: 'progress', ...progressJson(p) }));
      emit({ event: 'staged', ...r });
      results.push(r);
    }
    emit({ event: 'done', pool_id: pool.id, datasets: results });
    return { ms, poolId: pool.id, results };
  } catch (err) {
    await ms.close().catch(() => undefined);
    throw err;
  }
}

function progressJson(p: StageProgress): ProgressJson {
  return {
    dataset: p.dataset, phase: p.phase, files: p.files, chunks_total: p.chunksTotal, chunks_done: p.chunksDone,
    chunks_cached: p.chunksCached, bytes_total: p.bytesTotal, bytes_done: p.bytesDone,
  };
}

/** How progress reaches the user: a bar on a terminal, plain lines otherwise, JSON lines with --json. */
interface Reporter {
  event(e: StageEvent): void;
  finish(): void;
}

function reporter(opts: StageOptions, out: NodeJS.WritableStream, isTty: boolean): Reporter {
  if (opts.json === true) {
    let last = 0;
    return {
      event(e) {
        // progress at most 4 times a second, plus every phase change
        if (e.event === 'progress' && e.phase === 'fetching' && e.chunks_done < e.chunks_total && Date.now() - last < 250) return;
        last = Date.now();
        out.write(`${JSON.stringify(e)}\n`);
      },
      finish() {},
    };
  }
  if (isTty) return barReporter();
  let last = 0;
  return {
    event(e) {
      if (e.event === 'progress') {
        if (e.phase === 'fetching' && e.chunks_done < e.chunks_total && Date.now() - last < 2000) return;
        last = Date.now();
        out.write(`${e.dataset}: ${e.phase} ${e.chunks_done}/${e.chunks_total} chunks, ${formatBytes(e.bytes_done)} of ${formatBytes(e.bytes_total)}\n`);
      } else if (e.event === 'staged') {
        out.write(`${summary(e)}\n`);
      }
    },
    finish() {},
  };
}

function summary(r: StageResult): string {
  if (r.already_staged) return `${r.namespace_path}: already staged (${r.chunks_total} chunks, ${formatBytes(r.bytes_total)})`;
  const secs = Math.max(r.elapsed_ms, 1) / 1000;
  return `${r.namespace_path}: staged ${r.compositions} file(s), ${r.chunks_total} chunks (${r.chunks_cached} already in the pool, ${r.chunks_fetched} fetched), ` +
    `${formatBytes(r.bytes_total)} in ${secs.toFixed(1)} s`;
}

function barReporter(): Reporter {
  // Loaded lazily: only a terminal needs it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const cliProgress = require('cli-progress') as typeof import('cli-progress');
  let bar: import('cli-progress').SingleBar | null = null;
  const started = Date.now();
  return {
    event(e) {
      if (e.event === 'progress' && e.phase === 'fetching') {
        if (bar === null) {
          bar = new cliProgress.SingleBar({
            stream: process.stderr, hideCursor: true, etaBuffer: 50,
            format: '{dataset} |{bar}| {value}/{total} chunks | {done} of {all} | {rate}/s | ETA {eta_formatted}',
          }, cliProgress.Presets.shades_classic);
          bar.start(e.chunks_total, e.chunks_done, { dataset: e.dataset, done: formatBytes(e.bytes_done), all: formatBytes(e.bytes_total), rate: formatBytes(0) });
        }
        const secs = Math.max(Date.now() - started, 1) / 1000;
        bar.update(e.chunks_done, { done: formatBytes(e.bytes_done), all: formatBytes(e.bytes_total), rate: formatBytes(Math.round(e.bytes_done / secs)) });
      } else if (e.event === 'staged') {
        bar?.stop();
        bar = null;
        process.stderr.write(`${summary(e)}\n`);
      }
    },
    finish() {
      bar?.stop();
    },
  };
}

/** Plain `stage`: stage, hand the pool over for --timeout seconds, print its id. */
async function runStageForeground(opts: StageOptions): Promise<void> {
  const timeoutMs = count(opts.timeout, '--timeout') * 1000;
  const rep = reporter(opts, opts.json === true ? process.stdout : process.stderr, process.stderr.isTTY === true);
  const { ms, poolId } = await stageAll(opts, (e) => rep.event(e), null).finally(() => rep.finish());
  try {
    await ms.cache.handOff(timeoutMs);
  } finally {
    await ms.close();
  }
  if (opts.json !== true) {
    process.stdout.write(`${poolId}\n`);
    process.stderr.write(`Pool ${poolId} awaits its workload for ${opts.timeout} s: run it with ${CACHE_ENV.poolId}=${poolId}\n`);
  }
}

/** `stage --daemon`, foreground half: start the child, relay its progress, print the pool id. */
async function runDaemonParent(opts: StageOptions): Promise<void> {
  const args = process.argv.slice(1).map((a) => (a === '--daemon' ? '--daemon-child' : a));
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
  const rep = reporter(opts, process.stderr, process.stderr.isTTY === true);
  const outcome = await new Promise<ChildMessage>((done) => {
    child.on('message', (m: ChildMessage) => {
      if (m.kind === 'event') rep.event(m.event);
      else done(m);
    });
    child.once('exit', (code, sig) => done({ kind: 'error', message: `the staging process exited (${sig ?? `code ${code}`}) before staging finished`, errorKind: 'Internal' }));
  });
  rep.finish();
  if (outcome.kind === 'error') {
    child.kill('SIGTERM');
    throw kerr(outcome.errorKind, outcome.message);
  }
  child.disconnect();
  child.unref();
  process.stdout.write(`${(outcome as { poolId: string }).poolId}\n`);
}

/** `stage --daemon`, background half: stage, report, then hold the pool for its adopter. */
async function runDaemonChild(opts: StageOptions): Promise<void> {
  const send = (m: ChildMessage) => { if (process.connected) process.send?.(m); };
  const hold = new PoolHold({ timeoutMs: count(opts.timeout, '--timeout') * 1000 });
  let staging = true;
  const onSignal = () => {
    if (staging) process.exit(143); // the pool was never handed out: nobody adopts it; the scrubber removes it
    hold.stop();
  };
  const listen = () => {
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      process.removeListener(sig, onSignal);
      process.on(sig, onSignal);
    }
  };
  listen();
  process.on('SIGHUP', () => undefined);
  let staged: { ms: MountSession; poolId: string };
  try {
    staged = await stageAll(opts, (event) => send({ kind: 'event', event }), hold);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    send({ kind: 'error', message, errorKind: KisekiError.is(err) ? err.kind : 'Internal' });
    process.disconnect?.();
    process.exit(1);
  }
  staging = false;
  // Probing libfabric (the transport selection) replaces the process's SIGTERM disposition with one
  // that exits 1; re-adding our listeners makes libuv install its handler again, after it.
  listen();
  hold.start(staged.ms.cache);
  send({ kind: 'ready', poolId: staged.poolId });
  process.disconnect?.();
  await hold.done;
  await staged.ms.close().catch(() => undefined);
  process.exit(0);
}

// ─── status and release ─────────────────────────────────────────────────────────────────────────

export type PoolHolding = 'held' | 'handoff-pending' | 'unheld';

export interface StagedPool {
  tenant: string;
  pool_id: string;
  dir: string;
  holding: PoolHolding;
  manifests: { file: string; manifest: StagingManifest }[];
}

async function holdingOf(dir: string): Promise<PoolHolding> {
  const r = await PoolLock.tryOpen(join(dir, LOCK_FILE));
  if (r.kind === 'held') return 'held';
  if (r.kind === 'locked') await r.lock.release();
  const marker = await readFile(join(dir, HANDOFF_FILE), 'utf8').catch(() => null);
  return marker !== null && Number(marker.trim()) > Date.now() ? 'handoff-pending' : 'unheld';
}

/** Every pool of this user under the cache directory (optionally one id) with its manifests. */
export async function listStagedPools(cacheDir: string, poolId?: string): Promise<StagedPool[]> {
  const out: StagedPool[] = [];
  for (const tenant of await dirNames(cacheDir)) {
    for (const id of await dirNames(join(cacheDir, tenant))) {
      if (!isPoolId(id) || (poolId !== undefined && id !== poolId)) continue;
      const dir = join(cacheDir, tenant, id);
      let manifests: StagedPool['manifests'];
      try {
        manifests = await listManifests(dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EACCES') continue; // another user's pool
        throw err;
      }
      out.push({ tenant, pool_id: id, dir, holding: await holdingOf(dir), manifests });
    }
  }
  return out;
}

async function dirNames(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory() && !d.name.startsWith('.')).map((d) => d.name).sort();
  } catch {
    return [];
  }
}

export async function runStatus(opts: StageOptions): Promise<string> {
  const only = opts.dataset?.map(normalizeDatasetPath);
  const pools = await listStagedPools(cacheDirOf(opts), poolFilter(opts));
  const rows = pools.flatMap((p) => p.manifests
    .filter((m) => only === undefined || only.includes(m.manifest.namespace_path))
    .map((m) => ({
      pool_id: p.pool_id, tenant: p.tenant, holding: p.holding, namespace: m.manifest.namespace, namespace_path: m.manifest.namespace_path,
      files: m.manifest.compositions.length, chunks: m.manifest.chunk_ids.length, bytes: m.manifest.bytes, snapshot_time: m.manifest.snapshot_time, manifest: m.file,
    })));
  if (opts.json === true) return JSON.stringify(rows, null, 2);
  if (rows.length === 0) return 'No datasets currently staged.';
  const lines = [`${'NAMESPACE PATH'.padEnd(40)}${'CHUNKS'.padStart(10)}${'BYTES'.padStart(12)}  POOL                              STATE`, '-'.repeat(106)];
  for (const r of rows) lines.push(`${r.namespace_path.padEnd(40)}${String(r.chunks).padStart(10)}${formatBytes(r.bytes).padStart(12)}  ${r.pool_id}  ${r.holding}`);
  lines.push('', `Total: ${rows.length} dataset(s), ${formatBytes(rows.reduce((s, r) => s + r.bytes, 0))}`);
  return lines.join('\n');
}

/**
 * A pool that nobody holds and that has no dataset left is removed now (zeroed, like the scrubber
 * does). A held pool keeps its chunks until its owner exits: only the owner can drop its pins.
 */
async function dropIfUnheld(cacheDir: string, p: StagedPool): Promise<string> {
  const r = await PoolLock.tryOpen(join(p.dir, LOCK_FILE));
  if (r.kind === 'held') return ` (pool ${p.pool_id} is in use by a running process; its chunks are freed when that process exits)`;
  if (r.kind === 'locked') {
    if ((await listManifests(p.dir)).length > 0) {
      await r.lock.release();
      return '';
    }
    await unlink(join(p.dir, HANDOFF_FILE)).catch(() => undefined);
    await r.lock.release();
  }
  await scrubCacheDir(cacheDir, { tenant: p.tenant });
  return ` (pool ${p.pool_id} removed)`;
}

export async function runRelease(opts: StageOptions): Promise<string> {
  const path = normalizeDatasetPath(opts.release!);
  const cacheDir = cacheDirOf(opts);
  let chunks = 0;
  const notes: string[] = [];
  for (const p of await listStagedPools(cacheDir, poolFilter(opts))) {
    const m = p.manifests.find((x) => x.manifest.namespace_path === path);
    if (m === undefined || !(await removeManifest(p.dir, path))) continue;
    chunks += m.manifest.chunk_ids.length;
    notes.push(await dropIfUnheld(cacheDir, p));
  }
  if (notes.length === 0) return `No staged dataset found for: ${path}`;
  return `Released ${chunks} chunk(s) from: ${path}${notes.join('')}`;
}

export async function runReleaseAll(opts: StageOptions): Promise<string> {
  const cacheDir = cacheDirOf(opts);
  const filter = poolFilter(opts);
  const pools = await listStagedPools(cacheDir, filter);
  if (pools.length === 0) return filter !== undefined ? `No staged datasets: pool ${filter} does not exist (already removed).` : 'No datasets currently staged.';
  let chunks = 0;
  const notes: string[] = [];
  for (const p of pools) {
    for (const m of p.manifests) {
      if (await removeManifest(p.dir, m.manifest.namespace_path)) chunks += m.manifest.chunk_ids.length;
    }
    notes.push(await dropIfUnheld(cacheDir, p));
  }
  return `Released ${chunks} chunk(s) from all staged datasets.${notes.join('')}`;
}

// ─── wiring ─────────────────────────────────────────────────────────────────────────────────────

export function registerStageCommand(program: Command): void {
  program
    .command('stage')
    .description('pre-fetch datasets into a pinned local cache pool for a workload (KISEKI_CACHE_POOL_ID)')
    .option('--dataset <path>', 'namespace path to stage (file or directory; repeatable, all into one pool)', (v: string, acc: string[] = []) => [...acc, v])
    .option('--daemon', 'print only the pool id once staged, and keep the pool locked in the background until a workload adopts it')
    .option('--timeout <seconds>', 'how long an unadopted pool is kept', '600')
    .option('--status', 'list staged datasets (with --dataset: only those)')
    .option('--release <path>', 'release one staged dataset')
    .option('--release-all', 'release every staged dataset (with --pool: of that pool)')
    .option('--pool <id>', `the pool to inspect or release (default: ${CACHE_ENV.poolId}, else every pool of yours)`)
    .option('--json', 'JSON output (staging: one event per line)')
    .option('--namespace <name>', 'namespace the dataset paths are in', DEFAULT_NAMESPACE)
    .option('--data-addr <list>', 'storage node seeds (default: KISEKI_SEEDS, then the embedded node)')
    .option('--cache-dir <dir>', `cache directory (default: ${CACHE_ENV.dir}, then ${defaultCacheDir()})`)
    .option('--max-depth <n>', 'max_staging_depth: deepest directory nesting staged', String(DEFAULT_STAGE_LIMITS.maxDepth))
    .option('--max-files <n>', 'max_staging_files: most files in one dataset', String(DEFAULT_STAGE_LIMITS.maxFiles))
    .option('--parallel <n>', 'chunk fetches in flight', String(DEFAULT_STAGE_CONCURRENCY))
    .addOption(new Option('--daemon-child').hideHelp())
    .action(async (opts: StageOptions) => {
      const actions = [opts.status === true, opts.release !== undefined, opts.releaseAll === true].filter(Boolean).length;
      if (actions > 1) throw kerr('InvalidArgument', 'use one of --status, --release and --release-all');
      if (actions === 0 && (opts.dataset ?? []).length === 0) throw kerr('InvalidArgument', 'say what to stage with --dataset <path>, or use --status, --release or --release-all');
      if (actions > 0 && opts.daemon === true) throw kerr('InvalidArgument', '--daemon goes with --dataset only');
      if (opts.status === true) return void process.stdout.write(`${await runStatus(opts)}\n`);
      if (opts.release !== undefined) return void process.stdout.write(`${await runRelease(opts)}\n`);
      if (opts.releaseAll === true) return void process.stdout.write(`${await runReleaseAll(opts)}\n`);
      if (opts.daemonChild === true) return runDaemonChild(opts);
      if (opts.daemon === true) return runDaemonParent(opts);
      return runStageForeground(opts);
    });
}

#!/usr/bin/env node
// kiseki-cache-scrub: removes orphaned cache pools (no live flock on pool.lock), zero-overwriting every
// file before unlinking it (I-CC8). One pass by default; --interval SECONDS repeats until SIGTERM.
// Run by scripts/systemd/kiseki-cache-scrub.timer (boot + every 60 s) or the cron line.
// Exit: 0 after a clean pass (the count is printed), 1 if any pool could not be removed, 2 bad arguments.
import { readdir } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import pino from 'pino';
import { CACHE_ENV, ROOT_CACHE_DIR, defaultCacheDir } from '../cache/cache-config.js';
import { DEFAULT_GRACE_MS, scrubCacheDir, type ScrubReport } from '../cache/scrub.js';

interface ScrubCliOptions {
  cacheDir?: string[];
  tenant?: string;
  interval?: number;
  dryRun?: boolean;
  json?: boolean;
  graceSeconds?: number;
}

function positiveNumber(name: string) {
  return (text: string): number => {
    const n = Number(text);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number of seconds`);
    return n;
  };
}

/** Root scrubs Kiseki's directory and every per-user default (/tmp/kiseki-cache-<uid>); a user, their own. */
async function defaultCacheDirs(): Promise<string[]> {
  const env = process.env[CACHE_ENV.dir];
  if (env !== undefined && env !== '') return [env];
  if ((process.geteuid?.() ?? 0) !== 0) return [defaultCacheDir()];
  const parent = dirname(ROOT_CACHE_DIR);
  const prefix = `${basename(ROOT_CACHE_DIR)}-`;
  const perUser = (await readdir(parent).catch(() => [] as string[])).filter((n) => n.startsWith(prefix) && /^\d+$/.test(n.slice(prefix.length)));
  return [ROOT_CACHE_DIR, ...perUser.map((n) => join(parent, n))];
}

export async function runScrub(opts: ScrubCliOptions, log: pino.Logger): Promise<ScrubReport[]> {
  const dirs = opts.cacheDir !== undefined && opts.cacheDir.length > 0 ? opts.cacheDir : await defaultCacheDirs();
  const reports: ScrubReport[] = [];
  for (const dir of dirs) {
    const report = await scrubCacheDir(dir, {
      ...(opts.tenant !== undefined ? { tenant: opts.tenant } : {}),
      dryRun: opts.dryRun === true,
      graceMs: opts.graceSeconds !== undefined ? opts.graceSeconds * 1000 : DEFAULT_GRACE_MS,
      onRemoved: (p) => log.info({ pool: p.path, tenant: p.tenant, reason: p.reason, files: p.files, bytes: p.bytes, dryRun: opts.dryRun === true },
        opts.dryRun === true ? 'would remove orphaned cache pool' : 'removed orphaned cache pool'),
    });
    for (const e of report.errors) log.error({ pool: e.path, err: e.message }, 'could not scrub cache pool');
    reports.push(report);
  }
  return reports;
}

function summary(reports: ScrubReport[], dryRun: boolean, json: boolean): string {
  const removed = reports.flatMap((r) => r.removed);
  const errors = reports.flatMap((r) => r.errors);
  if (json) return JSON.stringify({ dryRun, removed, live: reports.flatMap((r) => r.live), errors });
  const verb = dryRun ? 'would remove' : 'removed';
  return `${verb} ${removed.length} orphaned pool${removed.length === 1 ? '' : 's'}${errors.length > 0 ? `, ${errors.length} error(s)` : ''}`;
}

async function main(argv: string[]): Promise<number> {
  const program = new Command('kiseki-cache-scrub')
    .description('remove orphaned kiseki cache pools (no process holds their pool.lock); files are zero-overwritten before unlinking')
    .option('--cache-dir <dir...>', `cache directories to scan (default: ${CACHE_ENV.dir}, else ${ROOT_CACHE_DIR} and, as root, every ${ROOT_CACHE_DIR}-<uid>)`)
    .option('--tenant <tenant>', 'only this tenant')
    .option('--interval <seconds>', 'repeat every SECONDS until SIGTERM (default: one pass)', positiveNumber('--interval'))
    .option('--dry-run', 'only report what would be removed')
    .option('--json', 'print the result of each pass as one JSON line')
    .option('--grace-seconds <seconds>', `age before a half-created or half-deleted pool without pool.lock counts as orphaned (default ${DEFAULT_GRACE_MS / 1000})`, positiveNumber('--grace-seconds'))
    .exitOverride()
    .showHelpAfterError();
  let opts: ScrubCliOptions;
  try {
    opts = program.parse(argv).opts<ScrubCliOptions>();
  } catch (err) {
    return err instanceof CommanderError && err.exitCode === 0 ? 0 : 2;
  }
  const log = pino({ name: 'kiseki-cache-scrub' }, pino.destination(2));
  let stop = false;
  let wake: (() => void) | null = null;
  const onSignal = () => { stop = true; wake?.(); };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  let failed = false;
  do {
    const reports = await runScrub(opts, log);
    failed = reports.some((r) => r.errors.length > 0);
    process.stdout.write(`${summary(reports, opts.dryRun === true, opts.json === true)}\n`);
    if (opts.interval === undefined) break;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, opts.interval! * 1000);
      wake = () => { clearTimeout(t); resolve(); };
    });
  } while (!stop);
  return failed ? 1 : 0;
}

if (require.main === module) {
  void main(process.argv).then((code) => { process.exitCode = code; });
}

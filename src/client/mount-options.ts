// The `-o key=value,…` table of `kiseki-client-fuse mount`. One table, one validation path: every
// option is declared once with its type; unknown and removed options are named in the error. Values
// given here win over the environment, which wins over the node's policy (resolved later, clamped to
// the policy's ceilings by the cache configuration).
import { CACHE_MOUNT_OPTIONS, parseSize } from '../cache/cache-config.js';
import type { CacheMode } from '../cache/cache-policy.js';
import { DEFAULT_CHUNK_SIZE, validateChunkSize } from '../crypto/chunker.js';
import { kerr } from '../errors.js';

export { parseSize };

export interface MountOptions {
  cacheMode?: CacheMode;
  cacheDir?: string;
  cacheL1Max?: number;
  cacheL2Max?: number;
  metaTtlMs?: number;
  chunkSize?: number;
  metricsAddr?: string;
  fsname?: string;
  allowOther: boolean;
  readOnly: boolean;
  defaultPermissions: boolean;
  /** Full chunks this mount writes also go to its L2 pool (JuiceFS's --cache-large-write); off by default. */
  cacheLargeWrite: boolean;
  /** Threads that send large read replies, so the kernel's copy leaves the JS thread (0 = on the JS thread). */
  replyThreads?: number;
  /** Kernel read-ahead of the mount in KiB (its bdi's read_ahead_kb); default: the chunk size (ADR 0099). */
  readAheadKb?: number;
  /** The cache's own options as given, for resolveCacheConfig (mount option > env > policy, clamped). */
  cacheOptions: Record<string, string>;
}

type Kind = 'size' | 'ms' | 'count' | 'kib' | 'flag' | 'mode' | 'path' | 'addr' | 'text';

interface OptionSpec {
  readonly kind: Kind;
  readonly key: keyof MountOptions;
  readonly help: string;
}

/** Largest read_ahead_kb accepted: 64 MiB, sixteen chunks of the default size. */
export const MAX_READ_AHEAD_KB = 65536;

/** The chunk size of files this mount creates: the option, else the default. */
export function chunkSizeOf(o: Pick<MountOptions, 'chunkSize'>): number {
  return o.chunkSize ?? DEFAULT_CHUNK_SIZE;
}

/** The read-ahead a mount asks the kernel for: the option, else one chunk of new files (ADR 0099). */
export function readAheadKbOf(o: MountOptions): number {
  return o.readAheadKb ?? chunkSizeOf(o) / 1024;
}

export const MOUNT_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  cache_mode: { kind: 'mode', key: 'cacheMode', help: 'organic (default) | pinned | bypass' },
  cache_dir: { kind: 'path', key: 'cacheDir', help: 'L2 cache root (pools live under <dir>/<tenant>/)' },
  cache_l1_max: { kind: 'size', key: 'cacheL1Max', help: 'memory cache bytes (K/M/G suffixes), default 256M' },
  cache_l2_max: { kind: 'size', key: 'cacheL2Max', help: 'disk cache bytes per mount (K/M/G/T), default 50G' },
  meta_ttl_ms: { kind: 'ms', key: 'metaTtlMs', help: 'metadata cache TTL in ms (0 = no caching), default 5000' },
  chunk_size: { kind: 'size', key: 'chunkSize', help: 'chunk size of new files, 1M–64M, default 4M' },
  metrics_addr: { kind: 'addr', key: 'metricsAddr', help: 'serve Prometheus /metrics on host:port' },
  fsname: { kind: 'text', key: 'fsname', help: 'name shown in /proc/mounts (default kiseki)' },
  allow_other: { kind: 'flag', key: 'allowOther', help: 'let other users access the mount (needs user_allow_other)' },
  ro: { kind: 'flag', key: 'readOnly', help: 'mount read-only' },
  rw: { kind: 'flag', key: 'readOnly', help: 'mount read-write (default)' },
  default_permissions: { kind: 'flag', key: 'defaultPermissions', help: 'let the kernel check permissions from mode bits' },
  cache_large_write: { kind: 'flag', key: 'cacheLargeWrite', help: 'also cache (L1 and L2) the full chunks this mount writes (default: only partial ones)' },
  reply_threads: { kind: 'count', key: 'replyThreads', help: 'threads sending read replies of 64 KiB and more, 0–64, default 0 (the JS thread)' },
  read_ahead_kb: { kind: 'kib', key: 'readAheadKb', help: `kernel read-ahead in KiB, 0–${MAX_READ_AHEAD_KB}, default the chunk size (root only; 128 is the kernel's own default)` },
};

/** Options of other FUSE clients that do not apply here, with the reason given to the user. */
const REMOVED: Readonly<Record<string, string>> = {
  big_writes: 'libfuse 3 always uses big writes (max_write 1M)',
  nonempty: 'libfuse 3 mounts over non-empty directories by default',
  writeback_cache: 'it breaks O_APPEND atomicity and coherence between mounts',
  direct_io: 'page-cache bypass is chosen per open (O_DIRECT)',
  auto_unmount: 'unmount with `kiseki-client-fuse unmount` or a signal to the mount process',
};

/** Parses every `-o` argument (each may hold several comma-separated options). */
export function parseMountOptions(args: readonly string[]): MountOptions {
  const out: MountOptions = { allowOther: false, readOnly: false, defaultPermissions: false, cacheLargeWrite: false, cacheOptions: {} };
  const set = out as unknown as Record<string, unknown>;
  for (const item of args.flatMap((a) => a.split(',')).map((s) => s.trim()).filter((s) => s !== '')) {
    const eq = item.indexOf('=');
    const name = eq < 0 ? item : item.slice(0, eq);
    const value = eq < 0 ? undefined : item.slice(eq + 1);
    const removed = REMOVED[name];
    if (removed !== undefined) throw kerr('InvalidArgument', `-o ${name} is not supported: ${removed}`);
    const spec = MOUNT_OPTIONS[name];
    if (spec === undefined) {
      throw kerr('InvalidArgument', `unknown mount option '${name}'; known: ${Object.keys(MOUNT_OPTIONS).join(', ')}`);
    }
    if ((spec.kind === 'flag') !== (value === undefined)) {
      throw kerr('InvalidArgument', spec.kind === 'flag' ? `-o ${name} takes no value` : `-o ${name} needs a value: ${spec.help}`);
    }
    set[spec.key] = convert(name, spec.kind, value);
    if ((CACHE_MOUNT_OPTIONS as readonly string[]).includes(name)) out.cacheOptions[name] = value!;
  }
  return out;
}

function convert(name: string, kind: Kind, value: string | undefined): unknown {
  switch (kind) {
    case 'flag':
      return name !== 'rw';
    case 'size': {
      const bytes = parseSize(value!, `-o ${name}`);
      return name === 'chunk_size' ? validateChunkSize(bytes) : bytes;
    }
    case 'ms': {
      if (!/^\d+$/.test(value!)) throw kerr('InvalidArgument', `-o ${name}: '${value}' is not a whole number of milliseconds`);
      return Number(value);
    }
    case 'kib': {
      if (!/^\d+$/.test(value!) || Number(value) > MAX_READ_AHEAD_KB) throw kerr('InvalidArgument', `-o ${name}: '${value}' is not a whole number of KiB from 0 to ${MAX_READ_AHEAD_KB}`);
      return Number(value);
    }
    case 'count': {
      if (!/^\d+$/.test(value!) || Number(value) > 64) throw kerr('InvalidArgument', `-o ${name}: '${value}' is not a whole number from 0 to 64`);
      return Number(value);
    }
    case 'mode':
      if (value !== 'organic' && value !== 'pinned' && value !== 'bypass') {
        throw kerr('InvalidArgument', `-o ${name}: '${value}' is not one of organic, pinned, bypass`);
      }
      return value;
    case 'addr':
      if (!/^(\[[0-9a-fA-F:]+\]|[\w.-]+):\d{1,5}$/.test(value!)) {
        throw kerr('InvalidArgument', `-o ${name}: '${value}' is not host:port`);
      }
      return value;
    case 'path':
    case 'text':
      if (value === '') throw kerr('InvalidArgument', `-o ${name} needs a non-empty value`);
      return value;
  }
}

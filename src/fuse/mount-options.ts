// Mount options: validated here, before anything touches the kernel, so a bad option is a clear
// InvalidArgument and never a half-made (dead) mount. Kernel -o options go to libfuse; the rest configure
// the session loop and what INIT asks for.
import { kerr } from '../errors.js';

export interface MountOptions {
  fsname?: string;
  subtype?: string;
  ro?: boolean;
  allowOther?: boolean;
  defaultPermissions?: boolean;
  /** Kernel max_read (bytes). */
  maxRead?: number;
  /** INIT: kernel max_background / congestion_threshold (default 64 / 48; the kernel's own default is 12). */
  maxBackground?: number;
  congestionThreshold?: number;
  /** INIT: largest WRITE request in bytes (default and maximum 1 MiB). */
  maxWrite?: number;
  /** INIT max_readahead in bytes (default 1 MiB). */
  maxReadahead?: number;
  /** After INIT, set the mount's bdi read_ahead_kb (root only; the kernel default is 128). */
  readaheadKb?: number;
  /** Kernel writeback cache. Off by default: it breaks O_APPEND atomicity and coherence between mounts. */
  writebackCache?: boolean;
  /** FUSE_CAP_READDIRPLUS(+_AUTO): directory listings carry attributes and count lookups. Default true. */
  readdirplus?: boolean;
  /** FUSE_CAP_EXPORT_SUPPORT: the filesystem answers lookups of "." and "..". Default true. */
  exportSupport?: boolean;
  cloneFd?: boolean;
  maxIdleThreads?: number;
  /**
   * Threads that send large read replies (ReadReply results of >= 64 KiB) off the JS thread, so the
   * kernel's copy runs in parallel. Default 0 (all replies on the JS thread): on the 2-core test machine
   * under load, 2 threads were slower; meant for many-core nodes, measure before enabling.
   */
  replyThreads?: number;
  /** unmount(): how long to wait for in-flight requests before answering them EIO (default 5000 ms). */
  unmountGraceMs?: number;
  /** unmount(): how long to wait for the loop before aborting the connection via fusectl (default 2000 ms). */
  unmountAbortMs?: number;
  /** Unmount cleanly on SIGINT/SIGTERM, then re-raise the signal if nobody else listens for it. */
  unmountOnSignals?: boolean;
}

/** What the native mount() takes. */
export interface NativeMountConfig {
  kernelOptions: string[];
  config: {
    cloneFd: boolean;
    maxIdleThreads: number;
    maxBackground: number;
    congestionThreshold: number;
    maxWrite: number;
    maxReadahead: number;
    writebackCache: boolean;
    readdirplus: boolean;
    exportSupport: boolean;
    unmountAbortMs: number;
    replyThreads: number;
  };
}

const KNOWN = new Set<keyof MountOptions>([
  'fsname', 'subtype', 'ro', 'allowOther', 'defaultPermissions', 'maxRead', 'maxBackground',
  'congestionThreshold', 'maxWrite', 'maxReadahead', 'readaheadKb', 'writebackCache', 'readdirplus', 'exportSupport',
  'cloneFd', 'maxIdleThreads', 'replyThreads', 'unmountGraceMs', 'unmountAbortMs', 'unmountOnSignals',
]);

const MIB = 1 << 20;

function int(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw kerr('InvalidArgument', `mount option ${name} must be an integer in [${min}, ${max}], got ${String(v)}`);
  }
  return v;
}

function bool(name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw kerr('InvalidArgument', `mount option ${name} must be true or false, got ${String(v)}`);
  return v;
}

// fsname/subtype end up inside a comma-separated -o string: a comma would smuggle in other options.
function word(name: string, v: unknown): string {
  if (typeof v !== 'string' || !/^[A-Za-z0-9._:@/+-]{1,64}$/.test(v)) {
    throw kerr('InvalidArgument', `mount option ${name} must be 1-64 characters of [A-Za-z0-9._:@/+-], got ${JSON.stringify(v)}`);
  }
  return v;
}

export function resolveMountOptions(o: MountOptions): NativeMountConfig {
  if (typeof o !== 'object' || o === null) throw kerr('InvalidArgument', 'mount options must be an object');
  for (const key of Object.keys(o)) {
    if (!KNOWN.has(key as keyof MountOptions)) {
      throw kerr('InvalidArgument', `unknown mount option '${key}'; known: ${[...KNOWN].join(', ')}`);
    }
  }
  const kernelOptions = [`fsname=${o.fsname === undefined ? 'kiseki' : word('fsname', o.fsname)}`];
  if (o.subtype !== undefined) kernelOptions.push(`subtype=${word('subtype', o.subtype)}`);
  if (o.ro !== undefined && bool('ro', o.ro)) kernelOptions.push('ro');
  if (o.allowOther !== undefined && bool('allowOther', o.allowOther)) kernelOptions.push('allow_other');
  if (o.defaultPermissions !== undefined && bool('defaultPermissions', o.defaultPermissions)) {
    kernelOptions.push('default_permissions');
  }
  if (o.maxRead !== undefined) kernelOptions.push(`max_read=${int('maxRead', o.maxRead, 4096, 16 * MIB)}`);
  const maxBackground = o.maxBackground === undefined ? 64 : int('maxBackground', o.maxBackground, 1, 65535);
  const congestionThreshold =
    o.congestionThreshold === undefined
      ? Math.max(1, Math.floor((maxBackground * 3) / 4))
      : int('congestionThreshold', o.congestionThreshold, 1, maxBackground);
  if (o.readaheadKb !== undefined) int('readaheadKb', o.readaheadKb, 0, 1 << 20);
  if (o.unmountGraceMs !== undefined) int('unmountGraceMs', o.unmountGraceMs, 0, 3_600_000);
  if (o.unmountOnSignals !== undefined) bool('unmountOnSignals', o.unmountOnSignals);
  return {
    kernelOptions,
    config: {
      cloneFd: o.cloneFd === undefined ? false : bool('cloneFd', o.cloneFd),
      maxIdleThreads: o.maxIdleThreads === undefined ? 10 : int('maxIdleThreads', o.maxIdleThreads, 1, 1024),
      maxBackground,
      congestionThreshold,
      maxWrite: o.maxWrite === undefined ? MIB : int('maxWrite', o.maxWrite, 4096, MIB),
      maxReadahead: o.maxReadahead === undefined ? MIB : int('maxReadahead', o.maxReadahead, 0, 16 * MIB),
      writebackCache: o.writebackCache === undefined ? false : bool('writebackCache', o.writebackCache),
      readdirplus: o.readdirplus === undefined ? true : bool('readdirplus', o.readdirplus),
      exportSupport: o.exportSupport === undefined ? true : bool('exportSupport', o.exportSupport),
      unmountAbortMs: o.unmountAbortMs === undefined ? 2000 : int('unmountAbortMs', o.unmountAbortMs, 10, 600_000),
      replyThreads: o.replyThreads === undefined ? 0 : int('replyThreads', o.replyThreads, 0, 64),
    },
  };
}

// Cache statistics (brief §4.13): the ten fields of Kiseki's CacheStats in their order, plus the
// staged_datasets / staged_bytes gauges, and a prom-client registry exporting each as cache_<field>.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CacheMode } from './cache-policy.js';

export const COUNTER_FIELDS = ['l1_hits', 'l2_hits', 'misses', 'bypasses', 'errors', 'meta_hits', 'meta_misses', 'wipes'] as const;
export const GAUGE_FIELDS = ['l1_bytes', 'l2_bytes', 'staged_datasets', 'staged_bytes'] as const;
/** Kiseki's field order (KisekiCacheStats), then the spec's additions. */
export const STATS_FIELDS = ['l1_hits', 'l2_hits', 'misses', 'bypasses', 'errors', 'l1_bytes', 'l2_bytes', 'meta_hits', 'meta_misses', 'wipes', 'staged_datasets', 'staged_bytes'] as const;

export type CounterField = (typeof COUNTER_FIELDS)[number];
export type StatsField = (typeof STATS_FIELDS)[number];

export type CacheCounters = Record<CounterField, number>;

export function newCounters(): CacheCounters {
  return { l1_hits: 0, l2_hits: 0, misses: 0, bypasses: 0, errors: 0, meta_hits: 0, meta_misses: 0, wipes: 0 };
}

export interface CacheStatsSnapshot extends Record<StatsField, number> {
  mode: CacheMode;
  tenant: string;
  pool_id: string | null;
  pid: number;
  l1_entries: number;
  l2_entries: number;
  l2_evictions: number;
  /** Wall-clock ms when the snapshot was taken. */
  taken_at: number;
}

export function isStatsSnapshot(v: unknown): v is CacheStatsSnapshot {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return STATS_FIELDS.every((f) => typeof r[f] === 'number') && typeof r.mode === 'string';
}

/** L2 read and write latencies (the spec's two histograms), in microseconds. */
export interface LatencyRecorder {
  l2Read(us: number): void;
  l2Write(us: number): void;
}

/**
 * Registers cache_<field> metrics that read `source()` at scrape time, plus the two latency histograms.
 * Pass the mount's registry to add them next to its other metrics.
 */
export function registerCacheMetrics(source: () => CacheStatsSnapshot, registry: Registry = new Registry()): { registry: Registry; latency: LatencyRecorder } {
  for (const field of COUNTER_FIELDS) {
    new Counter({
      name: `cache_${field}`,
      help: `kiseki cache ${field.replace(/_/g, ' ')} (since the pool was opened)`,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(source()[field]);
      },
    });
  }
  for (const field of GAUGE_FIELDS) {
    new Gauge({
      name: `cache_${field}`,
      help: `kiseki cache ${field.replace(/_/g, ' ')}`,
      registers: [registry],
      collect() {
        this.set(source()[field]);
      },
    });
  }
  const buckets = [50, 100, 250, 500, 1000, 2500, 5000, 10000, 50000, 250000];
  const read = new Histogram({ name: 'cache_l2_read_latency_us', help: 'L2 read incl. CRC check, microseconds', buckets, registers: [registry] });
  const write = new Histogram({ name: 'cache_l2_write_latency_us', help: 'L2 insert incl. rename, microseconds', buckets, registers: [registry] });
  return { registry, latency: { l2Read: (us) => read.observe(us), l2Write: (us) => write.observe(us) } };
}

const MiB = 1024 ** 2;

/** Kiseki's byte formatting: binary units, one decimal. */
export function formatBytes(n: number): string {
  const units: [number, string][] = [[1024 ** 4, 'TiB'], [1024 ** 3, 'GiB'], [MiB, 'MiB'], [1024, 'KiB']];
  for (const [size, unit] of units) if (n >= size) return `${(n / size).toFixed(1)} ${unit}`;
  return `${n} B`;
}

/** The human form printed by `kiseki-client cache --stats` (Kiseki's labels, padded to column 19). */
export function formatStats(s: CacheStatsSnapshot): string {
  const mode = s.mode.charAt(0).toUpperCase() + s.mode.slice(1);
  const rows: [string, string][] = [
    ['Cache mode:', mode],
    ['Pool:', s.pool_id === null ? '(none: bypass)' : `${s.tenant}/${s.pool_id} (pid ${s.pid})`],
    ['L1 bytes used:', formatBytes(s.l1_bytes)],
    ['L2 bytes used:', formatBytes(s.l2_bytes)],
    ['L1 hits:', String(s.l1_hits)],
    ['L2 hits:', String(s.l2_hits)],
    ['Misses:', String(s.misses)],
    ['Bypasses:', String(s.bypasses)],
    ['Errors:', String(s.errors)],
    ['Metadata hits:', String(s.meta_hits)],
    ['Metadata misses:', String(s.meta_misses)],
    ['Wipes:', String(s.wipes)],
    ['Staged datasets:', String(s.staged_datasets)],
    ['Staged bytes:', formatBytes(s.staged_bytes)],
  ];
  return rows.map(([k, v]) => `${k.padEnd(19)}${v}`).join('\n');
}

// The cache as the client sees it: L1 → L2 → (caller goes to canonical), the metadata cache, wipes,
// wipe triggers and statistics, for one tenant and one process.
//
//   active ──wipe('crypto-shred')──▶ shredded (nothing is cached any more) ──close()──▶ closed
//     └──────────────────────────────────────close()──────────────────────────────────▶ closed
//
// I-CC7: no cache failure ever reaches the read path: get() reports a miss (and counts an error), put()
// reports what it skipped. Only an explicit pin (staging) can fail, with CacheCapacityExceeded.
import { performance } from 'node:perf_hooks';
import { kerr } from '../errors.js';
import { systemClock, type Clock } from './clock.js';
import type { CacheConfig } from './cache-config.js';
import { writePolicyFile, type CacheMode, type CachePolicy } from './cache-policy.js';
import { newCounters, type CacheCounters, type CacheStatsSnapshot, type LatencyRecorder } from './cache-stats.js';
import { DiskHealth, type DiskHealthOptions, type DiskState } from './disk-health.js';
import { L1Memory } from './l1-memory.js';
import type { L2PutResult, L2Read } from './l2-pool.js';
import { MetaCache } from './meta-cache.js';
import { Page } from './page.js';
import { CachePool, type OpenPoolOptions } from './pool-lifecycle.js';
import { assertChunkId, isChunkId } from './pool-layout.js';
import type { ScrubReport } from './scrub.js';
import { SingleFlight } from './single-flight.js';
import { listManifests } from './staging-manifest.js';
import { DisconnectWatcher, KeyHealthWatcher, type KeyHealth, type WipeReason } from './wipe-triggers.js';

export type ChunkGet =
  /** data is valid until release(); call release() exactly once when done with it. */
  | { kind: 'hit'; tier: 'l1' | 'l2'; data: Buffer; release(): void }
  | { kind: 'miss' }
  | { kind: 'bypass' };

export type ChunkPut =
  | { kind: 'stored'; l1: boolean; l2: 'stored' | 'exists' | 'skipped' }
  | { kind: 'skipped'; reason: string }
  | { kind: 'bypass' };

export type CacheState = 'active' | 'shredded' | 'closed';

/** What read() hands back: bytes valid until release(). */
export interface ChunkRead {
  source: 'l1' | 'l2' | 'canonical';
  data: Buffer;
  release(): void;
}

/** The few pino methods the cache logs with (a pino logger fits). */
export interface CacheLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface ChunkCacheOptions {
  tenant: string;
  clock?: Clock;
  /**
   * I-CC1 guard: the content address of plaintext (SHA-256 or the tenant's HMAC). When given, put()
   * recomputes it and refuses data whose id does not match. Costs one hash per insert.
   */
  contentAddress?: (plaintext: Buffer) => string;
  /** Pool options beyond what the config says (tests: capacity refresh, no scavenging). */
  pool?: Partial<Pick<OpenPoolOptions, 'scavenge' | 'fsync' | 'capacityRefreshMs' | 'adoptTimeoutMs' | 'onScavenged'>>;
  /** stats.json publishing interval; 0 disables the control socket and stats file. */
  statsIntervalMs?: number;
  latency?: LatencyRecorder;
  /** L2 watchdog and failure thresholds (see disk-health.ts). */
  disk?: Omit<DiskHealthOptions, 'clock' | 'onTransition'>;
  logger?: CacheLogger;
  /**
   * Accept handoff requests on the control socket (a staging daemon, ADR 0090): called when a process
   * with KISEKI_CACHE_POOL_ID asks for this pool. The callee hands the pool over with handOff().
   */
  onHandoffRequest?: () => void;
}

export class ChunkCache {
  readonly mode: CacheMode;
  readonly config: CacheConfig;
  readonly tenant: string;
  readonly pool: CachePool | null;
  readonly #l1: L1Memory | null;
  readonly #counters: CacheCounters = newCounters();
  readonly #clock: Clock;
  readonly #contentAddress: ((plaintext: Buffer) => string) | null;
  readonly #latency: LatencyRecorder | null;
  readonly #metaCaches = new Set<MetaCache<unknown, unknown>>();
  readonly #disk: DiskHealth;
  readonly #fetches = new SingleFlight<string, Buffer>();
  readonly #logger: CacheLogger | null;
  #state: CacheState = 'active';
  #epoch = 0;
  #staged = { datasets: 0, bytes: 0 };
  #triggers: { keyHealth: KeyHealthWatcher | null; disconnect: DisconnectWatcher } | null = null;
  readonly #wipeListeners = new Set<(reason: WipeReason) => void>();
  readonly #l1DropListeners = new Set<(chunkId: string) => void>();
  readonly #hitSources = new Set<() => void>();

  private constructor(config: CacheConfig, pool: CachePool | null, opts: ChunkCacheOptions) {
    // I-CC10: settings are fixed for the session; a policy change applies to the next session.
    this.config = Object.freeze({ ...config, clamped: Object.freeze([...config.clamped]) as string[] });
    this.mode = config.mode;
    this.tenant = opts.tenant;
    this.pool = pool;
    this.#l1 = config.mode === 'bypass' ? null : new L1Memory(config.l1MaxBytes, undefined, (id) => {
      for (const listener of this.#l1DropListeners) listener(id);
    });
    this.#clock = opts.clock ?? systemClock;
    this.#contentAddress = opts.contentAddress ?? null;
    this.#latency = opts.latency ?? null;
    this.#logger = opts.logger ?? null;
    this.#disk = new DiskHealth({
      ...opts.disk,
      clock: this.#clock,
      onTransition: (from, to, reason) => this.#logger?.warn({ pool: pool?.dir, from, to, reason }, `L2 cache disk ${from} -> ${to}`),
    });
  }

  /** Opens the cache for a session: in bypass mode no pool exists on disk at all. */
  static async open(config: CacheConfig, opts: ChunkCacheOptions): Promise<ChunkCache> {
    let pool: CachePool | null = null;
    if (config.mode !== 'bypass') {
      pool = await CachePool.open({
        cacheDir: config.cacheDir,
        tenant: opts.tenant,
        adoptPoolId: config.poolId,
        l2MaxBytes: config.l2MaxBytes,
        maxNodeCacheBytes: config.maxNodeCacheBytes,
        pinned: config.mode === 'pinned',
        ...(opts.clock !== undefined ? { clock: opts.clock } : {}),
        onScavenged: (r) => {
          for (const p of r.removed) opts.logger?.info({ pool: p.path, reason: p.reason, files: p.files, bytes: p.bytes }, 'scavenged an orphaned cache pool');
          for (const e of r.errors) opts.logger?.warn({ pool: e.path, err: e.message }, 'could not scavenge a cache pool');
        },
        ...opts.pool,
      });
    }
    const cache = new ChunkCache(config, pool, opts);
    if (pool?.adopted === true) {
      // An adopted staging pool: its datasets count in this session's stats. A bad manifest costs
      // only the figures, never the mount (I-CC7).
      const staged = await listManifests(pool.dir).catch(() => []);
      cache.setStaged(staged.length, staged.reduce((n, m) => n + m.manifest.bytes, 0));
    }
    if (pool !== null && opts.statsIntervalMs !== 0) {
      try {
        await pool.startControl({
          stats: () => cache.stats(),
          wipe: async () => { await cache.wipe('manual'); return cache.stats(); },
          ...(opts.onHandoffRequest !== undefined ? { handoff: opts.onHandoffRequest } : {}),
        }, { intervalMs: opts.statsIntervalMs ?? 1000, ...(opts.clock !== undefined ? { clock: opts.clock } : {}) });
      } catch (err) {
        await cache.close();
        throw err;
      }
    }
    return cache;
  }

  get state(): CacheState {
    return this.#state;
  }

  /** Wipe generation. Capture it before a canonical fetch and pass it to put() (I-CC1). */
  epoch(): number {
    return this.#epoch;
  }

  get diskState(): DiskState {
    return this.#disk.state;
  }

  get scavenged(): Promise<ScrubReport | null> {
    return this.pool?.scavenged ?? Promise.resolve(null);
  }

  /**
   * The L1 part of get(), synchronous: a hit (counted) or null, in which case the caller uses get()
   * (which looks at L1 again, uncounted, then L2). Lets the hot read path skip a promise chain.
   * Null too when there is no L1 (bypass) or the cache is not active: get() counts those.
   */
  peekL1(chunkId: string): ChunkGet & { kind: 'hit' } | null {
    if (this.#l1 === null || this.#state !== 'active') return null;
    const inL1 = this.#l1.get(chunkId);
    if (inL1 === null) return null;
    this.#counters.l1_hits++;
    return hit('l1', inL1) as ChunkGet & { kind: 'hit' };
  }

  /**
   * Whoever serves L1 pages outside get() (the FUSE worker threads, src/fuse/read-mirror.ts) hears here
   * of every chunk leaving L1, before the cache's page reference goes, and must let go of it.
   */
  onL1Drop(listener: (chunkId: string) => void): () => void {
    this.#l1DropListeners.add(listener);
    return () => { this.#l1DropListeners.delete(listener); };
  }

  /**
   * A source of L1 hits served outside get(): asked to report them (noteL1Hits) before statistics are
   * read and before L1 chooses what to evict, so both count every hit.
   */
  addHitSource(report: () => void): () => void {
    this.#hitSources.add(report);
    return () => { this.#hitSources.delete(report); };
  }

  /** `hits` reads of an L1 chunk served outside get(): counted, and credited to its eviction rank. */
  noteL1Hits(chunkId: string, hits: number): void {
    this.#counters.l1_hits += hits;
    this.#l1?.touch(chunkId, hits);
  }

  #collectHits(): void {
    for (const report of this.#hitSources) report();
  }

  async get(chunkId: string): Promise<ChunkGet> {
    if (this.#l1 === null || this.#state !== 'active') {
      this.#counters.bypasses++;
      return { kind: 'bypass' };
    }
    try {
      if (!isChunkId(chunkId)) throw kerr('InvalidArgument', `bad chunk id ${chunkId.slice(0, 80)}`);
      const inL1 = this.peekL1(chunkId);
      if (inL1 !== null) return inL1;
      const pool = this.pool;
      if (pool === null) return this.#miss();
      const epoch = this.#epoch;
      const t0 = performance.now();
      const r = await this.#disk.run<L2Read>(() => pool.l2.get(chunkId), {
        fallback: { kind: 'miss' },
        failed: (x) => x.kind === 'io-error',
        late: (x) => { if (x.kind === 'hit') x.page.release(); },
      });
      this.#latency?.l2Read((performance.now() - t0) * 1000);
      if (r.kind === 'corrupt' || r.kind === 'io-error') {
        // I-CC7, I-CC13: the entry is already deleted; the caller reads canonical.
        this.#counters.errors++;
        this.#logger?.warn({ pool: pool.dir, chunk: chunkId, reason: r.reason }, 'dropped a bad L2 cache entry');
        return this.#miss();
      }
      if (r.kind === 'miss') return this.#miss();
      if (epoch !== this.#epoch || this.#state !== 'active') {
        r.page.release();
        return this.#miss();
      }
      // Promotion: hot L2 chunks move into L1.
      this.#collectHits();
      this.#l1.put(chunkId, r.page, this.mode === 'pinned');
      this.#counters.l2_hits++;
      return hit('l2', r.page);
    } catch {
      this.#counters.errors++;
      return this.#miss();
    }
  }

  /**
   * The whole read flow of brief §4.2: L1 → L2 → canonical. `fetchVerified` must fetch, decrypt and
   * verify the chunk against its content address (I-CC1); concurrent reads of one cold chunk share a
   * single call. Its errors are the read's errors; cache errors never are (I-CC7). The fetched bytes
   * are cached in the background (L1 at once, L2 when written).
   */
  async read(chunkId: string, fetchVerified: () => Promise<Buffer>): Promise<ChunkRead> {
    const cached = await this.get(chunkId);
    if (cached.kind === 'hit') return { source: cached.tier, data: cached.data, release: cached.release };
    const data = await this.#fetches.do(chunkId, async () => {
      const epoch = this.#epoch;
      const fetched = await fetchVerified();
      if (cached.kind === 'miss') {
        void this.put(chunkId, fetched, { epoch }).catch(() => undefined);
      }
      return fetched;
    });
    return { source: 'canonical', data, release: () => undefined };
  }

  /**
   * Caches plaintext that the caller fetched from canonical and VERIFIED against its content address
   * (I-CC1). The bytes are copied: the caller keeps its buffer. Options:
   *   pinned  true for staging: the entry is never evicted, and if it cannot fit without evicting
   *           pinned data this rejects with CacheCapacityExceeded. Default: pinned iff mode is pinned,
   *           best effort (never rejects).
   *   epoch   this.epoch() captured before the fetch; if a wipe happened since, nothing is cached.
   */
  async put(chunkId: string, plaintext: Uint8Array, opts: { pinned?: boolean; epoch?: number } = {}): Promise<ChunkPut> {
    const strict = opts.pinned === true;
    if (this.#l1 === null) return { kind: 'bypass' };
    if (this.#state !== 'active') return this.#refuse(strict, `cache is ${this.#state}`);
    if (opts.epoch !== undefined && opts.epoch !== this.#epoch) return { kind: 'skipped', reason: 'the cache was wiped after this chunk was fetched' };
    if (strict) assertChunkId(chunkId);
    else if (!isChunkId(chunkId)) {
      this.#counters.errors++;
      return { kind: 'skipped', reason: 'bad chunk id' };
    }
    const page = Page.copyOf(plaintext);
    try {
      if (this.#contentAddress !== null && this.#contentAddress(page.bytes) !== chunkId) {
        this.#counters.errors++;
        if (strict) throw kerr('Integrity', `refusing to pin chunk ${chunkId.slice(0, 16)}…: its bytes do not hash to its id`);
        return { kind: 'skipped', reason: 'content address mismatch (I-CC1)' };
      }
      const pinned = opts.pinned ?? this.mode === 'pinned';
      this.#collectHits();
      const l1 = this.#l1.put(chunkId, page, pinned);
      let l2: 'stored' | 'exists' | 'skipped' = 'skipped';
      if (this.pool !== null) {
        const pool = this.pool;
        const t0 = performance.now();
        const down: L2PutResult = { kind: 'skipped', reason: 'io-error', detail: 'the L2 disk is down' };
        const outcome = await this.#disk.run<{ ok: L2PutResult } | { err: unknown }>(
          () => pool.l2.put(chunkId, page, { pinned, strict }).then((ok) => ({ ok }), (err: unknown) => ({ err })),
          { fallback: { ok: down }, failed: (x) => 'ok' in x && x.ok.kind === 'skipped' && x.ok.reason === 'io-error' },
        );
        if ('err' in outcome) throw outcome.err;
        const r = outcome.ok;
        this.#latency?.l2Write((performance.now() - t0) * 1000);
        if (r.kind === 'skipped' && r.reason === 'io-error') {
          this.#counters.errors++;
          if (strict) throw kerr('CacheFault', `cannot pin chunk ${chunkId.slice(0, 16)}…: ${r.detail}`);
        }
        l2 = r.kind === 'skipped' ? 'skipped' : r.kind;
      }
      return { kind: 'stored', l1, l2 };
    } catch (err) {
      if (strict) {
        this.#l1.remove(chunkId);
        throw err;
      }
      this.#counters.errors++;
      return { kind: 'skipped', reason: (err as Error).message };
    } finally {
      page.release();
    }
  }

  /** Ends pinning of released staged chunks: they become ordinary organic entries. */
  unpin(chunkId: string): void {
    this.#l1?.unpin(chunkId);
    this.pool?.l2.unpin(chunkId);
  }

  /** Persists the policy this session resolved as <pool>/policy.json (the I-CC9 fallback of later sessions). */
  async persistPolicy(policy: CachePolicy): Promise<void> {
    if (this.pool !== null) await writePolicyFile(this.pool.dir, policy);
  }

  /** Staging reports its totals here so that stats and /metrics show them. */
  setStaged(datasets: number, bytes: number): void {
    this.#staged = { datasets, bytes };
  }

  /**
   * A metadata cache whose hits and misses count in this cache's stats and which every wipe clears.
   * The TTL is the session's meta_ttl_ms (I-CC3, I-CC5).
   */
  createMetaCache<K, V>(maxEntries?: number): MetaCache<K, V> {
    const m = new MetaCache<K, V>({
      ttlMs: this.mode === 'bypass' ? 0 : this.config.metaTtlMs,
      clock: this.#clock,
      counters: this.#counters,
      ...(maxEntries !== undefined ? { maxEntries } : {}),
    });
    this.#metaCaches.add(m as MetaCache<unknown, unknown>);
    return m;
  }

  /**
   * Wipes L1, L2 and metadata at once (I-CC2: zeroed). After 'crypto-shred' nothing is cached again
   * in this session (I-CC12); after 'disconnect' or 'manual' the cache refills from canonical.
   */
  async wipe(reason: WipeReason): Promise<void> {
    if (this.#state === 'closed') return;
    this.#epoch++;
    if (reason === 'crypto-shred') this.#state = 'shredded';
    this.#l1?.wipe();
    for (const m of this.#metaCaches) m.wipe();
    this.#counters.wipes++;
    for (const listener of this.#wipeListeners) listener(reason);
    if (this.pool !== null && (this.pool.state === 'active' || this.pool.state === 'wiping')) await this.pool.wipe();
  }

  /**
   * Called at every wipe, before L2 is zeroed: whoever holds plaintext or keys outside the cache
   * (the reader's prefetch window, the keyring) drops it with the cache (I-CC12). Returns an unsubscribe.
   */
  onWipe(listener: (reason: WipeReason) => void): () => void {
    this.#wipeListeners.add(listener);
    return () => { this.#wipeListeners.delete(listener); };
  }

  /**
   * Starts the crypto-shred and disconnect watchers with the session's intervals. The client calls
   * recordSuccess() on every successful RPC and reportKeyDestroyed() when a key fetch says so.
   */
  startWipeTriggers(probeKeyHealth: (() => Promise<KeyHealth>) | null): { recordSuccess(): void; reportKeyDestroyed(): void } {
    this.#triggers?.keyHealth?.stop();
    this.#triggers?.disconnect.stop();
    const onShred = () => { void this.wipe('crypto-shred'); };
    const disconnect = new DisconnectWatcher({ maxDisconnectSeconds: this.config.maxDisconnectSeconds, clock: this.#clock, onDisconnect: () => { void this.wipe('disconnect'); } });
    // A key manager that answers (healthy or destroyed) is a successful RPC; an unreachable one is
    // left to the disconnect timer (brief §4.11).
    const probe = probeKeyHealth === null ? null : async (): Promise<KeyHealth> => {
      const health = await probeKeyHealth();
      if (health !== 'unreachable') disconnect.recordSuccess();
      return health;
    };
    const keyHealth = probe === null ? null : new KeyHealthWatcher({ probe, intervalMs: this.config.keyHealthIntervalMs, clock: this.#clock, onShred });
    this.#triggers = { keyHealth, disconnect };
    return {
      recordSuccess: () => disconnect.recordSuccess(),
      reportKeyDestroyed: () => { if (keyHealth !== null) keyHealth.reportKeyDestroyed(); else onShred(); },
    };
  }

  stats(): CacheStatsSnapshot {
    this.#collectHits();
    return {
      l1_hits: this.#counters.l1_hits,
      l2_hits: this.#counters.l2_hits,
      misses: this.#counters.misses,
      bypasses: this.#counters.bypasses,
      errors: this.#counters.errors,
      l1_bytes: this.#l1?.bytes ?? 0,
      l2_bytes: this.pool?.l2.usedBytes ?? 0,
      meta_hits: this.#counters.meta_hits,
      meta_misses: this.#counters.meta_misses,
      wipes: this.#counters.wipes,
      staged_datasets: this.#staged.datasets,
      staged_bytes: this.#staged.bytes,
      mode: this.mode,
      tenant: this.tenant,
      pool_id: this.pool?.id ?? null,
      pid: process.pid,
      l1_entries: this.#l1?.count ?? 0,
      l2_entries: this.pool?.l2.count ?? 0,
      l2_evictions: this.pool?.l2.evictions ?? 0,
      taken_at: Date.now(),
    };
  }

  /** Clean exit: L1 zeroed, own pool zero-overwritten and deleted, lock released. Idempotent. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#triggers?.keyHealth?.stop();
    this.#triggers?.disconnect.stop();
    this.#disk.stop();
    this.#l1?.wipe();
    for (const m of this.#metaCaches) m.wipe();
    await this.pool?.close();
  }

  /** Staging handover: L1 dropped, the pool kept on disk and unlocked for its adopter. */
  async handOff(graceMs?: number): Promise<string> {
    if (this.pool === null) throw kerr('InvalidArgument', 'a bypass cache has no pool to hand over');
    this.#state = 'closed';
    this.#l1?.wipe();
    await this.pool.handOff(graceMs);
    return this.pool.id;
  }

  #miss(): ChunkGet {
    this.#counters.misses++;
    return { kind: 'miss' };
  }

  #refuse(strict: boolean, why: string): ChunkPut {
    if (strict) throw kerr('Closed', `cannot pin: ${why}`);
    return { kind: 'skipped', reason: why };
  }
}

function hit(tier: 'l1' | 'l2', page: Page): ChunkGet {
  let released = false;
  return {
    kind: 'hit',
    tier,
    data: page.bytes,
    release() {
      if (released) return;
      released = true;
      page.release();
    },
  };
}

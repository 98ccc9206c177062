// The staging daemon's side of the pool handoff (ADR 0090). After staging, the daemon keeps the
// pool's flock until one of three things happens:
//
//   holding ──handoff request on control.sock──▶ handing-off ──marker written, lock released──▶ handed-off
//      │                                                         (adopter locks, deletes marker) ──▶ adopted
//      ├──timeout (--timeout, nobody adopted)──▶ expired  (the pool is shredded: nobody will read it)
//      └──SIGTERM / SIGINT (epilog, admin)─────▶ stopped  (the pool is shredded)
//
// The adopter's side is in CachePool.open (src/cache/pool-lifecycle.ts, adoptLock): it asks over
// control.sock, then waits for the lock. No orphan window: the handoff marker (with a deadline) is
// written while the daemon still holds the lock, and deleted by the adopter only once it holds the
// lock, so at every instant the pool is locked, or marked, or both; the scrubber spares both.
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChunkCache } from '../cache/chunk-cache.js';
import { HANDOFF_FILE } from '../cache/pool-layout.js';

export type HoldState = 'holding' | 'handing-off' | 'handed-off' | 'adopted' | 'expired' | 'stopped';
export type HoldOutcome = 'adopted' | 'handed-off' | 'expired' | 'stopped';

export interface HoldOptions {
  /** How long to hold an unadopted pool (stage --timeout). */
  readonly timeoutMs: number;
  /** How long the handoff marker protects the unlocked pool from the scrubber. */
  readonly graceMs?: number;
  readonly log?: (msg: string) => void;
}

export const DEFAULT_HANDOFF_GRACE_MS = 60_000;

/**
 * Holds a staged pool for its adopter. Wire `request` to ChunkCacheOptions.onHandoffRequest before the
 * cache opens, then call start() once staging is done. `done` resolves with how the hold ended; the
 * pool is then either with its adopter or shredded.
 */
export class PoolHold {
  #state: HoldState = 'holding';
  #cache: ChunkCache | null = null;
  #timer: NodeJS.Timeout | null = null;
  #pendingRequest = false;
  #resolve!: (o: HoldOutcome) => void;
  readonly done = new Promise<HoldOutcome>((r) => { this.#resolve = r; });
  readonly #opts: HoldOptions;

  constructor(opts: HoldOptions) {
    this.#opts = opts;
  }

  get state(): HoldState {
    return this.#state;
  }

  /** The control socket's handoff handler. A request that arrives before start() is served by start(). */
  readonly request = (): void => {
    if (this.#cache === null) {
      this.#pendingRequest = true;
      return;
    }
    void this.#handOff();
  };

  start(cache: ChunkCache): void {
    this.#cache = cache;
    this.#timer = setTimeout(() => void this.#end('expired'), this.#opts.timeoutMs);
    if (this.#pendingRequest) void this.#handOff();
  }

  /** SIGTERM/SIGINT: give up the pool (shredded), unless it is already being handed over. */
  stop(): void {
    void this.#end('stopped');
  }

  async #handOff(): Promise<void> {
    if (this.#state !== 'holding' || this.#cache === null) return;
    this.#state = 'handing-off';
    this.#clearTimer();
    const cache = this.#cache;
    const grace = this.#opts.graceMs ?? DEFAULT_HANDOFF_GRACE_MS;
    try {
      await cache.handOff(grace);
    } catch (err) {
      this.#opts.log?.(`handoff of pool ${cache.pool?.id} failed: ${(err as Error).message}`);
      this.#state = 'holding';
      await this.#end('stopped');
      return;
    }
    this.#state = 'handed-off';
    this.#opts.log?.(`pool ${cache.pool?.id} handed over; waiting for the adopter to lock it`);
    // The adopter deletes the marker once it holds the lock; until then (or the grace period) we wait,
    // so that "the daemon exited 0" means "the pool has its new owner".
    const marker = join(cache.pool!.dir, HANDOFF_FILE);
    const deadline = Date.now() + grace;
    while (Date.now() < deadline) {
      if (!(await exists(marker))) {
        this.#state = 'adopted';
        this.#resolve('adopted');
        return;
      }
      await sleep(20);
    }
    this.#resolve('handed-off');
  }

  async #end(outcome: 'expired' | 'stopped'): Promise<void> {
    if (this.#state !== 'holding') return;
    this.#state = outcome;
    this.#clearTimer();
    this.#opts.log?.(outcome === 'expired' ? `nobody adopted pool ${this.#cache?.pool?.id} within ${this.#opts.timeoutMs} ms; removing it` : 'stopped; removing the pool');
    await this.#cache?.close().catch(() => undefined);
    this.#resolve(outcome);
  }

  #clearTimer(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

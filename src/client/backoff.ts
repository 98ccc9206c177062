// Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And Jitter"):
// the n-th delay is uniform in [0, min(maxMs, initialMs * factor^n)). Full jitter spreads a
// thousand clients that lost the same seeds at once instead of synchronising their retries.
import { kerr } from '../errors.js';

export interface BackoffOptions {
  initialMs: number;
  factor: number;
  maxMs: number;
  /** Uniform in [0, 1); injected for tests. */
  random: () => number;
}

export const DEFAULT_BACKOFF: Readonly<BackoffOptions> = Object.freeze({
  initialMs: 100,
  factor: 2,
  maxMs: 30_000,
  random: Math.random,
});

export class Backoff {
  readonly #opts: BackoffOptions;
  #attempt = 0;

  constructor(options: Partial<BackoffOptions> = {}) {
    const opts = { ...DEFAULT_BACKOFF, ...options };
    if (!(opts.initialMs > 0) || !(opts.factor >= 1) || !(opts.maxMs >= opts.initialMs)) {
      throw kerr('InvalidArgument', `backoff needs initialMs > 0, factor >= 1 and maxMs >= initialMs (got ${opts.initialMs}, ${opts.factor}, ${opts.maxMs})`);
    }
    this.#opts = opts;
  }

  /** Failures since the last reset. */
  get attempt(): number {
    return this.#attempt;
  }

  /** The cap of the next delay, before jitter. */
  ceilingMs(): number {
    return Math.min(this.#opts.maxMs, this.#opts.initialMs * this.#opts.factor ** this.#attempt);
  }

  /** The delay before the next try; counts one more failure. */
  next(): number {
    const delay = Math.floor(this.#opts.random() * this.ceilingMs());
    this.#attempt++;
    return delay;
  }

  reset(): void {
    this.#attempt = 0;
  }
}

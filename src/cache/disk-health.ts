// Health of the L2 disk (aesthetics rule 9): every L2 operation of the facade goes through run(), the
// one choke point that notices failing or hung I/O and stops using the disk for a while, so a dying
// NVMe or a hung filesystem never slows or breaks reads (they go to canonical, I-CC7).
//
//   normal ──I/O error──▶ unstable ──success──▶ normal
//     │                     │ maxConsecutiveErrors reached, or an operation outlives watchdogMs
//     └──hung operation─────┴──────────────▶ down ──coolOffMs later──▶ normal (try again)
//
// While down, run() does not touch the disk and returns the fallback at once.
import { systemClock, type Clock, type TimerHandle } from './clock.js';

export type DiskState = 'normal' | 'unstable' | 'down';

export interface DiskHealthOptions {
  clock?: Clock;
  /** Consecutive failures that take the disk down (default 5). */
  maxConsecutiveErrors?: number;
  /** An operation running longer than this counts as hung (default 10 s). */
  watchdogMs?: number;
  /** How long the disk stays down before it is tried again (default 30 s). */
  coolOffMs?: number;
  onTransition?: (from: DiskState, to: DiskState, reason: string) => void;
}

export class DiskHealth {
  #state: DiskState = 'normal';
  #consecutive = 0;
  #coolOff: TimerHandle | null = null;
  readonly #clock: Clock;
  readonly #maxErrors: number;
  readonly #watchdogMs: number;
  readonly #coolOffMs: number;
  readonly #onTransition: DiskHealthOptions['onTransition'];

  constructor(opts: DiskHealthOptions = {}) {
    this.#clock = opts.clock ?? systemClock;
    this.#maxErrors = opts.maxConsecutiveErrors ?? 5;
    this.#watchdogMs = opts.watchdogMs ?? 10_000;
    this.#coolOffMs = opts.coolOffMs ?? 30_000;
    this.#onTransition = opts.onTransition;
  }

  get state(): DiskState {
    return this.#state;
  }

  /**
   * Runs op unless the disk is down. `failed(result)` says whether a resolved result was an I/O
   * failure. A rejection also counts as one. If op outlives the watchdog, the fallback is returned and
   * `late(result)` receives op's eventual result so the caller can release what it holds.
   */
  async run<T>(op: () => Promise<T>, opts: { fallback: T; failed?: (r: T) => boolean; late?: (r: T) => void }): Promise<T> {
    if (this.#state === 'down') return opts.fallback;
    let timer: TimerHandle | null = null;
    let hung = false;
    const watchdog = new Promise<'hung'>((resolve) => {
      timer = this.#clock.setTimer(() => { hung = true; resolve('hung'); }, this.#watchdogMs);
    });
    const work = op();
    let r: T | 'hung';
    try {
      r = await Promise.race([work, watchdog]);
    } catch {
      (timer as TimerHandle | null)?.cancel();
      this.#failure('operation failed');
      return opts.fallback;
    }
    (timer as TimerHandle | null)?.cancel();
    if (r === 'hung' && hung) {
      this.#transition('down', `an L2 operation took longer than ${this.#watchdogMs} ms`);
      work.then((late) => opts.late?.(late), () => undefined);
      return opts.fallback;
    }
    const result = r as T;
    if (opts.failed?.(result) === true) this.#failure('I/O error');
    else this.#success();
    return result;
  }

  #success(): void {
    this.#consecutive = 0;
    if (this.#state === 'unstable') this.#transition('normal', 'an operation succeeded');
  }

  #failure(reason: string): void {
    this.#consecutive++;
    if (this.#consecutive >= this.#maxErrors) this.#transition('down', `${this.#consecutive} consecutive failures (${reason})`);
    else if (this.#state === 'normal') this.#transition('unstable', reason);
  }

  #transition(to: DiskState, reason: string): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    if (to === 'down') {
      this.#coolOff?.cancel();
      this.#coolOff = this.#clock.setTimer(() => {
        this.#coolOff = null;
        this.#consecutive = 0;
        this.#transition('normal', `cool-off of ${this.#coolOffMs} ms over`);
      }, this.#coolOffMs);
    }
    this.#onTransition?.(from, to, reason);
  }

  stop(): void {
    this.#coolOff?.cancel();
    this.#coolOff = null;
  }
}

// The two automatic wipe triggers of brief §4.11, each a small state machine on an injected clock.
//
// KeyHealthWatcher (I-CC12, crypto-shred):
//   watching --probe says 'destroyed' / reportKeyDestroyed()--> shredded (wipe callback runs once)
//   watching --probe 'healthy' | 'unreachable' | throws--> watching (unreachable is left to the
//                                                          disconnect timer)
//   any --stop()--> stopped
// Detection latency is at most intervalMs after the KEK is destroyed (plus the probe's own time).
//
// DisconnectWatcher (I-CC6):
//   connected --no recordSuccess() for MORE than maxDisconnectSeconds--> disconnected (wipe runs once)
//   connected | disconnected --recordSuccess()--> connected
// Failed RPCs are simply not reported: only the absence of success for the whole window wipes.
import { systemClock, type Clock, type TimerHandle } from './clock.js';

export type KeyHealth = 'healthy' | 'destroyed' | 'unreachable';
export type WipeReason = 'crypto-shred' | 'disconnect' | 'manual';

export class KeyHealthWatcher {
  #state: 'watching' | 'shredded' | 'stopped' = 'watching';
  #timer: TimerHandle | null = null;
  #probing = false;
  readonly #probe: () => Promise<KeyHealth>;
  readonly #intervalMs: number;
  readonly #clock: Clock;
  readonly #onShred: () => void;
  lastHealth: KeyHealth | null = null;

  constructor(opts: { probe: () => Promise<KeyHealth>; intervalMs: number; clock?: Clock; onShred: () => void }) {
    if (!(opts.intervalMs > 0)) throw new RangeError(`key_health_interval_ms must be > 0, got ${opts.intervalMs}`);
    this.#probe = opts.probe;
    this.#intervalMs = opts.intervalMs;
    this.#clock = opts.clock ?? systemClock;
    this.#onShred = opts.onShred;
    this.#schedule();
  }

  get state(): 'watching' | 'shredded' | 'stopped' {
    return this.#state;
  }

  /** A key fetch answered "KEK destroyed": shred now rather than at the next probe. */
  reportKeyDestroyed(): void {
    this.#shred();
  }

  stop(): void {
    this.#state = 'stopped';
    this.#timer?.cancel();
    this.#timer = null;
  }

  #schedule(): void {
    if (this.#state !== 'watching') return;
    this.#timer = this.#clock.setTimer(() => { void this.#tick(); }, this.#intervalMs);
  }

  async #tick(): Promise<void> {
    this.#timer = null;
    if (this.#state !== 'watching' || this.#probing) return;
    this.#probing = true;
    let health: KeyHealth;
    try {
      health = await this.#probe();
    } catch {
      health = 'unreachable';
    } finally {
      this.#probing = false;
    }
    this.lastHealth = health;
    if (health === 'destroyed') this.#shred();
    else this.#schedule();
  }

  #shred(): void {
    if (this.#state !== 'watching') return;
    this.#state = 'shredded';
    this.#timer?.cancel();
    this.#timer = null;
    this.#onShred();
  }
}

export class DisconnectWatcher {
  #state: 'connected' | 'disconnected' | 'stopped' = 'connected';
  #lastSuccess: number;
  #timer: TimerHandle | null = null;
  readonly #maxMs: number;
  readonly #clock: Clock;
  readonly #onDisconnect: () => void;

  /** Starts "connected" as of now (the session was just established). */
  constructor(opts: { maxDisconnectSeconds: number; clock?: Clock; onDisconnect: () => void }) {
    if (!(opts.maxDisconnectSeconds > 0)) throw new RangeError(`max_disconnect_seconds must be > 0, got ${opts.maxDisconnectSeconds}`);
    this.#maxMs = opts.maxDisconnectSeconds * 1000;
    this.#clock = opts.clock ?? systemClock;
    this.#onDisconnect = opts.onDisconnect;
    this.#lastSuccess = this.#clock.now();
    this.#arm(this.#maxMs + 1);
  }

  get state(): 'connected' | 'disconnected' | 'stopped' {
    return this.#state;
  }

  /** Any successful RPC to any canonical endpoint. Cheap: no timer is touched while connected. */
  recordSuccess(): void {
    if (this.#state === 'stopped') return;
    this.#lastSuccess = this.#clock.now();
    if (this.#state === 'disconnected') {
      this.#state = 'connected';
      this.#arm(this.#maxMs + 1);
    }
  }

  stop(): void {
    this.#state = 'stopped';
    this.#timer?.cancel();
    this.#timer = null;
  }

  #arm(ms: number): void {
    this.#timer = this.#clock.setTimer(() => this.#check(), ms);
  }

  #check(): void {
    this.#timer = null;
    if (this.#state !== 'connected') return;
    const silent = this.#clock.now() - this.#lastSuccess;
    if (silent > this.#maxMs) {
      this.#state = 'disconnected';
      this.#onDisconnect();
    } else {
      this.#arm(this.#maxMs - silent + 1);
    }
  }
}

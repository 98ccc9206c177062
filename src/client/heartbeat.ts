// Session liveness: a Heartbeat RPC every interval (60 s by default) carrying this process's
// 16-byte CSPRNG client id. Success refreshes lastSuccessfulRpcAt through rpc.ts (I-CC6);
// failures are counted, never fatal: the disconnect timer decides what a long silence means.
import { randomBytes } from 'node:crypto';
import { DiscoveryServiceService } from '../gen/kiseki/v1/discovery.js';
import type { Clock, TimerHandle } from '../cache/clock.js';
import { callUnary, type RpcEnv } from './rpc.js';
import type { SeedAddress } from './seeds.js';

export const HEARTBEAT_INTERVAL_MS = 60_000;
export const CLIENT_ID_BYTES = 16;

/** I-WA4: a fresh random id per process, never derived from host or user. */
export function newClientId(): Buffer {
  return randomBytes(CLIENT_ID_BYTES);
}

export interface HeartbeatStats {
  sent: number;
  failures: number;
  consecutiveFailures: number;
  lastError: string | null;
}

export class Heartbeat {
  readonly #env: RpcEnv;
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #clientId: Buffer;
  readonly #target: () => SeedAddress;
  readonly #onFailure: (err: unknown) => void;
  #timer: TimerHandle | null = null;
  #inFlight: Promise<void> | null = null;
  #stopped = true;
  readonly stats: HeartbeatStats = { sent: 0, failures: 0, consecutiveFailures: 0, lastError: null };

  constructor(opts: { env: RpcEnv; clientId: Buffer; target: () => SeedAddress; intervalMs?: number; onFailure?: (err: unknown) => void }) {
    this.#env = opts.env;
    this.#clock = opts.env.clock;
    this.#clientId = opts.clientId;
    this.#target = opts.target;
    this.#intervalMs = opts.intervalMs ?? HEARTBEAT_INTERVAL_MS;
    this.#onFailure = opts.onFailure ?? (() => undefined);
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#schedule();
  }

  /** Stops the timer and waits for a beat in flight. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#timer?.cancel();
    this.#timer = null;
    await this.#inFlight;
  }

  /** One beat now (also what the timer runs); resolves once it finished, never rejects. */
  beat(): Promise<void> {
    this.#inFlight ??= this.#send().finally(() => {
      this.#inFlight = null;
    });
    return this.#inFlight;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.#clock.setTimer(() => {
      this.#timer = null;
      void this.beat().then(() => this.#schedule());
    }, this.#intervalMs);
  }

  async #send(): Promise<void> {
    this.stats.sent++;
    try {
      await callUnary(this.#env, this.#target(), DiscoveryServiceService.heartbeat, { clientId: this.#clientId });
      this.stats.consecutiveFailures = 0;
    } catch (err) {
      this.stats.failures++;
      this.stats.consecutiveFailures++;
      this.stats.lastError = err instanceof Error ? err.message : String(err);
      this.#onFailure(err);
    }
  }
}

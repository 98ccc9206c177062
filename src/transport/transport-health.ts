// Health of one transport to one node (kiseki-brief §7.6): an explicit circuit breaker.
//
//   healthy ──failure──▶ degraded ──(5 failures within 30 s)──▶ down
//      ▲                    │ failures age out                     │ 10 s later: beginProbe()
//      └────────────────────┘                                      ▼
//      └──────────────────────probe succeeded──────────────── probing ──probe failed──▶ down
//
// healthy and degraded carry traffic; down and probing do not (callers use the next transport).
// A success in degraded does not clear failures: a flapping link stays counted until they age out.
// The clock is injected so tests drive time instead of sleeping.

export type HealthState = 'healthy' | 'degraded' | 'down' | 'probing';

export interface HealthPolicy {
  failureThreshold: number;
  failureWindowMs: number;
  reprobeIntervalMs: number;
}

export const DEFAULT_HEALTH_POLICY: HealthPolicy = { failureThreshold: 5, failureWindowMs: 30_000, reprobeIntervalMs: 10_000 };

export type Clock = () => number;

export class TransportHealth {
  private current: HealthState = 'healthy';
  private failures: number[] = [];
  private downSince = 0;
  private readonly listeners: ((from: HealthState, to: HealthState) => void)[] = [];

  constructor(
    private readonly policy: HealthPolicy = DEFAULT_HEALTH_POLICY,
    private readonly clock: Clock = Date.now,
  ) {}

  get state(): HealthState {
    if (this.current === 'degraded') {
      this.prune();
      if (this.failures.length === 0) this.to('healthy');
    }
    return this.current;
  }

  /** May traffic use this transport now? */
  usable(): boolean {
    const s = this.state;
    return s === 'healthy' || s === 'degraded';
  }

  /** True when the transport is down and the re-probe interval has passed. */
  dueForProbe(): boolean {
    return this.current === 'down' && this.clock() - this.downSince >= this.policy.reprobeIntervalMs;
  }

  recordSuccess(): void {
    // healthy stays healthy; degraded heals only by ageing (see header); down/probing ignore stray results
    void this.state;
  }

  recordFailure(): void {
    const s = this.state;
    if (s === 'down' || s === 'probing') return;
    this.failures.push(this.clock());
    this.prune();
    if (this.failures.length >= this.policy.failureThreshold) this.markDown();
    else if (s === 'healthy') this.to('degraded');
  }

  /** Trips the circuit at once (e.g. the listener said it is going away). */
  markDown(): void {
    this.downSince = this.clock();
    this.to('down');
  }

  beginProbe(): boolean {
    if (!this.dueForProbe()) return false;
    this.to('probing');
    return true;
  }

  probeSucceeded(): void {
    if (this.current !== 'probing') return;
    this.failures = [];
    this.to('healthy');
  }

  probeFailed(): void {
    if (this.current !== 'probing') return;
    this.markDown();
  }

  onTransition(fn: (from: HealthState, to: HealthState) => void): void {
    this.listeners.push(fn);
  }

  private prune(): void {
    const horizon = this.clock() - this.policy.failureWindowMs;
    while (this.failures.length > 0 && this.failures[0]! <= horizon) this.failures.shift();
  }

  private to(next: HealthState): void {
    const from = this.current;
    if (from === next) return;
    this.current = next;
    for (const fn of this.listeners) fn(from, next);
  }
}

// Discovery (Kiseki ADR-008 as the client sees it): ask the seeds who the nodes are, cache the
// answer for its ttl_ms, refresh in the background, and retry with backoff while nobody answers.
//
//   idle ─start─▶ discovering ─a seed answered─▶ ready ─ttl elapsed─▶ stale ─refresh answered─▶ ready
//                   │    ▲                                              │ ▲
//     every seed    ▼    │ retry timer                refresh failed:   └─┘ retry with backoff,
//        failed   failed─┘ (exponential backoff,      the cached answer keeps serving
//                           full jitter)
//   any ─close─▶ closed
//
// While no seed has ever answered (discovering, failed) every caller fails fast with
// KisekiError 'NoSeedsReachable' (errno EIO) naming the seeds tried and the next retry: that is
// what makes a mount answer EIO until discovery succeeds (scenario "All seed endpoints unreachable").
import { DiscoveryServiceService, TransportKind, type DiscoverResponse, type TransportEndpoint } from '../gen/kiseki/v1/discovery.js';
import { KisekiError, kerr } from '../errors.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import type { TimerHandle } from '../cache/clock.js';
import { callUnary, type RpcEnv } from './rpc.js';
import { formatSeed, parseSeed, type SeedAddress } from './seeds.js';

export type DiscoveryState = 'idle' | 'discovering' | 'ready' | 'stale' | 'failed' | 'closed';

export interface DiscoveredNode {
  id: number;
  /** Where this client reaches the node's gRPC services. */
  address: SeedAddress;
  leader: boolean;
  endpoints: TransportEndpoint[];
}

export interface Discovered {
  response: DiscoverResponse;
  nodes: DiscoveredNode[];
  leader: DiscoveredNode;
  replicas: number;
  ttlMs: number;
  fetchedAt: number;
  answeredBy: SeedAddress;
}

export interface DiscoveryOptions {
  seeds: readonly SeedAddress[];
  rpc: RpcEnv;
  backoff?: Partial<BackoffOptions>;
  /** Used when a node answers ttl_ms = 0. */
  defaultTtlMs?: number;
  /** Deadline of one Discover call to one seed. */
  attemptDeadlineMs?: number;
}

export interface DiscoveryStats {
  rounds: number;
  failedRounds: number;
  rpcs: number;
  /** Every retry delay scheduled, in order (the backoff schedule). */
  retryDelays: number[];
}

/** Reads the addresses this client should use out of an answer; rejects answers it cannot use. */
export function interpretDiscovery(response: DiscoverResponse, answeredBy: SeedAddress, fetchedAt: number, defaultTtlMs: number): Discovered {
  const where = formatSeed(answeredBy);
  const bad = (why: string) => kerr('Unavailable', `Discover at ${where} gave an unusable answer: ${why}`);
  if (response.nodes.length === 0) throw bad('no nodes');
  const ids = new Set<number>();
  const nodes = response.nodes.map((n): DiscoveredNode => {
    const id = n.nodeId?.value;
    if (id === undefined || ids.has(id)) throw bad(`missing or duplicate node id ${id}`);
    ids.add(id);
    const tcp = n.endpoints.find((e) => e.kind === TransportKind.TRANSPORT_KIND_TCP_TLS && e.address !== '');
    let address: SeedAddress;
    // A node reached over its unix socket is reached there again: that socket needs no TLS.
    if (answeredBy.kind === 'unix' && (response.nodes.length === 1 || tcp === undefined)) address = answeredBy;
    else if (tcp !== undefined) {
      try {
        address = parseSeed(tcp.address, `node ${id} endpoint`);
      } catch (err) {
        throw bad((err as Error).message);
      }
    } else throw bad(`node ${id} has no TCP_TLS endpoint`);
    return { id, address, leader: n.metadataLeader, endpoints: n.endpoints };
  });
  const leaders = nodes.filter((n) => n.leader);
  if (leaders.length !== 1) throw bad(`${leaders.length} metadata leaders (want exactly one)`);
  const replicas = Math.min(Math.max(1, response.replicas), nodes.length);
  const ttlMs = response.ttlMs > 0 ? response.ttlMs : defaultTtlMs;
  return { response, nodes, leader: leaders[0]!, replicas, ttlMs, fetchedAt, answeredBy };
}

type Listener = (state: DiscoveryState, reason: string) => void;

export class DiscoveryClient {
  readonly #seeds: readonly SeedAddress[];
  readonly #rpc: RpcEnv;
  readonly #backoff: Backoff;
  readonly #defaultTtlMs: number;
  readonly #attemptDeadlineMs: number;
  #state: DiscoveryState = 'idle';
  #current: Discovered | null = null;
  #lastError: KisekiError | null = null;
  #timer: TimerHandle | null = null;
  #round: Promise<void> | null = null;
  #listeners = new Set<Listener>();
  readonly stats: DiscoveryStats = { rounds: 0, failedRounds: 0, rpcs: 0, retryDelays: [] };

  constructor(opts: DiscoveryOptions) {
    if (opts.seeds.length === 0) throw kerr('InvalidArgument', 'discovery needs at least one seed address');
    this.#seeds = [...opts.seeds];
    this.#rpc = opts.rpc;
    this.#backoff = new Backoff(opts.backoff);
    this.#defaultTtlMs = opts.defaultTtlMs ?? 30_000;
    this.#attemptDeadlineMs = opts.attemptDeadlineMs ?? 3_000;
  }

  get state(): DiscoveryState {
    return this.#state;
  }

  get seeds(): readonly SeedAddress[] {
    return this.#seeds;
  }

  /** The error of the last failed round (null after a success). */
  get lastError(): KisekiError | null {
    return this.#lastError;
  }

  onChange(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #transition(from: readonly DiscoveryState[], to: DiscoveryState, reason: string): boolean {
    if (!from.includes(this.#state)) return false;
    const changed = this.#state !== to;
    this.#state = to;
    if (changed) for (const l of [...this.#listeners]) l(to, reason);
    return true;
  }

  /** Starts the first round; resolves when it finished, whatever its outcome. */
  start(): Promise<void> {
    if (this.#transition(['idle'], 'discovering', 'start')) return this.#runRound();
    return this.#round ?? Promise.resolve();
  }

  /**
   * The cached answer (possibly stale while a refresh is pending). Fails fast while no seed has
   * answered yet: NoSeedsReachable (EIO).
   */
  current(): Discovered {
    if (this.#current !== null && (this.#state === 'ready' || this.#state === 'stale')) return this.#current;
    switch (this.#state) {
      case 'closed':
        throw kerr('Closed', 'discovery was closed with its session');
      case 'failed':
        throw this.#lastError!;
      default:
        throw kerr('NoSeedsReachable', `no seed has answered discovery yet (seeds: ${this.#seeds.map(formatSeed).join(', ')}); retry shortly`);
    }
  }

  /** Runs a round now (e.g. every node failed a call); joins one already running. */
  refresh(): Promise<void> {
    if (this.#state === 'closed') return Promise.resolve();
    if (this.#state === 'idle') return this.start();
    if (this.#round !== null) return this.#round;
    this.#timer?.cancel();
    this.#timer = null;
    if (this.#state === 'ready') this.#transition(['ready'], 'stale', 'refresh requested');
    if (this.#state === 'failed') this.#transition(['failed'], 'discovering', 'refresh requested');
    return this.#runRound();
  }

  close(): void {
    this.#timer?.cancel();
    this.#timer = null;
    this.#transition(['idle', 'discovering', 'ready', 'stale', 'failed'], 'closed', 'close');
  }

  #runRound(): Promise<void> {
    this.#round = this.#roundBody().finally(() => {
      this.#round = null;
    });
    return this.#round;
  }

  /** Seeds in the configured order, then nodes learned from an earlier answer. */
  #candidates(): SeedAddress[] {
    const out = [...this.#seeds];
    const seen = new Set(out.map(formatSeed));
    for (const n of this.#current?.nodes ?? []) {
      if (!seen.has(formatSeed(n.address))) {
        seen.add(formatSeed(n.address));
        out.push(n.address);
      }
    }
    return out;
  }

  async #roundBody(): Promise<void> {
    this.stats.rounds++;
    const failures: string[] = [];
    for (const seed of this.#candidates()) {
      if (this.#state === 'closed') return;
      this.stats.rpcs++;
      try {
        const res = await callUnary(this.#rpc, seed, DiscoveryServiceService.discover, {}, { deadlineMs: this.#attemptDeadlineMs });
        const found = interpretDiscovery(res, seed, this.#rpc.clock.now(), this.#defaultTtlMs);
        this.#succeed(found);
        return;
      } catch (err) {
        failures.push(`${formatSeed(seed)} (${err instanceof Error ? err.message : String(err)})`);
        // A fresh channel next round: a grpc-js channel in TRANSIENT_FAILURE waits out its own backoff.
        if (!KisekiError.is(err) || err.kind === 'Unavailable') this.#rpc.channels.drop(seed);
      }
    }
    this.#fail(failures);
  }

  #succeed(found: Discovered): void {
    if (this.#state !== 'discovering' && this.#state !== 'stale' && this.#state !== 'ready') return;
    // Publish the answer before the transition: listeners read it.
    this.#current = found;
    this.#lastError = null;
    this.#backoff.reset();
    this.#timer?.cancel();
    this.#timer = this.#rpc.clock.setTimer(() => {
      this.#timer = null;
      if (this.#transition(['ready'], 'stale', `ttl ${found.ttlMs} ms elapsed`)) void this.#runRound();
    }, found.ttlMs);
    this.#transition(['discovering', 'stale', 'ready'], 'ready', `answered by ${formatSeed(found.answeredBy)}`);
  }

  #fail(failures: string[]): void {
    if (this.#state === 'closed') return;
    this.stats.failedRounds++;
    const attempt = this.#backoff.attempt + 1;
    const delay = this.#backoff.next();
    this.stats.retryDelays.push(delay);
    this.#lastError = kerr('NoSeedsReachable',
      `no seeds reachable: tried ${failures.join(', ')}; next retry in ${delay} ms (attempt ${attempt + 1}); `
      + 'check --data-addr / KISEKI_SEEDS and that the nodes run');
    if (this.#state === 'discovering') this.#transition(['discovering'], 'failed', 'every seed failed');
    this.#timer?.cancel();
    this.#timer = this.#rpc.clock.setTimer(() => {
      this.#timer = null;
      if (this.#transition(['failed'], 'discovering', 'retry') || this.#state === 'stale') void this.#runRound();
    }, delay);
  }
}

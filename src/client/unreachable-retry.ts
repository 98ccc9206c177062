// Waiting out nodes that cannot answer for a passing reason (restarting, a connection being redialled)
// before the workload sees EIO: reads and uploads alike try again within a time budget, with pauses
// growing from 100 ms to 1 s. A definite answer (missing, damaged, not ours, disk full) ends it at once.
// A node that has failed for longer than the budget gets a short window per call until it answers
// again, so a dead node costs a writer one budget in all rather than one per chunk.
import { type ErrorKind, KisekiError } from '../errors.js';

/** First pause before trying again; doubles up to the second figure. */
const RETRY_PAUSE_MS = [100, 1_000] as const;

/** Failures of a chunk call that trying again can change: the node, not the request, was the problem. */
const PASSING: ReadonlySet<ErrorKind> = new Set<ErrorKind>(['TransportFailed', 'Unavailable']);

export function isPassing(err: unknown): boolean {
  return KisekiError.is(err) && PASSING.has(err.kind);
}

/**
 * What every call gets however long its node has been failing: a gRPC channel redials a restarted node
 * within 2 s (transport-grpc.ts reconnect backoff) and fails calls at once until then.
 */
const MIN_WINDOW_MS = 3_500;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `attempt` until it succeeds, `passing(err)` says a failure is final, or `budgetMs` would run
 * out during the next pause; then the last failure is thrown.
 */
export async function retryWhileUnreachable<T>(budgetMs: number, attempt: () => Promise<T>, passing: (err: unknown) => boolean, since?: FailureRun): Promise<T> {
  const start = performance.now();
  for (let pause: number = RETRY_PAUSE_MS[0]; ; pause = Math.min(pause * 2, RETRY_PAUSE_MS[1])) {
    try {
      const r = await attempt();
      since?.succeeded();
      return r;
    } catch (err) {
      if (!passing(err)) throw err;
      const deadline = Math.max((since?.failed() ?? start) + budgetMs, start + Math.min(budgetMs, MIN_WINDOW_MS));
      if (performance.now() + pause > deadline) throw err;
    }
    await sleep(pause);
  }
}

/** A run of passing failures: of one node, or of every replica a read may use. */
export interface FailureRun {
  /** Records a passing failure; returns when the current run of failures began. */
  failed(): number;
  succeeded(): void;
}

/** When one node started failing for a passing reason, until its next success. */
export class FailingSince implements FailureRun {
  private from: number | null = null;

  /** When the current run of failures began; null while the node answers. */
  get since(): number | null {
    return this.from;
  }

  /** Records a passing failure; returns when the current run of failures began. */
  failed(): number {
    this.from ??= performance.now();
    return this.from;
  }

  succeeded(): void {
    this.from = null;
  }
}

/** A FailingSince per node, found by the node's transport. */
export class FailingNodes {
  private readonly byNode = new WeakMap<object, FailingSince>();

  of(node: object): FailingSince {
    let s = this.byNode.get(node);
    if (s === undefined) this.byNode.set(node, (s = new FailingSince()));
    return s;
  }
}

// Waiting out nodes that cannot answer for a passing reason (restarting, a connection being redialled)
// before the workload sees EIO: reads and uploads alike try again within a time budget, with pauses
// growing from 100 ms to 1 s. A definite answer (missing, damaged, not ours, disk full) ends it at once.
import type { ErrorKind } from '../errors.js';

/** First pause before trying again; doubles up to the second figure. */
const RETRY_PAUSE_MS = [100, 1_000] as const;

/** Failures of a chunk call that trying again can change: the node, not the request, was the problem. */
export const PASSING: ReadonlySet<ErrorKind> = new Set<ErrorKind>(['TransportFailed', 'Unavailable']);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `attempt` until it succeeds, `passing(err)` says a failure is final, or `budgetMs` would run
 * out during the next pause; then the last failure is thrown.
 */
export async function retryWhileUnreachable<T>(budgetMs: number, attempt: () => Promise<T>, passing: (err: unknown) => boolean): Promise<T> {
  const deadline = performance.now() + budgetMs;
  for (let pause: number = RETRY_PAUSE_MS[0]; ; pause = Math.min(pause * 2, RETRY_PAUSE_MS[1])) {
    try {
      return await attempt();
    } catch (err) {
      if (!passing(err) || performance.now() + pause > deadline) throw err;
    }
    await sleep(pause);
  }
}

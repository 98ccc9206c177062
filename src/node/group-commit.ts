// Group commit: namespace mutations that arrive while the event loop is busy (typically while the
// previous commit's fsync blocks it) run together in one IMMEDIATE transaction, so N concurrent
// mutations cost one WAL fsync instead of N. Each mutation keeps its own savepoint: one that throws
// is rolled back alone and its caller gets the error; the others commit.
// I-N6: a caller's promise resolves only after the COMMIT that contains its mutation returned
// (synchronous=FULL: the WAL is fsync'd), so an acknowledged mutation survives kill -9 and power loss;
// if that COMMIT fails, every mutation of the batch is rejected and none is visible.
import type { Db } from './metadata-db.js';

interface Pending {
  readonly fn: () => unknown;
  readonly resolve: (v: unknown) => void;
  readonly reject: (err: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; err: unknown };

/** Mutations per transaction at most, so one batch cannot hold the event loop for long. */
export const GROUP_COMMIT_MAX = 256;

export class GroupCommit {
  private queue: Pending[] = [];
  private scheduled = false;
  /** Transactions committed and mutations in them (tests and metrics). */
  readonly stats = { commits: 0, mutations: 0 };

  constructor(private readonly db: Db) {}

  /** Runs `fn` (synchronous SQLite work) in the next group transaction; resolves once it is durable. */
  run<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    const batch = this.queue.splice(0, GROUP_COMMIT_MAX);
    this.scheduled = this.queue.length > 0;
    if (this.scheduled) setImmediate(() => this.flush());
    const outcomes: Outcome[] = [];
    try {
      this.db.transaction(() => {
        for (const m of batch) {
          // A nested better-sqlite3 transaction is a SAVEPOINT: a throw rolls back this mutation only.
          try {
            outcomes.push({ ok: true, value: this.db.transaction(m.fn)() });
          } catch (err) {
            outcomes.push({ ok: false, err });
          }
        }
      }).immediate();
    } catch (err) {
      for (const m of batch) m.reject(err);
      return;
    }
    this.stats.commits++;
    this.stats.mutations += batch.length;
    batch.forEach((m, i) => {
      const o = outcomes[i]!;
      if (o.ok) m.resolve(o.value);
      else m.reject(o.err);
    });
  }
}

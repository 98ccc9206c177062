// A standing window of fi_reads towards one node (issue #7). tcp;ofi_rxm carries the node's replies
// and the data of our reads on one ordered connection: with every read of a batch posted at once, a
// GET reply the node sends meanwhile waits behind all of that data, so the client learns the next
// batch's windows only once the pipe has drained. Keeping at most `limit` reads outstanding (the C
// benchmark keeps 4) lets replies through after at most `limit` chunks, so reads of the next batch
// are queued before the current ones finish and the connection never idles between batches.
// States per read: queued → posted → done. FIFO: reads are posted in the order they were asked for.
import { kerr } from '../errors.js';

/** Default fi_reads in flight per node session (KISEKI_FABRIC_READ_WINDOW). */
export function fabricReadWindow(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.KISEKI_FABRIC_READ_WINDOW ?? 4);
  if (!Number.isInteger(v) || v < 1 || v > 256) throw kerr('InvalidArgument', `KISEKI_FABRIC_READ_WINDOW=${env.KISEKI_FABRIC_READ_WINDOW} must be an integer 1..256`);
  return v;
}

export class ReadWindow {
  private posted = 0;
  private readonly queued: (() => void)[] = [];

  constructor(readonly limit: number) {}

  /** Runs `post` once fewer than `limit` earlier reads are outstanding; the slot frees when it settles. */
  async run<T>(post: () => Promise<T>): Promise<T> {
    if (this.posted >= this.limit) await new Promise<void>((resolve) => this.queued.push(resolve));
    else this.posted++;
    try {
      return await post();
    } finally {
      const next = this.queued.shift();
      if (next) next(); // the slot passes straight to the oldest queued read
      else this.posted--;
    }
  }

  get outstanding(): number {
    return this.posted;
  }

  get waiting(): number {
    return this.queued.length;
  }
}

// A standing window of fi_reads towards one node (issue #7, ADR 0035). tcp;ofi_rxm carries the
// node's replies and the data of our reads on one ordered connection: with every read posted at once,
// a GET reply the node sends meanwhile waits behind all of that data, so a caller with several GETs
// queued learns the next batch's windows only once the pipe has drained. At most `limitBytes` of reads
// are outstanding; a read posts when the earlier ones leave room. The default, 16 MiB (the C
// benchmark's 4 × 4 MiB), pays off since a GET hands each chunk on as it lands (ADR 0036): a caller
// that recycles at once gives the next read the buffer just used, so a GET cycles over ~5 receive
// buffers instead of 16: in four shared-machine sequences, 0.93–1.34× the throughput of session 4's
// way and −8 to +2 % CPU per GiB (BENCHMARKS.md "Session 5 (transport)"). Before that, with every
// buffer live until the GET returned, it measured no better than 64 MiB (one full GET at once;
// "Session 4"); bench:transport's `-w64` and `fabric-batch` rows keep measuring both.
// States per read: queued → posted → settled. FIFO: reads are posted in the order they were asked for.
import { kerr } from '../errors.js';

/** Default bytes of fi_reads in flight per node session (KISEKI_FABRIC_READ_WINDOW_MIB, MiB). */
export function fabricReadWindowBytes(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.KISEKI_FABRIC_READ_WINDOW_MIB ?? 16);
  if (!Number.isInteger(v) || v < 1 || v > 4096) {
    throw kerr('InvalidArgument', `KISEKI_FABRIC_READ_WINDOW_MIB=${env.KISEKI_FABRIC_READ_WINDOW_MIB} must be an integer 1..4096`);
  }
  return v * 1024 * 1024;
}

interface Queued {
  bytes: number;
  start(): void;
}

export class ReadWindow {
  private posted = 0;
  private postedBytes = 0;
  private readonly queued: Queued[] = [];

  constructor(readonly limitBytes: number) {}

  /**
   * Runs `post` (one fi_read of `bytes`) once the reads before it leave room; the room frees when it
   * settles. I-FW1: outstanding bytes never exceed the limit, except a single read larger than the
   * whole window, which goes alone.
   */
  async run<T>(bytes: number, post: () => Promise<T>): Promise<T> {
    if (this.queued.length === 0 && this.fits(bytes)) this.claim(bytes);
    else await new Promise<void>((start) => this.queued.push({ bytes, start })); // admit() claims for us
    try {
      return await post();
    } finally {
      this.posted--;
      this.postedBytes -= bytes;
      this.admit();
    }
  }

  get outstanding(): number {
    return this.posted;
  }

  get waiting(): number {
    return this.queued.length;
  }

  private fits(bytes: number): boolean {
    return this.posted === 0 || this.postedBytes + bytes <= this.limitBytes;
  }

  private claim(bytes: number): void {
    this.posted++;
    this.postedBytes += bytes;
  }

  // Oldest first. Room is claimed here, before the admitted reads run, so nothing asked for in the
  // meantime can be admitted past the limit.
  private admit(): void {
    while (this.queued.length > 0 && this.fits(this.queued[0]!.bytes)) {
      const head = this.queued.shift()!;
      this.claim(head.bytes);
      head.start();
    }
  }
}

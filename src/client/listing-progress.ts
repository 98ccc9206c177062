// A directory listing in flight, as lookups waiting for it see it: each stored page wakes them (the
// name may be in it), and so does the end. A lookup re-checks the cache at each wake-up and stops
// waiting as soon as its name is there, so a walk goes on while later pages are still being listed
// (ADR 0085). States: listing → ended.
import type { FetchTicket } from './dentry-cache.js';

export class ListingProgress {
  private state: 'listing' | 'ended' = 'listing';
  private wake: (() => void) | null = null;
  private next: Promise<void> | null = null;

  /** @param ticket the listing's fetch ticket: once an own change moved past it, no page of it is stored. */
  constructor(readonly ticket: FetchTicket) {}

  get ended(): boolean {
    return this.state === 'ended';
  }

  /** Resolves at the next stored page or at the end (at once once ended). */
  advanced(): Promise<void> {
    if (this.state === 'ended') return Promise.resolve();
    this.next ??= new Promise<void>((resolve) => {
      this.wake = resolve;
    });
    return this.next;
  }

  /** A page was stored in the cache. */
  page(): void {
    const wake = this.wake;
    this.wake = null;
    this.next = null;
    wake?.();
  }

  /** The listing ended (stored, incomplete or failed): no more pages come. */
  end(): void {
    this.state = 'ended';
    this.page();
  }
}

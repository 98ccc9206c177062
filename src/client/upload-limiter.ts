// Bounds the chunks being sealed and uploaded at once across the whole mount. A writer that fills
// chunks faster than they can go out waits here (backpressure) instead of growing memory without
// bound; below the bound, chunking, sealing and upload of many chunks overlap.
export class UploadLimiter {
  private active = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(readonly capacity: number) {}

  async acquire(): Promise<void> {
    if (this.active < this.capacity) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    const next = this.waiters.shift();
    if (next !== undefined) next();
    else this.active--;
  }

  get inflight(): number {
    return this.active;
  }
}

// A refcounted plaintext buffer owned by the cache (aesthetics rule 10). The cache holds one reference
// while the page is cached; each reader holds one while it uses the bytes. The last release zeroes the
// memory (I-CC2), so eviction or a wipe never pulls bytes out from under a reader that still sends them.

export class Page {
  /** The plaintext. */
  readonly bytes: Buffer;
  /** All memory zeroed on last release (bytes, or a larger buffer bytes is a view of, e.g. with a trailer). */
  readonly #backing: Buffer;
  /** Called with the zeroed backing after the last release (a BufferRecycler takes it back). */
  readonly #onFree: ((backing: Buffer) => void) | null;
  #refs = 1;

  /** Takes ownership of backing (bytes must be a view of it) with one reference, the creator's. */
  constructor(bytes: Buffer, backing: Buffer = bytes, onFree: ((backing: Buffer) => void) | null = null) {
    this.bytes = bytes;
    this.#backing = backing;
    this.#onFree = onFree;
  }

  /** Copies data into a new cache-owned page, so the caller's buffer is never zeroed by the cache. */
  static copyOf(data: Uint8Array): Page {
    const b = Buffer.allocUnsafeSlow(data.byteLength);
    b.set(data);
    return new Page(b);
  }

  get refs(): number {
    return this.#refs;
  }

  get zeroed(): boolean {
    return this.#refs === 0;
  }

  acquire(): this {
    if (this.#refs === 0) throw new Error('Page.acquire after the last release: the bytes are already zeroed');
    this.#refs++;
    return this;
  }

  /** I-CC2: the last release overwrites the plaintext with zeros. Extra releases are ignored. */
  release(): void {
    if (this.#refs === 0) return;
    if (--this.#refs === 0) {
      this.#backing.fill(0);
      this.#onFree?.(this.#backing);
    }
  }
}

// The client's dentry and attribute cache over the cache layer's MetaCache (TTL = meta_ttl_ms).
// I-CC3: within the TTL a cached (parent, name_key) → ino mapping, an inode's attributes and a
//        directory's complete listing (which makes a missing name a cached ENOENT) are
//        authoritative; after it they are never served.
// I-CC5: every hit reports its age, and the kernel is given only the rest of the TTL, so the two
//        caches stacked never show anything older than meta_ttl_ms.
// Own changes are written through or dropped before the call that made them returns; a fetch that
// raced with an own change (the change epoch moved while it was in flight) is not stored.
import type { Attr } from '../gen/kiseki/v1/namespace.js';
import type { MetaCache } from '../cache/meta-cache.js';

/** Lookups in one directory that missed the cache but found a name (since its last listing) after which the whole directory is listed. */
export const PREFETCH_AFTER_MISSES = 8;
/** Directories bigger than this are not listed ahead of lookups (the listing would cost more than it saves). */
export const PREFETCH_MAX_ENTRIES = 65_536;

/** Taken before a fetch: its results are stored only if no own change happened since, aged from `at`. */
export interface FetchTicket {
  readonly changes: number;
  readonly at: number;
}

export type CachedLookup = { kind: 'entry'; attr: Attr; ageMs: number } | { kind: 'absent'; ageMs: number } | { kind: 'miss' };

export class DentryCache {
  /** Bumped by every own change; fetches started under an older epoch are not stored. */
  private changes = 0;
  private readonly misses = new Map<number, number>();

  constructor(
    private readonly entries: MetaCache<string, number>,
    private readonly attrs: MetaCache<number, Attr>,
    /** Directory → the name_keys (hex) of its complete listing, kept current with own changes. */
    private readonly listed: MetaCache<number, Set<string>>,
  ) {}

  get ttlMs(): number {
    return this.entries.ttlMs;
  }

  begin(): FetchTicket {
    return { changes: this.changes, at: this.entries.now() };
  }

  private static key(parent: number, hex: string): string {
    return `${parent}:${hex}`;
  }

  /** I-CC3, I-CC5 */
  lookup(parent: number, nameKey: Buffer): CachedLookup {
    const hex = nameKey.toString('hex');
    const e = this.entries.get(DentryCache.key(parent, hex));
    if (e.kind === 'hit') {
      const a = this.attrs.get(e.value);
      if (a.kind === 'hit') return { kind: 'entry', attr: a.value, ageMs: Math.max(a.ageMs, e.ageMs) };
      return { kind: 'miss' };
    }
    const l = this.listed.get(parent);
    if (l.kind === 'hit' && !l.value.has(hex)) return { kind: 'absent', ageMs: l.ageMs };
    return { kind: 'miss' };
  }

  /** I-CC3, I-CC5 */
  attr(ino: number): { attr: Attr; ageMs: number } | null {
    const a = this.attrs.get(ino);
    return a.kind === 'hit' ? { attr: a.value, ageMs: a.ageMs } : null;
  }

  /**
   * True when a hit of this age came from a listing past half its TTL: listing the directory again
   * in the background now keeps a walk over it served from the cache without a stall at expiry.
   */
  refreshDue(parent: number, ageMs: number): boolean {
    return ageMs * 2 > this.ttlMs && this.listed.get(parent).kind === 'hit';
  }

  /** Counts a lookup that missed the cache and found the name at the node; true when the directory should now be listed ahead. */
  noteMiss(parent: number): boolean {
    const n = (this.misses.get(parent) ?? 0) + 1;
    this.misses.set(parent, n);
    if (this.misses.size > 4096) this.misses.delete(this.misses.keys().next().value as number);
    return n === PREFETCH_AFTER_MISSES;
  }

  /** A fetched entry, stored only if no own change happened since the ticket was taken. */
  fetched(parent: number, nameKey: Buffer, attr: Attr, t: FetchTicket): void {
    if (t.changes !== this.changes) return;
    this.entries.put(DentryCache.key(parent, nameKey.toString('hex')), attr.ino, t.at);
    this.attrs.put(attr.ino, attr, t.at);
  }

  fetchedAttr(attr: Attr, t: FetchTicket): void {
    if (t.changes === this.changes) this.attrs.put(attr.ino, attr, t.at);
  }

  /** A listing of `parent` (complete = every entry) fetched under the ticket. */
  listing(parent: number, list: ReadonlyArray<{ nameKey: Buffer; attr: Attr }>, complete: boolean, t: FetchTicket): void {
    this.misses.delete(parent);
    if (t.changes !== this.changes) return;
    const names = new Set<string>();
    for (const e of list) {
      const hex = e.nameKey.toString('hex');
      names.add(hex);
      this.entries.put(DentryCache.key(parent, hex), e.attr.ino, t.at);
      this.attrs.put(e.attr.ino, e.attr, t.at);
    }
    if (complete) this.listed.put(parent, names, t.at);
  }

  /** Write-through of an own namespace change that created (parent, nameKey) → attr. */
  added(parent: number, nameKey: Buffer, attr: Attr): void {
    this.changes++;
    const hex = nameKey.toString('hex');
    this.attrs.invalidate(parent);
    this.entries.writeThrough(DentryCache.key(parent, hex), attr.ino);
    this.attrs.writeThrough(attr.ino, attr);
    const l = this.listed.get(parent);
    if (l.kind === 'hit') l.value.add(hex);
  }

  /** An own change removed (parent, nameKey): the name is gone, its inode's nlink/ctime changed. */
  removed(parent: number, nameKey: Buffer): void {
    this.changes++;
    const hex = nameKey.toString('hex');
    const key = DentryCache.key(parent, hex);
    const e = this.entries.get(key);
    const l = this.listed.get(parent);
    if (l.kind === 'hit') l.value.delete(hex);
    this.entries.invalidate(key);
    this.attrs.invalidate(parent);
    // Without the inode number, a hard link's cached attributes elsewhere could keep the old nlink.
    if (e.kind === 'hit') this.attrs.invalidate(e.value);
    else this.attrs.wipe();
  }

  /** Renames move names between directories in ways not mirrored here: both directories are forgotten. */
  renamed(parent: number, nameKey: Buffer, newParent: number, newNameKey: Buffer): void {
    this.removed(parent, nameKey);
    this.removed(newParent, newNameKey);
    this.listed.invalidate(parent);
    this.listed.invalidate(newParent);
  }

  /** An own change to an inode's attributes or content. */
  changed(ino: number, attr?: Attr): void {
    this.changes++;
    if (attr !== undefined) this.attrs.writeThrough(ino, attr);
    else this.attrs.invalidate(ino);
  }
}

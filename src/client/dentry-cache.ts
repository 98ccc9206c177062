// The client's dentry and attribute cache over the cache layer's MetaCache (TTL = meta_ttl_ms).
// I-CC3: within the TTL a cached (parent, name_key) → ino mapping, an inode's attributes and a
//        directory's complete listing (which makes a missing name a cached ENOENT) are
//        authoritative; after it they are never served.
// I-CC5: every hit reports its age, and the kernel is given only the rest of the TTL, so the two
//        caches stacked never show anything older than meta_ttl_ms.
// Own changes are written through or dropped before the call that made them returns; a fetch that
// raced with an own change (the change epoch moved while it was in flight) is not stored.
// What it holds under a known name is mirrored to a DentryMirror (the FUSE layer answers lookups and
// getattrs from it on its worker threads), with the same deadlines and the same drops.
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

/**
 * A copy of the cache kept by the kernel-facing layer, keyed by name_key as this cache is (the layer
 * hashes the names it is asked for: ADR 0086). Every value it gets is valid for `validMs` more and
 * must never be served after; every drop happens before the own change that caused it returns.
 * Inodes pinned (files this client has open) are never stored or served.
 */
export interface DentryMirror {
  /** (parent, nameKey) → attr, or with nameKey null the attributes alone. */
  put(parent: number, entries: ReadonlyArray<{ nameKey: Buffer | null; attr: Attr }>, validMs: number): void;
  /** (parent, nameKey) was removed or replaced: the name, the parent's and the named inode's attributes go. */
  dropName(parent: number, nameKey: Buffer): void;
  dropAttr(ino: number): void;
  pin(ino: number, on: boolean): void;
}

export type CachedLookup = { kind: 'entry'; attr: Attr; ageMs: number } | { kind: 'absent'; ageMs: number } | { kind: 'miss' };

export class DentryCache {
  /** Bumped by every own change; fetches started under an older epoch are not stored. */
  private changes = 0;
  private readonly misses = new Map<number, number>();
  /** How long the last complete listing of each directory took (ms). */
  private readonly listTook = new Map<number, number>();
  private mirror: DentryMirror | null = null;

  constructor(
    private readonly entries: MetaCache<string, number>,
    private readonly attrs: MetaCache<number, Attr>,
    /** Directory → the name_keys (hex) of its complete listing, kept current with own changes. */
    private readonly listed: MetaCache<number, Set<string>>,
  ) {}

  get ttlMs(): number {
    return this.entries.ttlMs;
  }

  /** From now on what is cached under a known name is also mirrored (and pinned inodes pinned there). */
  attachMirror(m: DentryMirror, pinned: Iterable<number>): void {
    this.mirror = m;
    for (const ino of pinned) m.pin(ino, true);
  }

  /** Milliseconds a value fetched at `at` remains valid (I-CC5: aged from the start of its fetch). */
  private left(at: number): number {
    return this.ttlMs - (this.entries.now() - at);
  }

  /** A hit served to the caller under its name: the mirror may answer it itself for what remains. */
  served(parent: number, nameKey: Buffer, attr: Attr, ageMs: number): void {
    this.mirror?.put(parent, [{ nameKey, attr }], this.ttlMs - ageMs);
  }

  servedAttr(attr: Attr, ageMs: number): void {
    this.mirror?.put(0, [{ nameKey: null, attr }], this.ttlMs - ageMs);
  }

  /** The inode is open in this client (its size and mtime move with own writes): not answered from the mirror. */
  pin(ino: number, on: boolean): void {
    this.mirror?.pin(ino, on);
  }

  begin(): FetchTicket {
    return { changes: this.changes, at: this.entries.now() };
  }

  /** False once an own change happened since the ticket was taken: what its fetch brings is not stored. */
  current(t: FetchTicket): boolean {
    return t.changes === this.changes;
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

  /**
   * I-CC3, I-CC5: a complete listing of `parent` still within the TTL with every entry's attributes
   * (name keys in hex), and the age of the oldest value in it; null when any part is missing.
   */
  cachedListing(parent: number): { entries: Array<{ hex: string; attr: Attr }>; ageMs: number } | null {
    const l = this.listed.get(parent);
    if (l.kind !== 'hit') return null;
    let ageMs = l.ageMs;
    const entries: Array<{ hex: string; attr: Attr }> = [];
    for (const hex of l.value) {
      const e = this.entries.get(DentryCache.key(parent, hex));
      if (e.kind !== 'hit') return null;
      const a = this.attrs.get(e.value);
      if (a.kind !== 'hit') return null;
      ageMs = Math.max(ageMs, e.ageMs, a.ageMs);
      entries.push({ hex, attr: a.value });
    }
    return { entries, ageMs };
  }

  /** I-CC3, I-CC5 */
  attr(ino: number): { attr: Attr; ageMs: number } | null {
    const a = this.attrs.get(ino);
    return a.kind === 'hit' ? { attr: a.value, ageMs: a.ageMs } : null;
  }

  /**
   * True when a hit of this age came from a listing past half its TTL: listing the directory again
   * in the background now keeps a walk over it served from the cache without a stall at expiry. Not
   * when the last listing took a quarter of the TTL or more: its result would arrive already old, and
   * re-listing at once would keep the node and both cores busy with listings a walk mostly never uses.
   */
  refreshDue(parent: number, ageMs: number): boolean {
    const took = this.listTook.get(parent);
    return ageMs * 2 > this.ttlMs && took !== undefined && took * 4 < this.ttlMs && this.listed.get(parent).kind === 'hit';
  }

  /**
   * Counts a lookup that missed the cache and found the name at the node; true when the directory
   * should now be listed ahead. Never with meta_ttl_ms = 0: nothing listed could be served.
   */
  noteMiss(parent: number): boolean {
    if (this.ttlMs <= 0) return false;
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
    this.mirror?.put(parent, [{ nameKey, attr }], this.left(t.at));
  }

  fetchedAttr(attr: Attr, t: FetchTicket): void {
    if (t.changes !== this.changes) return;
    this.attrs.put(attr.ino, attr, t.at);
    this.mirror?.put(0, [{ nameKey: null, attr }], this.left(t.at));
  }

  /**
   * A listing of `parent` (complete = every entry) fetched under the ticket, for a READDIRPLUS: not
   * mirrored, the kernel keeps what READDIRPLUS hands it for the same TTL.
   */
  listing(parent: number, list: ReadonlyArray<{ nameKey: Buffer; attr: Attr }>, complete: boolean, t: FetchTicket): void {
    this.listingEnd(parent, this.store(parent, list, t), complete, t);
  }

  /**
   * One page of a listing of `parent` fetched ahead of lookups under the ticket: its entries are
   * served from now on, here and by the mirror (I-CC3: not if an own change happened since the ticket;
   * aged from its start, I-CC5). A page says nothing about names not in it: only listingEnd of a
   * complete listing makes a missing name absent. Returns the page's name_keys in hex.
   */
  listingPage(parent: number, list: ReadonlyArray<{ nameKey: Buffer; attr: Attr }>, t: FetchTicket): string[] {
    const hexes = this.store(parent, list, t);
    if (t.changes === this.changes) this.mirror?.put(parent, list, this.left(t.at));
    return hexes;
  }

  private store(parent: number, list: ReadonlyArray<{ nameKey: Buffer; attr: Attr }>, t: FetchTicket): string[] {
    const hexes = list.map((e) => e.nameKey.toString('hex'));
    if (t.changes !== this.changes) return hexes;
    for (let i = 0; i < list.length; i++) {
      const e = list[i]!;
      this.entries.put(DentryCache.key(parent, hexes[i]!), e.attr.ino, t.at);
      this.attrs.put(e.attr.ino, e.attr, t.at);
    }
    return hexes;
  }

  /** The listing whose pages were stored ends: with every name (complete), a name not in it is absent until the TTL. */
  listingEnd(parent: number, hexes: Iterable<string>, complete: boolean, t: FetchTicket): void {
    this.misses.delete(parent);
    if (t.changes !== this.changes || !complete) return;
    this.listed.put(parent, new Set(hexes), t.at);
    this.listTook.delete(parent);
    this.listTook.set(parent, this.entries.now() - t.at);
    if (this.listTook.size > 4096) this.listTook.delete(this.listTook.keys().next().value as number);
  }

  /** Write-through of an own namespace change that created (parent, nameKey) → attr. */
  added(parent: number, nameKey: Buffer, attr: Attr): void {
    this.changes++;
    const hex = nameKey.toString('hex');
    this.attrs.invalidate(parent);
    this.mirror?.dropAttr(parent);
    this.mirror?.put(parent, [{ nameKey, attr }], this.ttlMs);
    this.entries.writeThrough(DentryCache.key(parent, hex), attr.ino);
    this.attrs.writeThrough(attr.ino, attr);
    const l = this.listed.get(parent);
    if (l.kind === 'hit') l.value.add(hex);
  }

  /** An own change removed (parent, nameKey): the name is gone, its inode's nlink/ctime changed. */
  removed(parent: number, nameKey: Buffer): void {
    this.changes++;
    this.mirror?.dropName(parent, nameKey);
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
    this.mirror?.dropAttr(ino);
    if (attr !== undefined) this.attrs.writeThrough(ino, attr);
    else this.attrs.invalidate(ino);
  }
}

/** The open files' states of a filesystem: each inode in it is pinned in the dentry cache's mirror. */
export class PinnedMap<V> extends Map<number, V> {
  constructor(private readonly dentries: DentryCache | null) {
    super();
  }

  override set(ino: number, v: V): this {
    if (!this.has(ino)) this.dentries?.pin(ino, true);
    return super.set(ino, v);
  }

  override delete(ino: number): boolean {
    const had = super.delete(ino);
    if (had) this.dentries?.pin(ino, false);
    return had;
  }
}

// A whole directory listing in as few sequential round trips as possible. ReadDirPlus pages are
// ordered by name_key and resumed after a cursor, so one page after another costs one round trip
// each; on a loaded machine each of those waits its turn on both processes. Name keys are HMAC
// outputs, spread evenly over the key space: the first page tells how much of the key space 4096
// entries cover, and the rest is split at estimated cut points into ranges fetched at once.
// Ranges are (cut[j], cut[j+1]] with the node's "after the cursor" rule, so they neither overlap nor
// leave gaps whatever the (increasing) cut points are; a range whose estimate was short just takes
// more pages. Made-up cursors assume the cookie is the name key (kiseki-node's); a first page whose
// cookies are not its keys in ascending order is followed page by page instead, each page twice the
// size of the one before up to pageSize: kiseki-node lists in inode (creation) order with opaque
// cookies, so the first entries made arrive first and soon, and a lookup waiting for one of them can
// go on while the rest is still being listed (ADR 0085).
import type { DirEntry, ReadDirPlusResponse } from '../gen/kiseki/v1/namespace.js';

export type PageFetch = (cursor: Buffer, limit: number) => Promise<ReadDirPlusResponse>;

export interface ListOptions {
  /** Largest page the node serves. */
  readonly pageSize: number;
  /** Size of the first page (default pageSize); pages followed one by one then double up to pageSize. */
  readonly firstPage?: number;
  /** Stop (complete = false) once at least this many entries are in hand. */
  readonly maxEntries: number;
  /** Most ranges fetched at once after the first page. */
  readonly maxRanges: number;
  /** Each page's entries in range, as they arrive (in no particular order across ranges). */
  readonly onPage?: (entries: DirEntry[]) => void;
}

/** Where a 32-byte key lies in the key space, in [0, 1) (its first 6 bytes). */
export function keyFraction(key: Buffer): number {
  return key.length >= 6 ? key.readUIntBE(0, 6) / 2 ** 48 : 0;
}

/** The 32-byte key at fraction x of the key space. */
export function keyAt(x: number): Buffer {
  const k = Buffer.alloc(32);
  k.writeUIntBE(Math.min(2 ** 48 - 1, Math.floor(x * 2 ** 48)), 0, 6);
  return k;
}

/** The entries after `after` up to and including `upTo` (null: to the end), page by page. */
async function range(fetch: PageFetch, after: Buffer, upTo: Buffer | null, limit: number, o: ListOptions): Promise<DirEntry[]> {
  const out: DirEntry[] = [];
  let cursor = after;
  for (;;) {
    const res = await fetch(cursor, limit);
    let inRange = res.entries;
    let passed = false;
    if (upTo !== null) {
      const cut = res.entries.findIndex((e) => Buffer.compare(e.nameKey, upTo) > 0);
      if (cut >= 0) {
        inRange = res.entries.slice(0, cut);
        passed = true;
      }
    }
    out.push(...inRange);
    if (inRange.length > 0) o.onPage?.(inRange);
    const last = res.entries[res.entries.length - 1];
    if (passed || res.eof || last === undefined) return out;
    cursor = last.cookie;
    limit = o.pageSize;
  }
}

/** Every entry of a directory in name_key order, or the first maxEntries-or-more with complete = false. */
export async function listDirectory(fetch: PageFetch, o: ListOptions): Promise<{ entries: DirEntry[]; complete: boolean }> {
  const firstLimit = Math.min(o.pageSize, o.firstPage ?? o.pageSize);
  const first = await fetch(Buffer.alloc(0), firstLimit);
  const last = first.entries[first.entries.length - 1];
  const seen = () => {
    if (first.entries.length > 0) o.onPage?.(first.entries);
  };
  if (first.eof || last === undefined) {
    seen();
    return { entries: first.entries, complete: true };
  }
  const keyed = first.entries.every((e, i, a) => e.cookie.equals(e.nameKey) && (i === 0 || Buffer.compare(a[i - 1]!.nameKey, e.nameKey) < 0));
  const x0 = keyFraction(last.nameKey);
  // Entries left, were they spread as evenly as the first page says (at least one page more).
  const left = x0 > 0 ? (first.entries.length * (1 - x0)) / x0 : Infinity;
  if (!keyed || first.entries.length + left > o.maxEntries) {
    seen();
    return sequential(fetch, first.entries, last.cookie, firstLimit, o);
  }
  const n = Math.max(1, Math.min(o.maxRanges, Math.ceil(left / (o.pageSize * 0.75))));
  const per = Math.min(o.pageSize, Math.ceil((left / n) * 1.25) + 16);
  const cuts = [last.cookie];
  for (let j = 1; j < n; j++) {
    const c = keyAt(x0 + ((1 - x0) * j) / n);
    if (Buffer.compare(c, cuts[cuts.length - 1]!) > 0) cuts.push(c);
  }
  // The ranges are asked for before the first page is handed on: its handler's work then overlaps theirs.
  const asked = Promise.all(cuts.map((after, j) => range(fetch, after, cuts[j + 1] ?? null, per, o)));
  try {
    seen();
  } catch (err) {
    asked.catch(() => undefined);
    throw err;
  }
  const parts = await asked;
  return { entries: first.entries.concat(...parts), complete: true };
}

/** Page after page from `cursor`, each twice the one before (`limit`) up to pageSize, stopping at maxEntries. */
async function sequential(fetch: PageFetch, have: DirEntry[], cursor: Buffer, limit: number, o: ListOptions): Promise<{ entries: DirEntry[]; complete: boolean }> {
  const entries = have.slice();
  for (;;) {
    limit = Math.min(o.pageSize, limit * 2);
    const res = await fetch(cursor, limit);
    entries.push(...res.entries);
    if (res.entries.length > 0) o.onPage?.(res.entries);
    const last = res.entries[res.entries.length - 1];
    if (res.eof || last === undefined) return { entries, complete: true };
    if (entries.length >= o.maxEntries) return { entries, complete: false };
    cursor = last.cookie;
  }
}

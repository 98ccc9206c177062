// Slot math of fixed-size chunking (D3). Chunk i of a file covers [i*cs, (i+1)*cs); the last present
// chunk may be shorter; a missing chunk below the size is a hole and reads as zeros. Pure functions:
// the reader, the writer and truncation all derive their ranges from here and nowhere else.

export { DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, validateChunkSize } from '../crypto/chunker.js';
/** Files of at most this many bytes live sealed in the layout record (ADR-006 default). */
export const DEFAULT_INLINE_THRESHOLD = 4096;

/** One piece of a byte range that falls inside a single chunk. */
export interface ChunkSpan {
  /** Chunk index. */
  readonly index: number;
  /** Offset of the chunk in the file (index * chunkSize). */
  readonly chunkStart: number;
  /** Where the span starts inside the chunk. */
  readonly inChunk: number;
  /** Bytes in this span. */
  readonly length: number;
  /** Where the span starts inside the caller's buffer (range offset 0). */
  readonly inRange: number;
}

/** The chunk pieces of [offset, offset + length), in order. Empty for length 0. */
export function spansOf(offset: number, length: number, chunkSize: number): ChunkSpan[] {
  const spans: ChunkSpan[] = [];
  let pos = offset;
  const end = offset + length;
  while (pos < end) {
    const index = Math.floor(pos / chunkSize);
    const chunkStart = index * chunkSize;
    const inChunk = pos - chunkStart;
    const n = Math.min(chunkSize - inChunk, end - pos);
    spans.push({ index, chunkStart, inChunk, length: n, inRange: pos - offset });
    pos += n;
  }
  return spans;
}

/** Number of chunk slots a file of `size` bytes spans (0 for an empty file). */
export function slotCount(size: number, chunkSize: number): number {
  return Math.ceil(size / chunkSize);
}

/** Bytes of chunk `index` that lie below `size` (0 when the chunk is wholly past the end). */
export function slotLength(index: number, size: number, chunkSize: number): number {
  return Math.max(0, Math.min(chunkSize, size - index * chunkSize));
}

/** What a truncation to `newSize` does to the stored chunks. */
export interface TruncatePlan {
  /** Every chunk at or beyond this file offset is dropped (CommitLayout.drop_from). */
  readonly dropFrom: number;
  /**
   * The chunk that straddles newSize and must be rewritten holding only its first `keep` bytes, or
   * null when newSize falls on a chunk boundary. Rewriting it is what guarantees that bytes past a
   * shrunk size never reappear as stale data when the file grows again (I-FS1).
   */
  readonly partial: { readonly index: number; readonly keep: number } | null;
}

/**
 * I-FS1: a shrink drops every chunk wholly past the new size and rewrites the straddling one. A
 * grow (newSize ≥ oldSize) changes no chunk: the new region is a hole and reads as zeros.
 */
export function truncatePlan(oldSize: number, newSize: number, chunkSize: number): TruncatePlan {
  if (newSize >= oldSize) return { dropFrom: slotCount(oldSize, chunkSize) * chunkSize, partial: null };
  const index = Math.floor(newSize / chunkSize);
  const keep = newSize - index * chunkSize;
  if (keep === 0) return { dropFrom: newSize, partial: null };
  return { dropFrom: index * chunkSize, partial: { index, keep } };
}

/**
 * Copies the part of a chunk's plaintext that a span asks for into `out` at `outOffset`, writing
 * zeros for any part the plaintext does not cover (a short chunk read past its end is a hole).
 */
export function copySpan(plaintext: Buffer | null, span: ChunkSpan, out: Buffer, outOffset: number): void {
  const have = plaintext === null ? 0 : Math.max(0, Math.min(span.length, plaintext.length - span.inChunk));
  if (have > 0) plaintext!.copy(out, outOffset, span.inChunk, span.inChunk + have);
  if (have < span.length) out.fill(0, outOffset + have, outOffset + span.length);
}

/** A half-open byte range [start, end) inside one chunk. */
export type Extent = [start: number, end: number];

/** Adds [start, end) to a sorted list of disjoint extents, merging what touches; mutates and returns it. */
export function addExtent(list: Extent[], start: number, end: number): Extent[] {
  if (end <= start) return list;
  let i = 0;
  while (i < list.length && list[i]![1] < start) i++;
  let j = i;
  let s = start;
  let e = end;
  while (j < list.length && list[j]![0] <= e) {
    s = Math.min(s, list[j]![0]);
    e = Math.max(e, list[j]![1]);
    j++;
  }
  list.splice(i, j - i, [s, e]);
  return list;
}

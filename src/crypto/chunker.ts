// Fixed-size chunking (DESIGN D3): chunk i of a file covers [i * chunkSize, min((i + 1) * chunkSize, size)).
// The last chunk is shorter; an empty file has no chunks. Views, never copies.
import { kerr } from '../errors.js';

const MiB = 1024 * 1024;
export const DEFAULT_CHUNK_SIZE = 4 * MiB;
export const MIN_CHUNK_SIZE = 1 * MiB;
export const MAX_CHUNK_SIZE = 64 * MiB;
/** Chunks are whole pages so that FUSE reads and the L2 cache stay page aligned. */
export const CHUNK_SIZE_ALIGNMENT = 4096;

/** Returns chunkSize if it is a whole number of 4 KiB pages within 1–64 MiB; else InvalidArgument. */
export function validateChunkSize(chunkSize: number): number {
  if (!Number.isSafeInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE ||
      chunkSize % CHUNK_SIZE_ALIGNMENT !== 0) {
    throw kerr('InvalidArgument', `chunk_size ${chunkSize} is invalid: use a multiple of 4 KiB from 1 MiB ` +
      `(${MIN_CHUNK_SIZE}) to 64 MiB (${MAX_CHUNK_SIZE}); the default is 4 MiB`);
  }
  return chunkSize;
}

function checkSize(what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw kerr('InvalidArgument', `${what} must be a non-negative integer, got ${n}`);
}

/** Number of chunks of a file of `fileSize` bytes. */
export function chunkCount(fileSize: number, chunkSize: number): number {
  checkSize('file size', fileSize);
  validateChunkSize(chunkSize);
  return Math.ceil(fileSize / chunkSize);
}

/** Byte range of chunk `index` of a file of `fileSize` bytes. */
export function chunkRange(index: number, fileSize: number, chunkSize: number): { offset: number; length: number } {
  const count = chunkCount(fileSize, chunkSize);
  if (!Number.isSafeInteger(index) || index < 0 || index >= count) {
    throw kerr('InvalidArgument', `chunk index ${index} is outside 0..${count - 1} for a file of ${fileSize} bytes`);
  }
  const offset = index * chunkSize;
  return { offset, length: Math.min(chunkSize, fileSize - offset) };
}

/** Indexes of the chunks a byte range [offset, offset + length) touches; empty when length is 0. */
export function chunksTouching(offset: number, length: number, chunkSize: number): { first: number; last: number } | null {
  checkSize('offset', offset);
  checkSize('length', length);
  validateChunkSize(chunkSize);
  if (length === 0) return null;
  return { first: Math.floor(offset / chunkSize), last: Math.floor((offset + length - 1) / chunkSize) };
}

/** Splits a whole-file buffer into chunk views (no copies). */
export function splitChunks(data: Buffer, chunkSize: number): Buffer[] {
  const count = chunkCount(data.length, chunkSize);
  const out: Buffer[] = new Array<Buffer>(count);
  for (let i = 0; i < count; i++) out[i] = data.subarray(i * chunkSize, Math.min((i + 1) * chunkSize, data.length));
  return out;
}

// Handing each chunk of a GET to the caller as soon as it lands (issue #7, ADR 0036). getChunks keeps
// every envelope of a call until the whole call returns, so a 16-chunk fabric GET holds 16 distinct
// 4 MiB receive buffers (64 MiB, twice the L3) live at once. getEach calls `onChunk` per chunk instead:
// the caller opens the chunk and recycles its receive buffer at once, and the next fi_read lands in
// the same cache-warm memory.
//
// The contract of getEach(chunkIds, onChunk, signal), for every transport:
// I-HO1: every index of chunkIds is handed on at most once, in any order (not request order); the
//        promise resolves only after every one was handed on exactly once.
// I-HO2: from the call's first failure (an error of the transport, an abort, or onChunk throwing) no
//        chunk is handed on any more, and the promise rejects with that first error once the call has
//        settled. Chunks handed on before stay the caller's (it recycles them or keeps them); chunks
//        that landed afterwards were seen by nobody and go back to the receive pool.
// onChunk runs synchronously from the transport's completion path: it must not block; what it does
// asynchronously with the envelope (decryption) is its own business. The envelope is the caller's
// from the moment onChunk is called: the transport never touches it again.
// States: open → done (every chunk handed on) | failed (first error kept).
import type { Envelope } from '../gen/kiseki/v1/chunk.js';
import { kerr } from '../errors.js';
import { receiveBuffers } from './receive-buffers.js';
import type { ChunkTransport } from './transport.js';

/** Receives chunk `index` of the call (its position in chunkIds) as soon as it has landed. */
export type OnChunk = (index: number, envelope: Envelope) => void;

export class Handoff {
  private state: 'open' | 'done' | 'failed' = 'open';
  private firstError: unknown = null;
  private readonly handed: Uint8Array;
  private left: number;

  constructor(count: number, private readonly onChunk: OnChunk) {
    this.handed = new Uint8Array(count);
    this.left = count;
    if (count === 0) this.state = 'done';
  }

  /**
   * Hands chunk `index` on (I-HO1). Returns false when the call already failed: the envelope stays
   * with the transport, which gives its buffer back (I-HO2). An onChunk that throws fails the call.
   */
  give(index: number, env: Envelope): boolean {
    if (this.state === 'failed') return false;
    if (this.handed[index] !== 0) {
      this.fail(kerr('Internal', `chunk ${index} of a GET handed on twice`));
      return false;
    }
    this.handed[index] = 1;
    this.left--;
    if (this.left === 0) this.state = 'done';
    try {
      this.onChunk(index, env);
    } catch (err) {
      this.fail(err);
    }
    return true;
  }

  /** Records the call's first error; nothing is handed on after it (I-HO2). */
  fail(err: unknown): void {
    if (this.state === 'failed') return;
    this.state = 'failed';
    this.firstError = err;
  }

  get failed(): boolean {
    return this.state === 'failed';
  }

  /** Whether chunk `index` was handed on (a failover asks the next transport only for the others). */
  has(index: number): boolean {
    return this.handed[index] !== 0;
  }

  /** Throws the first error, or an Internal error when the call settled with chunks never handed on. */
  settle(): void {
    if (this.state === 'failed') throw this.firstError;
    if (this.state !== 'done') throw kerr('Internal', `GET settled with ${this.left} chunks never handed on`);
  }
}

/** Gives back envelopes nobody was handed (their receive buffers return to the pool). */
export function dropUnseen(envs: readonly (Envelope | undefined)[]): void {
  for (const e of envs) if (e !== undefined) receiveBuffers.recycle(e);
}

/** A transport that hands chunks on as they land (fabric). Others get the batch fallback of getEach(). */
export interface EachChunkTransport extends ChunkTransport {
  getEach(chunkIds: readonly Buffer[], onChunk: OnChunk, signal?: AbortSignal): Promise<void>;
}

function handsOn(t: ChunkTransport): t is EachChunkTransport {
  return typeof (t as Partial<EachChunkTransport>).getEach === 'function';
}

/**
 * getEach on any transport: its own when it has one, else getChunks, then every chunk handed on in
 * request order after the batch (the same contract, I-HO1/I-HO2, only later).
 */
export async function getEach(t: ChunkTransport, chunkIds: readonly Buffer[], onChunk: OnChunk, signal?: AbortSignal): Promise<void> {
  if (handsOn(t)) return t.getEach(chunkIds, onChunk, signal);
  const envs = await t.getChunks(chunkIds, signal);
  const h = new Handoff(chunkIds.length, onChunk);
  envs.forEach((e, i) => {
    if (!h.give(i, e)) receiveBuffers.recycle(e);
  });
  h.settle();
}

// Rendezvous (highest-random-weight) placement of chunks on nodes (Thaler & Ravishankar 1998).
// score(chunk, node) = first 8 bytes, big-endian, of SHA-256(chunk_id || node_id as u64 LE).
// A chunk is written to the R nodes with the highest scores and read in descending score order.
// Removing a node moves only the chunks that had it among their top R; every other chunk keeps
// its nodes (each chunk's order is the old order minus the departed node). docs/client.md has vectors.
import { createHash } from 'node:crypto';
import { kerr } from '../errors.js';

export function rendezvousScore(chunkId: Uint8Array, nodeId: number): bigint {
  if (!Number.isSafeInteger(nodeId) || nodeId < 0) throw kerr('InvalidArgument', `node id ${nodeId} is not a non-negative integer`);
  const id = Buffer.alloc(8);
  id.writeBigUInt64LE(BigInt(nodeId));
  return createHash('sha256').update(chunkId).update(id).digest().readBigUInt64BE(0);
}

/** Every node id, best first (ties, practically impossible, go to the lower id). */
export function rankNodes(chunkId: Uint8Array, nodeIds: readonly number[]): number[] {
  return nodeIds
    .map((id) => ({ id, score: rendezvousScore(chunkId, id) }))
    .sort((a, b) => (a.score === b.score ? a.id - b.id : a.score > b.score ? -1 : 1))
    .map((s) => s.id);
}

export interface ChunkPlacement {
  /** The R nodes that hold the chunk: write to all of them. */
  write: number[];
  /** All nodes in the order to try for a read: the holders first. */
  read: number[];
}

export function placeChunk(chunkId: Uint8Array, nodeIds: readonly number[], replicas: number): ChunkPlacement {
  if (nodeIds.length === 0) throw kerr('Unavailable', 'no nodes to place the chunk on: discovery listed none');
  if (new Set(nodeIds).size !== nodeIds.length) throw kerr('InvalidArgument', `duplicate node ids in ${nodeIds.join(', ')}`);
  const r = Math.max(1, Math.min(replicas, nodeIds.length));
  const read = rankNodes(chunkId, nodeIds);
  return { write: read.slice(0, r), read };
}

// Rendezvous (highest-random-weight) placement of chunks on nodes, as docs/protocol.md defines it:
// score(chunk, node) = first 8 bytes, big-endian, of SHA-256(chunk_id || node_id as u64 little-endian);
// a chunk lives on the R nodes with the highest scores (ties: lower node id first).
import { createHash } from 'node:crypto';

export function rendezvousScore(chunkId: Buffer, nodeId: number): bigint {
  const id = Buffer.alloc(8);
  id.writeBigUInt64LE(BigInt(nodeId));
  return createHash('sha256').update(chunkId).update(id).digest().readBigUInt64BE(0);
}

export function placeChunk(chunkId: Buffer, nodeIds: readonly number[], replicas: number): number[] {
  return nodeIds
    .map((id) => ({ id, score: rendezvousScore(chunkId, id) }))
    .sort((a, b) => (a.score === b.score ? a.id - b.id : a.score > b.score ? -1 : 1))
    .slice(0, replicas)
    .map((s) => s.id);
}

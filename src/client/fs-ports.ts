// What the filesystem core needs from the pieces it composes, narrowed to the calls it makes. The
// session, crypto, cache and transport modules are adapted to these shapes in fs-wiring.ts; the
// core never reaches past them. Every call rejects with a KisekiError carrying the errno to show.
import type { Envelope } from '../gen/kiseki/v1/chunk.js';
import type * as ns from '../gen/kiseki/v1/namespace.js';
import type { ChunkTransport } from '../transport/transport.js';

/** NamespaceService at the metadata leader, promise-shaped, errors already mapped to KisekiError. */
export interface NamespaceCalls {
  lookup(req: ns.LookupRequest): Promise<ns.EntryResponse>;
  getAttr(req: ns.GetAttrRequest): Promise<ns.AttrResponse>;
  readDirPlus(req: ns.ReadDirPlusRequest): Promise<ns.ReadDirPlusResponse>;
  create(req: ns.CreateRequest): Promise<ns.CreateResponse>;
  mkDir(req: ns.MkDirRequest): Promise<ns.EntryResponse>;
  symlink(req: ns.SymlinkRequest): Promise<ns.EntryResponse>;
  readLink(req: ns.ReadLinkRequest): Promise<ns.ReadLinkResponse>;
  link(req: ns.LinkRequest): Promise<ns.EntryResponse>;
  unlink(req: ns.UnlinkRequest): Promise<ns.UnlinkResponse>;
  rmDir(req: ns.RmDirRequest): Promise<ns.RmDirResponse>;
  rename(req: ns.RenameRequest): Promise<ns.RenameResponse>;
  setAttr(req: ns.SetAttrRequest): Promise<ns.AttrResponse>;
  getLayout(req: ns.GetLayoutRequest): Promise<ns.Layout>;
  commitLayout(req: ns.CommitLayoutRequest): Promise<ns.CommitLayoutResponse>;
  setXattr(req: ns.SetXattrRequest): Promise<ns.SetXattrResponse>;
  getXattr(req: ns.GetXattrRequest): Promise<ns.GetXattrResponse>;
  listXattr(req: ns.ListXattrRequest): Promise<ns.ListXattrResponse>;
  removeXattr(req: ns.RemoveXattrRequest): Promise<ns.RemoveXattrResponse>;
  statFs(req: ns.StatFsRequest): Promise<ns.StatFsResponse>;
}

/** Chunk sealing bound to the tenant keyring. */
export interface ChunkCrypto {
  /** `output` (exactly the plaintext's length) receives the ciphertext instead of a new buffer. */
  seal(plaintext: Buffer, output?: Buffer): Promise<{ chunkId: Buffer; envelope: Envelope }>;
  /**
   * Opens and re-verifies the content address (I-CC1); rejects with Integrity, never partial data.
   * `output` (exactly the ciphertext's length) receives the plaintext instead of a new buffer; after a
   * rejection its contents are undefined.
   */
  open(envelope: Envelope, expectedChunkId: Buffer, output?: Buffer): Promise<Buffer>;
}

/** Metadata sealing bound to the tenant keyring (names, targets, xattrs, inline data). */
export interface MetaCrypto {
  nameKey(parentIno: number, name: Buffer): Promise<Buffer>;
  sealMeta(id32: Buffer, plaintext: Buffer): Promise<Envelope>;
  openMeta(envelope: Envelope, id32: Buffer): Promise<Buffer>;
  /** A listing's dirent names of `parentIno`, each checked against its key: the name or that entry's Integrity error. */
  openNames?(parentIno: number, items: ReadonlyArray<{ nameKey: Buffer; sealedName?: Envelope | undefined }>): Promise<Array<Buffer | Error>>;
}

/** Plaintext bytes valid until release(); call release() exactly once, after the last use of data. */
export interface ChunkLease {
  readonly data: Buffer;
  release(): void;
}

/**
 * Where clean cached chunks are published for the kernel-facing layer to answer reads of them itself
 * (src/fuse/read-mirror.ts). What is published must always be what the read path would answer: the
 * filesystem calls changed() before any change to a file's content becomes visible.
 */
export interface ReadMirrorPort {
  /** False when chunk `index` of `ino` is already published (no need to lease it again). */
  wants(ino: number, index: number): boolean;
  /**
   * Chunk `index` of `ino` (a file of `fileSize` bytes whose committed layout has `generation`) is
   * `chunk`, a cache lease the mirror releases when it drops it.
   */
  publish(ino: number, generation: number, index: number, chunkSize: number, fileSize: number, chunkId: string, chunk: ChunkLease): void;
  /** The content of `ino` changes now: nothing of it may be answered any more. */
  changed(ino: number): void;
  /**
   * A state of `ino` took a committed layout of `generation` (one layout generation is one content):
   * what was published for another generation must go.
   */
  layoutSeen(ino: number, generation: number): void;
}

/** The cache facade as the read path uses it; faults are misses, never errors (I-CC7). */
export interface ChunkCachePort {
  /** Wipe generation, captured before a canonical fetch and handed back to put(). */
  epoch(): number;
  /** A view of the cached plaintext (no copy), held until released; null on a miss (or in bypass mode). */
  get(chunkId: Buffer): Promise<ChunkLease | null>;
  /** Optional synchronous memory-tier lookup: a lease on a hit, null otherwise (then get() decides). */
  peek?(chunkId: Buffer): ChunkLease | null;
  /** Only plaintext verified against chunkId (I-CC1); copied; skipped if a wipe happened since `epoch`. */
  put(chunkId: Buffer, plaintext: Buffer, epoch: number): void;
  /** False when the cache keeps no plaintext (bypass mode, closed): warming it ahead of readers is pointless. */
  keeps(): boolean;
}

/** The replicas of a chunk: writes go to every one of `write`, reads try `read` in order. */
export interface ChunkPlacement {
  route(chunkId: Buffer): { readonly read: readonly ChunkTransport[]; readonly write: readonly ChunkTransport[] };
}

/** Milliseconds on a monotonic-enough clock; injected by tests. */
export type Clock = () => number;

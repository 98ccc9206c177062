// The POSIX namespace of every tenant, in the metadata database. Synchronous (better-sqlite3): each
// mutation is one IMMEDIATE transaction, so rename/link/unlink are atomic and a crash leaves either
// the old or the new tree (I-N3). Names, targets, xattrs and inline data arrive sealed and are stored
// opaque; the node indexes names by their 32-byte name_key only.
//
// I-N2 (tenant isolation): every operation starts from resolve(tenant, namespace_id); the internal
// namespace key it returns is never sent to or accepted from a client, so no request can reach
// another tenant's rows — the same namespace_id of another tenant is another namespace.
import { constants } from 'node:os';
import { KisekiError, kerr } from '../errors.js';
import { GroupCommit } from './group-commit.js';
import { Envelope } from '../gen/kiseki/v1/chunk.js';
import {
  type Attr, type ChunkRef, type CommitLayoutRequest, type CreateRequest, FileKind, type Layout,
  type LinkRequest, type MkDirRequest, ReadDirPlusResponse, type RenameRequest, type SetAttrRequest, type SetXattrRequest,
  type SymlinkRequest, type Timespec,
} from '../gen/kiseki/v1/namespace.js';
import type { Db } from './metadata-db.js';
import { type ReaddirRow, encodeReadDirPlus, readdirCursor } from './readdir-encoder.js';
import {
  MAX_INLINE_BYTES, NAME_MAX, PATH_MAX, XATTR_VALUE_MAX, chunkIdOf, envelopeOf, inoOf, invalid, nameKeyOf,
} from './validate.js';

const E = constants.errno;

export const ROOT_INO = 1;
export const DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024;
export const MIN_CHUNK_SIZE = 4096;
export const MAX_CHUNK_SIZE = 64 * 1024 * 1024;
export const READDIR_DEFAULT_LIMIT = 1024;
export const READDIR_MAX_LIMIT = 4096;
/** Offsets and sizes stay exact in a JS number. */
const MAX_OFFSET = 2 ** 53;

export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;
export const XATTR_CREATE = 1;
export const XATTR_REPLACE = 2;
export const SETATTR = { MODE: 1, UID: 2, GID: 4, ATIME: 8, MTIME: 16, CTIME: 32 } as const;
const SETATTR_ALL = 63;

export interface OpenedNamespace { namespaceId: string; readOnly: boolean; root: Attr }

interface NsRow { ns: number; read_only: number; chunk_size: number }
interface InodeRow {
  ino: number; kind: number; mode: number; uid: number; gid: number; size: number; nlink: number;
  atime_s: number; atime_ns: number; mtime_s: number; mtime_ns: number; ctime_s: number; ctime_ns: number;
  generation: number; chunk_size: number; parent: number; inline_env: Buffer | null; target_env: Buffer | null;
  orphaned_ms: number | null;
}
interface DirentRow { name_key: Buffer; ino: number; sealed_name: Buffer }
/** The attribute columns of a readdir row, in this order after name_key and sealed_name. */
const ATTR_COLUMNS = ['ino', 'kind', 'mode', 'uid', 'gid', 'size', 'nlink', 'atime_s', 'atime_ns', 'mtime_s', 'mtime_ns', 'ctime_s', 'ctime_ns', 'generation', 'chunk_size'] as const;

function err(kind: 'NotFound' | 'AlreadyExists' | 'NotEmpty' | 'NotDirectory' | 'IsDirectory' | 'CrossDevice' | 'ReadOnly' | 'NoData' | 'InvalidArgument', msg: string): KisekiError {
  return kerr(kind, msg);
}
const eperm = (msg: string): KisekiError => new KisekiError('PermissionDenied', msg, { errno: E.EPERM });

export function wallClock(): Timespec {
  const ms = Date.now();
  return { sec: Math.floor(ms / 1000), nsec: (ms % 1000) * 1e6 };
}

function encodeEnv(env: Envelope): Buffer {
  return Buffer.from(Envelope.encode(env).finish());
}

function toAttr(r: InodeRow): Attr {
  return {
    ino: r.ino, kind: r.kind as FileKind, mode: r.mode, uid: r.uid, gid: r.gid, size: r.size, nlink: r.nlink,
    atime: { sec: r.atime_s, nsec: r.atime_ns }, mtime: { sec: r.mtime_s, nsec: r.mtime_ns },
    ctime: { sec: r.ctime_s, nsec: r.ctime_ns }, generation: r.generation, chunkSize: r.chunk_size,
  };
}

function timespecOf(t: Timespec | undefined, field: string): Timespec {
  if (!t) throw invalid(field, 'is required when its bit is set in valid');
  if (!Number.isSafeInteger(t.sec) || t.nsec < 0 || t.nsec >= 1e9) throw invalid(field, 'needs an integer sec and 0 ≤ nsec < 1e9');
  return t;
}

export class NamespaceStore {
  private readonly q;
  /** Concurrent mutations share one transaction and one fsync (I-N6). */
  readonly group: GroupCommit;

  constructor(private readonly db: Db, private readonly now: () => Timespec = wallClock, private readonly nowMs: () => number = Date.now) {
    this.group = new GroupCommit(db);
    this.q = {
      ns: db.prepare<[string, string], NsRow>('SELECT ns, read_only, chunk_size FROM namespaces WHERE tenant = ? AND ns_id = ?'),
      insertNs: db.prepare('INSERT INTO namespaces (tenant, ns_id, chunk_size, next_ino) VALUES (?, ?, ?, 2)'),
      nextIno: db.prepare<[number], { next_ino: number }>('UPDATE namespaces SET next_ino = next_ino + 1 WHERE ns = ? RETURNING next_ino - 1 AS next_ino'),
      setReadOnly: db.prepare('UPDATE namespaces SET read_only = ? WHERE tenant = ? AND ns_id = ?'),
      inode: db.prepare<[number, number], InodeRow>('SELECT * FROM inodes WHERE ns = ? AND ino = ?'),
      insertInode: db.prepare(`INSERT INTO inodes (ns, ino, kind, mode, uid, gid, size, nlink, atime_s, atime_ns, mtime_s, mtime_ns,
        ctime_s, ctime_ns, generation, chunk_size, parent, target_env)
        VALUES (@ns, @ino, @kind, @mode, @uid, @gid, @size, @nlink, @s, @n, @s, @n, @s, @n, 1, @chunk_size, @parent, @target_env)`),
      updateInode: db.prepare(`UPDATE inodes SET mode = @mode, uid = @uid, gid = @gid, size = @size, nlink = @nlink,
        atime_s = @atime_s, atime_ns = @atime_ns, mtime_s = @mtime_s, mtime_ns = @mtime_ns, ctime_s = @ctime_s, ctime_ns = @ctime_ns,
        generation = @generation, parent = @parent, inline_env = @inline_env, orphaned_ms = @orphaned_ms WHERE ns = @ns AND ino = @ino`),
      deleteInode: db.prepare('DELETE FROM inodes WHERE ns = ? AND ino = ?'),
      dirent: db.prepare<[number, number, Buffer], DirentRow>('SELECT name_key, ino, sealed_name FROM dirents WHERE ns = ? AND parent = ? AND name_key = ?'),
      insertDirent: db.prepare('INSERT INTO dirents (ns, parent, name_key, ino, sealed_name) VALUES (?, ?, ?, ?, ?)'),
      deleteDirent: db.prepare('DELETE FROM dirents WHERE ns = ? AND parent = ? AND name_key = ?'),
      setDirent: db.prepare('UPDATE dirents SET ino = ?, sealed_name = ? WHERE ns = ? AND parent = ? AND name_key = ?'),
      anyChild: db.prepare<[number, number], { one: number }>('SELECT 1 AS one FROM dirents WHERE ns = ? AND parent = ? LIMIT 1'),
      // Only the columns an Attr needs, as arrays (no inline content or symlink target copied, no row
      // objects): a listing of a large directory is the node's costliest read.
      readdir: db.prepare<[number, number, number, Buffer, number], ReaddirRow>(`SELECT d.name_key, d.sealed_name, ${ATTR_COLUMNS.map((c) => `i.${c}`).join(', ')}
        FROM dirents d INDEXED BY dirents_listing JOIN inodes i ON i.ns = d.ns AND i.ino = d.ino
        WHERE d.ns = ? AND d.parent = ? AND (d.ino, d.name_key) > (?, ?) ORDER BY d.ino, d.name_key LIMIT ?`).raw(true),
      chunks: db.prepare<[number, number], { offset: number; chunk_id: Buffer; length: number }>('SELECT offset, chunk_id, length FROM chunks WHERE ns = ? AND ino = ? ORDER BY offset'),
      chunkCount: db.prepare<[number, number], { n: number }>('SELECT COUNT(*) AS n FROM chunks WHERE ns = ? AND ino = ?'),
      putChunk: db.prepare('INSERT OR REPLACE INTO chunks (ns, ino, offset, chunk_id, length) VALUES (?, ?, ?, ?, ?)'),
      dropChunksFrom: db.prepare('DELETE FROM chunks WHERE ns = ? AND ino = ? AND offset >= ?'),
      clampChunk: db.prepare('UPDATE chunks SET length = ? - offset WHERE ns = ? AND ino = ? AND offset < ? AND offset + length > ?'),
      dropAllChunks: db.prepare('DELETE FROM chunks WHERE ns = ? AND ino = ?'),
      xattr: db.prepare<[number, number, Buffer], { sealed_value: Buffer }>('SELECT sealed_value FROM xattrs WHERE ns = ? AND ino = ? AND name_key = ?'),
      putXattr: db.prepare('INSERT OR REPLACE INTO xattrs (ns, ino, name_key, sealed_name, sealed_value) VALUES (?, ?, ?, ?, ?)'),
      listXattr: db.prepare<[number, number], { sealed_name: Buffer }>('SELECT sealed_name FROM xattrs WHERE ns = ? AND ino = ? ORDER BY name_key'),
      deleteXattr: db.prepare('DELETE FROM xattrs WHERE ns = ? AND ino = ? AND name_key = ?'),
      deleteXattrs: db.prepare('DELETE FROM xattrs WHERE ns = ? AND ino = ?'),
      orphans: db.prepare<[number], { ns: number; ino: number }>('SELECT ns, ino FROM inodes WHERE nlink = 0 AND orphaned_ms IS NOT NULL AND orphaned_ms < ?'),
      inodeCount: db.prepare<[number], { n: number }>('SELECT COUNT(*) AS n FROM inodes WHERE ns = ?'),
    };
  }

  private tx<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  // ---- lookups shared by the operations ----

  private resolve(tenant: string, nsId: string): NsRow {
    const row = this.q.ns.get(tenant, nsId);
    if (!row) throw err('NotFound', `namespace ${nsId} does not exist for this tenant; open it with create=true first`);
    return row;
  }

  private writable(tenant: string, nsId: string): NsRow {
    const row = this.resolve(tenant, nsId);
    if (row.read_only) throw err('ReadOnly', `namespace ${nsId} is read-only`);
    return row;
  }

  private inode(ns: number, ino: number): InodeRow {
    const row = this.q.inode.get(ns, inoOf(ino, 'ino'));
    if (!row) throw err('NotFound', `inode ${ino} does not exist`);
    return row;
  }

  private dir(ns: number, ino: number, field = 'parent'): InodeRow {
    const row = this.q.inode.get(ns, inoOf(ino, field));
    if (!row || row.nlink === 0) throw err('NotFound', `directory ${ino} does not exist`);
    if (row.kind !== FileKind.FILE_KIND_DIRECTORY) throw err('NotDirectory', `inode ${ino} is not a directory`);
    return row;
  }

  private entry(ns: number, parent: number, nameKey: Buffer): DirentRow {
    const d = this.q.dirent.get(ns, parent, nameKey);
    if (!d) throw err('NotFound', 'no entry with that name in the directory');
    return d;
  }

  private save(ns: number, r: InodeRow): void {
    this.q.updateInode.run({ ...r, ns });
  }

  private touch(r: InodeRow, what: { m?: boolean; c?: boolean; a?: boolean }): void {
    const t = this.now();
    if (what.m) { r.mtime_s = t.sec; r.mtime_ns = t.nsec; }
    if (what.c) { r.ctime_s = t.sec; r.ctime_ns = t.nsec; }
    if (what.a) { r.atime_s = t.sec; r.atime_ns = t.nsec; }
  }

  private newInode(ns: number, init: { kind: FileKind; mode: number; uid: number; gid: number; size: number; nlink: number; chunkSize: number; parent: number; target?: Buffer }): InodeRow {
    const ino = this.q.nextIno.get(ns)!.next_ino;
    const t = this.now();
    this.q.insertInode.run({
      ns, ino, kind: init.kind, mode: init.mode & 0o7777, uid: init.uid, gid: init.gid, size: init.size, nlink: init.nlink,
      s: t.sec, n: t.nsec, chunk_size: init.chunkSize, parent: init.kind === FileKind.FILE_KIND_DIRECTORY ? init.parent : 0,
      target_env: init.target ?? null,
    });
    return this.q.inode.get(ns, ino)!;
  }

  private sealedName(env: Envelope | undefined, field: string): Buffer {
    return encodeEnv(envelopeOf(env, field, NAME_MAX));
  }

  // ---- operations ----

  open(tenant: string, nsId: string, create: boolean, defaultChunkSize: number): OpenedNamespace {
    return this.tx(() => {
      let row = this.q.ns.get(tenant, nsId);
      if (!row) {
        if (!create) throw err('NotFound', `namespace ${nsId} does not exist for this tenant; open it with create=true to make it`);
        const chunkSize = defaultChunkSize === 0 ? DEFAULT_CHUNK_SIZE : chunkSizeOf(defaultChunkSize, 'default_chunk_size');
        const ns = Number(this.q.insertNs.run(tenant, nsId, chunkSize).lastInsertRowid);
        const t = this.now();
        this.q.insertInode.run({ ns, ino: ROOT_INO, kind: FileKind.FILE_KIND_DIRECTORY, mode: 0o755, uid: 0, gid: 0, size: 0, nlink: 2,
          s: t.sec, n: t.nsec, chunk_size: 0, parent: ROOT_INO, target_env: null });
        row = this.q.ns.get(tenant, nsId)!;
      }
      return { namespaceId: nsId, readOnly: row.read_only === 1, root: toAttr(this.inode(row.ns, ROOT_INO)) };
    });
  }

  setReadOnly(tenant: string, nsId: string, readOnly: boolean): void {
    this.resolve(tenant, nsId);
    this.q.setReadOnly.run(readOnly ? 1 : 0, tenant, nsId);
  }

  lookup(tenant: string, nsId: string, parent: number, nameKey: Buffer): Attr {
    const { ns } = this.resolve(tenant, nsId);
    this.dir(ns, parent);
    const d = this.entry(ns, parent, nameKeyOf(nameKey, 'name_key'));
    return toAttr(this.inode(ns, d.ino));
  }

  /** Works for unlinked-but-not-yet-swept inodes too (open files, docs/node.md "Orphans"). */
  getAttr(tenant: string, nsId: string, ino: number): Attr {
    const { ns } = this.resolve(tenant, nsId);
    return toAttr(this.inode(ns, ino));
  }

  /** One page of a directory listing as decoded messages (readDirPlusEncoded is what the service sends). */
  readDirPlus(tenant: string, nsId: string, ino: number, cursor: Buffer, limit: number): ReadDirPlusResponse {
    return ReadDirPlusResponse.decode(this.readDirPlusEncoded(tenant, nsId, ino, cursor, limit));
  }

  /** One page of a directory listing in inode order after `cursor`, as an encoded ReadDirPlusResponse (ADR 0085). */
  readDirPlusEncoded(tenant: string, nsId: string, ino: number, cursor: Buffer, limit: number): Buffer {
    const { ns } = this.resolve(tenant, nsId);
    this.dir(ns, ino, 'ino');
    const after = readdirCursor(cursor);
    const n = limit === 0 ? READDIR_DEFAULT_LIMIT : Math.min(limit, READDIR_MAX_LIMIT);
    const rows = this.q.readdir.all(ns, ino, after.ino, after.nameKey, n + 1) as unknown as ReaddirRow[];
    return encodeReadDirPlus(rows, Math.min(n, rows.length), rows.length <= n);
  }

  create(tenant: string, nsId: string, req: CreateRequest): Attr {
    return this.createEntry(tenant, nsId, req).attr;
  }

  /** create, also saying whether the inode was made by this call (false: an existing file). */
  createEntry(tenant: string, nsId: string, req: CreateRequest): { attr: Attr; created: boolean } {
    const nameKey = nameKeyOf(req.nameKey, 'name_key');
    const sealed = this.sealedName(req.sealedName, 'sealed_name');
    return this.tx(() => {
      const nsRow = this.writable(tenant, nsId);
      const { ns } = nsRow;
      const parent = this.dir(ns, req.parent);
      const existing = this.q.dirent.get(ns, parent.ino, nameKey);
      if (existing) {
        if (req.exclusive) throw err('AlreadyExists', 'the name exists (O_EXCL)');
        const row = this.inode(ns, existing.ino);
        if (row.kind === FileKind.FILE_KIND_DIRECTORY) throw err('IsDirectory', 'the name is a directory');
        if (row.kind !== FileKind.FILE_KIND_REGULAR) throw err('AlreadyExists', 'the name exists and is not a regular file');
        return { attr: toAttr(row), created: false };
      }
      const chunkSize = req.chunkSize === 0 ? nsRow.chunk_size : chunkSizeOf(req.chunkSize, 'chunk_size');
      const row = this.newInode(ns, { kind: FileKind.FILE_KIND_REGULAR, mode: req.mode, uid: req.uid, gid: req.gid, size: 0, nlink: 1, chunkSize, parent: parent.ino });
      this.q.insertDirent.run(ns, parent.ino, nameKey, row.ino, sealed);
      this.touch(parent, { m: true, c: true });
      this.save(ns, parent);
      return { attr: toAttr(row), created: true };
    });
  }

  mkdir(tenant: string, nsId: string, req: MkDirRequest): Attr {
    const nameKey = nameKeyOf(req.nameKey, 'name_key');
    const sealed = this.sealedName(req.sealedName, 'sealed_name');
    return this.tx(() => {
      const { ns } = this.writable(tenant, nsId);
      const parent = this.dir(ns, req.parent);
      if (this.q.dirent.get(ns, parent.ino, nameKey)) throw err('AlreadyExists', 'the name exists');
      const row = this.newInode(ns, { kind: FileKind.FILE_KIND_DIRECTORY, mode: req.mode, uid: req.uid, gid: req.gid, size: 0, nlink: 2, chunkSize: 0, parent: parent.ino });
      this.q.insertDirent.run(ns, parent.ino, nameKey, row.ino, sealed);
      parent.nlink += 1;
      this.touch(parent, { m: true, c: true });
      this.save(ns, parent);
      return toAttr(row);
    });
  }

  symlink(tenant: string, nsId: string, req: SymlinkRequest): Attr {
    const nameKey = nameKeyOf(req.nameKey, 'name_key');
    const sealed = this.sealedName(req.sealedName, 'sealed_name');
    const target = encodeEnv(envelopeOf(req.sealedTarget, 'sealed_target', PATH_MAX));
    if (req.targetLength < 1 || req.targetLength >= PATH_MAX) throw invalid('target_length', `must be 1–${PATH_MAX - 1}`);
    return this.tx(() => {
      const { ns } = this.writable(tenant, nsId);
      const parent = this.dir(ns, req.parent);
      if (this.q.dirent.get(ns, parent.ino, nameKey)) throw err('AlreadyExists', 'the name exists');
      const row = this.newInode(ns, { kind: FileKind.FILE_KIND_SYMLINK, mode: 0o777, uid: req.uid, gid: req.gid, size: req.targetLength, nlink: 1, chunkSize: 0, parent: parent.ino, target });
      this.q.insertDirent.run(ns, parent.ino, nameKey, row.ino, sealed);
      this.touch(parent, { m: true, c: true });
      this.save(ns, parent);
      return toAttr(row);
    });
  }

  readLink(tenant: string, nsId: string, ino: number): Envelope {
    const { ns } = this.resolve(tenant, nsId);
    const row = this.inode(ns, ino);
    if (row.kind !== FileKind.FILE_KIND_SYMLINK || !row.target_env) throw err('InvalidArgument', `inode ${ino} is not a symlink`);
    return Envelope.decode(row.target_env);
  }

  link(tenant: string, nsId: string, req: LinkRequest): Attr {
    const nameKey = nameKeyOf(req.nameKey, 'name_key');
    const sealed = this.sealedName(req.sealedName, 'sealed_name');
    return this.tx(() => {
      const { ns } = this.writable(tenant, nsId);
      const row = this.inode(ns, req.ino);
      if (row.kind === FileKind.FILE_KIND_DIRECTORY) throw eperm('hard links to directories are not allowed');
      if (row.nlink === 0) throw err('NotFound', `inode ${req.ino} was unlinked`);
      const parent = this.dir(ns, req.newParent, 'new_parent');
      if (this.q.dirent.get(ns, parent.ino, nameKey)) throw err('AlreadyExists', 'the new name exists');
      this.q.insertDirent.run(ns, parent.ino, nameKey, row.ino, sealed);
      row.nlink += 1;
      this.touch(row, { c: true });
      this.save(ns, row);
      this.touch(parent, { m: true, c: true });
      this.save(ns, parent);
      return toAttr(row);
    });
  }

  /** Returns the remaining link count; at 0 the inode stays reachable by ino until the orphan sweep. */
  unlink(tenant: string, nsId: string, parentIno: number, nameKey: Buffer): number {
    nameKeyOf(nameKey, 'name_key');
    return this.tx(() => {
      const { ns } = this.writable(tenant, nsId);
      const parent = this.dir(ns, parentIno);
      const d = this.entry(ns, parent.ino, nameKey);
      const row = this.inode(ns, d.ino);
      if (row.kind === FileKind.FILE_KIND_DIRECTORY) throw err('IsDirectory', 'unlink of a directory: use rmdir');
      this.q.deleteDirent.run(ns, parent.ino, nameKey);
      this.dropLink(ns, row);
      this.touch(parent, { m: true, c: true });
      this.save(ns, parent);
      return row.nlink;
    });
  }

  rmdir(tenant: string, nsId: string, parentIno: number, nameKey: Buffer): void {
    nameKeyOf(nameKey, 'name_key');
    this.tx(() => {
      const { ns } = this.writable(tenant, nsId);
      const parent = this.dir(ns, parentIno);
      const d = this.entry(ns, parent.ino, nameKey);
      const row = this.inode(ns, d.ino);
      if (row.kind !== FileKind.FILE_KIND_DIRECTORY) throw err('NotDirectory', 'rmdir of a non-directory');
      if (this.q.anyChild.get(ns, row.ino)) throw err('NotEmpty', 'the directory is not empty');
      this.q.deleteDirent.run(ns, parent.ino, nameKey);
      this.removeDir(ns, row);
      parent.nlink -= 1;
      this.touch(parent, { m: true, c: true });
      this.save(ns, parent);
    });
  }

  private removeDir(ns: number, row: InodeRow): void {
    this.q.deleteXattrs.run(ns, row.ino);
    this.q.deleteInode.run(ns, row.ino);
  }

  /** One name less for a non-directory: at nlink 0 it becomes an orphan (kept for open handles). */
  private dropLink(ns: number, row: InodeRow): void {
    row.nlink -= 1;
    this.touch(row, { c: true });
    if (row.nlink === 0) row.orphaned_ms = this.nowMs();
    this.save(ns, row);
  }

  /** Is `ino` the directory `ancestor` or inside it? Walks parent pointers up to the root. */
  private isWithin(ns: number, ino: number, ancestor: number): boolean {
    for (let cur = ino, hops = 0; ; hops++) {
      if (cur === ancestor) return true;
      if (cur === ROOT_INO || hops > 1_000_000) return false;
      cur = this.inode(ns, cur).parent;
    }
  }

  rename(tenant: string, nsId: string, req: RenameRequest): void {
    const nameKey = nameKeyOf(req.nameKey, 'name_key');
    const newNameKey = nameKeyOf(req.newNameKey, 'new_name_key');
    if (req.flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) throw invalid('flags', `unknown bits in ${req.flags}; only RENAME_NOREPLACE (1) and RENAME_EXCHANGE (2)`);
    if (req.flags === (RENAME_NOREPLACE | RENAME_EXCHANGE)) throw invalid('flags', 'RENAME_NOREPLACE and RENAME_EXCHANGE exclude each other');
    const exchange = (req.flags & RENAME_EXCHANGE) !== 0;
    const newSealed = req.newSealedName ? this.sealedName(req.newSealedName, 'new_sealed_name') : null;
    const exchangedSealed = req.exchangedSealedName ? this.sealedName(req.exchangedSealedName, 'exchanged_sealed_name') : null;
    if (!exchange && !newSealed) throw invalid('new_sealed_name', 'is required (a sealed Envelope)');
    if (req.newNamespaceId && req.newNamespaceId.value !== '' && req.newNamespaceId.value !== nsId) {
      throw err('CrossDevice', 'rename across namespaces is not possible (EXDEV): copy, then delete');
    }
    this.tx(() => {
      const { ns } = this.writable(tenant, nsId);
      const srcParent = this.dir(ns, req.parent);
      const dstParent = req.newParent === srcParent.ino ? srcParent : this.dir(ns, req.newParent, 'new_parent');
      const src = this.entry(ns, srcParent.ino, nameKey);
      const srcRow = this.inode(ns, src.ino);
      const dst = this.q.dirent.get(ns, dstParent.ino, newNameKey);
      const srcIsDir = srcRow.kind === FileKind.FILE_KIND_DIRECTORY;
      if (srcIsDir && dstParent.ino !== srcParent.ino && this.isWithin(ns, dstParent.ino, srcRow.ino)) {
        throw err('InvalidArgument', 'cannot move a directory into its own subtree');
      }
      if (dst && dst.ino === src.ino) {
        // The same entry, or two hard links of one file: POSIX rename does nothing.
        if (req.flags & RENAME_NOREPLACE && !(srcParent.ino === dstParent.ino && nameKey.equals(newNameKey))) {
          throw err('AlreadyExists', 'the destination exists (RENAME_NOREPLACE)');
        }
        return;
      }
      if (exchange) {
        if (!dst) throw err('NotFound', 'RENAME_EXCHANGE needs an existing destination');
        this.exchange(ns, { parent: srcParent, entry: src, row: srcRow }, { parent: dstParent, entry: dst }, newSealed, exchangedSealed);
        return;
      }
      if (dst) {
        if (req.flags & RENAME_NOREPLACE) throw err('AlreadyExists', 'the destination exists (RENAME_NOREPLACE)');
        const dstRow = this.inode(ns, dst.ino);
        const dstIsDir = dstRow.kind === FileKind.FILE_KIND_DIRECTORY;
        if (srcIsDir && !dstIsDir) throw err('NotDirectory', 'cannot rename a directory over a non-directory');
        if (!srcIsDir && dstIsDir) throw err('IsDirectory', 'cannot rename a non-directory over a directory');
        if (dstIsDir) {
          if (this.q.anyChild.get(ns, dstRow.ino)) throw err('NotEmpty', 'the destination directory is not empty');
          this.removeDir(ns, dstRow);
          dstParent.nlink -= 1;
        } else {
          this.dropLink(ns, dstRow);
        }
        this.q.setDirent.run(src.ino, newSealed, ns, dstParent.ino, newNameKey);
      } else {
        this.q.insertDirent.run(ns, dstParent.ino, newNameKey, src.ino, newSealed);
      }
      this.q.deleteDirent.run(ns, srcParent.ino, nameKey);
      if (srcIsDir && srcParent.ino !== dstParent.ino) {
        srcParent.nlink -= 1;
        dstParent.nlink += 1;
        srcRow.parent = dstParent.ino;
      }
      this.touch(srcRow, { c: true });
      this.save(ns, srcRow);
      this.touch(srcParent, { m: true, c: true });
      this.save(ns, srcParent);
      if (dstParent !== srcParent) {
        this.touch(dstParent, { m: true, c: true });
        this.save(ns, dstParent);
      }
    });
  }

  private exchange(ns: number, a: { parent: InodeRow; entry: DirentRow; row: InodeRow }, b: { parent: InodeRow; entry: DirentRow },
    sealedAtB: Buffer | null, sealedAtA: Buffer | null): void {
    const bRow = this.inode(ns, b.entry.ino);
    const aIsDir = a.row.kind === FileKind.FILE_KIND_DIRECTORY;
    const bIsDir = bRow.kind === FileKind.FILE_KIND_DIRECTORY;
    if (bIsDir && a.parent.ino !== b.parent.ino && this.isWithin(ns, a.parent.ino, bRow.ino)) {
      throw err('InvalidArgument', 'cannot move a directory into its own subtree');
    }
    // Each name stays where it is; only the inodes swap (new sealed names when the client sends them).
    this.q.setDirent.run(a.row.ino, sealedAtB ?? b.entry.sealed_name, ns, b.parent.ino, b.entry.name_key);
    this.q.setDirent.run(bRow.ino, sealedAtA ?? a.entry.sealed_name, ns, a.parent.ino, a.entry.name_key);
    if (a.parent.ino !== b.parent.ino) {
      if (aIsDir) { a.row.parent = b.parent.ino; a.parent.nlink -= 1; b.parent.nlink += 1; }
      if (bIsDir) { bRow.parent = a.parent.ino; b.parent.nlink -= 1; a.parent.nlink += 1; }
    }
    for (const r of [a.row, bRow]) { this.touch(r, { c: true }); this.save(ns, r); }
    for (const p of a.parent === b.parent ? [a.parent] : [a.parent, b.parent]) { this.touch(p, { m: true, c: true }); this.save(ns, p); }
  }

  setAttr(tenant: string, nsId: string, req: SetAttrRequest): Attr {
    if (req.valid & ~SETATTR_ALL) throw invalid('valid', `unknown bits in ${req.valid}`);
    return this.tx(() => {
      const { ns } = this.writable(tenant, nsId);
      const row = this.inode(ns, req.ino);
      if (req.valid & SETATTR.MODE) row.mode = req.mode & 0o7777;
      if (req.valid & SETATTR.UID) row.uid = req.uid;
      if (req.valid & SETATTR.GID) row.gid = req.gid;
      if (req.valid & SETATTR.ATIME) { const t = timespecOf(req.atime, 'atime'); row.atime_s = t.sec; row.atime_ns = t.nsec; }
      if (req.valid & SETATTR.MTIME) { const t = timespecOf(req.mtime, 'mtime'); row.mtime_s = t.sec; row.mtime_ns = t.nsec; }
      if (req.valid & SETATTR.CTIME) { const t = timespecOf(req.ctime, 'ctime'); row.ctime_s = t.sec; row.ctime_ns = t.nsec; } else this.touch(row, { c: true });
      row.generation += 1;
      this.save(ns, row);
      return toAttr(row);
    });
  }

  private regular(ns: number, ino: number): InodeRow {
    const row = this.inode(ns, ino);
    if (row.kind === FileKind.FILE_KIND_DIRECTORY) throw err('IsDirectory', `inode ${ino} is a directory`);
    if (row.kind !== FileKind.FILE_KIND_REGULAR) throw err('InvalidArgument', `inode ${ino} is not a regular file`);
    return row;
  }

  getLayout(tenant: string, nsId: string, ino: number): Layout {
    const { ns } = this.resolve(tenant, nsId);
    return this.db.transaction(() => {
      const row = this.regular(ns, ino);
      const chunks: ChunkRef[] = this.q.chunks.all(ns, row.ino).map((c) => ({ chunkId: { value: c.chunk_id }, offset: c.offset, length: c.length }));
      return {
        ino: row.ino, generation: row.generation, size: row.size, chunkSize: row.chunk_size, chunks,
        inlineData: row.inline_env ? Envelope.decode(row.inline_env) : undefined,
      };
    }).deferred();
  }

  /**
   * I-N4: the generation guard — a commit with expected_generation ≠ 0 applies only if nobody
   * committed since the caller read the layout (ABORTED otherwise).
   * I-N5: after a commit every chunk lies inside [0, size): chunks at or past size are dropped and a
   * straddling chunk's length is cut, so bytes past EOF can never resurface after a later extend.
   */
  commitLayout(tenant: string, nsId: string, req: CommitLayoutRequest): Attr {
    if (!Number.isSafeInteger(req.newSize) || req.newSize < 0 || req.newSize >= MAX_OFFSET) throw invalid('new_size', 'must be an integer in [0, 2^53)');
    if (req.inlineData && req.clearInline) throw invalid('inline_data', 'cannot be set together with clear_inline');
    if (req.inlineData && req.setChunks.length > 0) throw invalid('inline_data', 'a file is either inline or chunked: send set_chunks or inline_data, not both');
    const inline = req.inlineData ? encodeEnv(envelopeOf(req.inlineData, 'inline_data', MAX_INLINE_BYTES)) : null;
    if (req.inlineData && req.inlineData.ciphertext.length !== req.newSize) throw invalid('new_size', 'must equal the inline content length when inline_data is set');
    const mtime = req.mtime ? timespecOf(req.mtime, 'mtime') : null;
    return this.tx(() => {
      const { ns } = this.writable(tenant, nsId);
      const row = this.regular(ns, req.ino);
      if (req.expectedGeneration !== 0 && req.expectedGeneration !== row.generation) {
        throw kerr('StaleGeneration', `inode ${row.ino} is at generation ${row.generation}, not ${req.expectedGeneration}: re-read the layout and retry`);
      }
      const cs = row.chunk_size;
      const refs = req.setChunks.map((c, i) => {
        const field = `set_chunks[${i}]`;
        const id = chunkIdOf(c.chunkId, `${field}.chunk_id`);
        if (!Number.isSafeInteger(c.offset) || c.offset < 0 || c.offset >= MAX_OFFSET || c.offset % cs !== 0) throw invalid(`${field}.offset`, `must be a multiple of the file's chunk_size ${cs} below 2^53 (got ${c.offset})`);
        if (!Number.isSafeInteger(c.length) || c.length < 1 || c.length > cs) throw invalid(`${field}.length`, `must be 1–${cs} (got ${c.length})`);
        if (c.offset + c.length > req.newSize) throw invalid(`${field}`, `ends at ${c.offset + c.length}, past new_size ${req.newSize}`);
        return { id, offset: c.offset, length: c.length };
      });
      if (req.dropFromSet) this.q.dropChunksFrom.run(ns, row.ino, req.dropFrom);
      if (inline) {
        this.q.dropAllChunks.run(ns, row.ino);
        row.inline_env = inline;
      } else if (req.clearInline) {
        row.inline_env = null;
      } else if (row.inline_env && (refs.length > 0 || req.newSize !== Envelope.decode(row.inline_env).ciphertext.length)) {
        throw invalid('clear_inline', 'the file holds inline content: set clear_inline (or send new inline_data) to change it');
      }
      for (const r of refs) this.q.putChunk.run(ns, row.ino, r.offset, r.id, r.length);
      this.q.dropChunksFrom.run(ns, row.ino, req.newSize);
      this.q.clampChunk.run(req.newSize, ns, row.ino, req.newSize, req.newSize);
      row.size = req.newSize;
      if (mtime) { row.mtime_s = mtime.sec; row.mtime_ns = mtime.nsec; this.touch(row, { c: true }); } else this.touch(row, { m: true, c: true });
      row.generation += 1;
      this.save(ns, row);
      return toAttr(row);
    });
  }

  setXattr(tenant: string, nsId: string, req: SetXattrRequest): void {
    const nameKey = nameKeyOf(req.nameKey, 'name_key');
    const sealedName = this.sealedName(req.sealedName, 'sealed_name');
    const value = encodeEnv(envelopeOf(req.sealedValue, 'sealed_value', XATTR_VALUE_MAX));
    if (req.flags & ~(XATTR_CREATE | XATTR_REPLACE) || req.flags === (XATTR_CREATE | XATTR_REPLACE)) throw invalid('flags', 'must be 0, XATTR_CREATE (1) or XATTR_REPLACE (2)');
    this.tx(() => {
      const { ns } = this.writable(tenant, nsId);
      const row = this.inode(ns, req.ino);
      const present = this.q.xattr.get(ns, row.ino, nameKey) !== undefined;
      if (present && req.flags & XATTR_CREATE) throw err('AlreadyExists', 'the attribute exists (XATTR_CREATE)');
      if (!present && req.flags & XATTR_REPLACE) throw err('NoData', 'no such attribute (XATTR_REPLACE)');
      this.q.putXattr.run(ns, row.ino, nameKey, sealedName, value);
      this.touch(row, { c: true });
      this.save(ns, row);
    });
  }

  getXattr(tenant: string, nsId: string, ino: number, nameKey: Buffer): Envelope {
    const { ns } = this.resolve(tenant, nsId);
    const row = this.inode(ns, ino);
    const x = this.q.xattr.get(ns, row.ino, nameKeyOf(nameKey, 'name_key'));
    if (!x) throw err('NoData', 'no such attribute');
    return Envelope.decode(x.sealed_value);
  }

  listXattr(tenant: string, nsId: string, ino: number): Envelope[] {
    const { ns } = this.resolve(tenant, nsId);
    const row = this.inode(ns, ino);
    return this.q.listXattr.all(ns, row.ino).map((x) => Envelope.decode(x.sealed_name));
  }

  removeXattr(tenant: string, nsId: string, ino: number, nameKey: Buffer): void {
    nameKeyOf(nameKey, 'name_key');
    this.tx(() => {
      const { ns } = this.writable(tenant, nsId);
      const row = this.inode(ns, ino);
      if (this.q.deleteXattr.run(ns, row.ino, nameKey).changes === 0) throw err('NoData', 'no such attribute');
      this.touch(row, { c: true });
      this.save(ns, row);
    });
  }

  inodeCount(tenant: string, nsId: string): number {
    return this.q.inodeCount.get(this.resolve(tenant, nsId).ns)!.n;
  }

  /** Removes unlinked inodes older than the grace period (their metadata; chunk files: docs/node.md). */
  sweepOrphans(graceMs: number): number {
    return this.tx(() => {
      const victims = this.q.orphans.all(this.nowMs() - graceMs);
      for (const v of victims) {
        this.q.dropAllChunks.run(v.ns, v.ino);
        this.q.deleteXattrs.run(v.ns, v.ino);
        this.q.deleteInode.run(v.ns, v.ino);
      }
      return victims.length;
    });
  }
}

export function chunkSizeOf(v: number, field: string): number {
  if (!Number.isSafeInteger(v) || v < MIN_CHUNK_SIZE || v > MAX_CHUNK_SIZE || v % MIN_CHUNK_SIZE !== 0) {
    throw invalid(field, `must be a multiple of 4096 between ${MIN_CHUNK_SIZE} and ${MAX_CHUNK_SIZE} (got ${v})`);
  }
  return v;
}

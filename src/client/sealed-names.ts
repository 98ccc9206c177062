// Names, symlink targets, xattrs and inline data as the node sees them: a deterministic HMAC key to
// index on and an Envelope only the tenant can open (namespace.proto header). Each sealed value is
// bound to the record it belongs to through the 32-byte id used as AAD, so a node that swaps two
// records' values makes the open fail (EIO) instead of showing one file's name or data as another's.
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:os';
import type { Envelope } from '../gen/kiseki/v1/chunk.js';
import { KisekiError, kerr } from '../errors.js';
import type { MetaCrypto } from './fs-ports.js';

export const NAME_MAX = 255;
const XATTR_NAME_MAX = 255;
const XATTR_SIZE_MAX = 65536;
/** Dirent names never contain NUL, so this prefix keeps xattr keys apart from dirent keys of a directory. */
const XATTR_PREFIX = Buffer.from('\0xattr\0');

/** Names remembered by key: enough for a few large directories. */
const KNOWN_NAMES_MAX = 200_000;
/** Sealed names kept unopened: the biggest directory listed ahead of lookups (PREFETCH_MAX_ENTRIES). */
const KEPT_SEALED_MAX = 65_536;
/** Kept names opened per thread-pool job. */
const OPEN_BATCH = 1024;

export class SealedNames {
  /**
   * name_key (hex) → name, for every name this client hashed itself or already opened and checked.
   * A name_key is an HMAC of (parent, name), so it determines the name: a listed entry whose key is
   * known needs no decryption, and a node cannot make it show another name.
   */
  private readonly known = new Map<string, Buffer>();
  /**
   * name_key (hex) → the sealed name a listing ahead of lookups brought (ADR 0086: such a listing
   * opens no name), until it is opened, by a READDIR of the cached listing, or pushed out.
   */
  private readonly sealed = new Map<string, Envelope>();

  constructor(private readonly meta: MetaCrypto, private readonly namespaceId: string) {}

  private remember(nameKey: Buffer, name: Buffer): void {
    if (this.known.size >= KNOWN_NAMES_MAX) this.known.delete(this.known.keys().next().value as string);
    this.known.set(nameKey.toString('hex'), name);
  }

  /** The name of a name_key (hex) this client hashed or opened before, if it still remembers it. */
  knownName(hex: string): Buffer | undefined {
    return this.known.get(hex);
  }

  /** Keeps the sealed names of listed entries whose names are not known, to open them if they are ever shown. */
  keepSealed(entries: ReadonlyArray<{ nameKey: Buffer; sealedName?: Envelope | undefined }>): void {
    for (const e of entries) {
      const hex = e.nameKey.toString('hex');
      if (e.sealedName === undefined || this.known.has(hex)) continue;
      if (this.sealed.size >= KEPT_SEALED_MAX) this.sealed.delete(this.sealed.keys().next().value as string);
      this.sealed.set(hex, e.sealedName);
    }
  }

  /**
   * Opens the names of these name_keys (hex) of `parent` that keepSealed() kept, in batches on the
   * thread pool, each checked against its key as a listing's are; false when one of them was neither
   * known nor kept (and nothing is opened).
   */
  async openKept(parent: number, hexes: readonly string[]): Promise<boolean> {
    const items: Array<{ nameKey: Buffer; sealedName: Envelope }> = [];
    for (const hex of hexes) {
      if (this.known.has(hex)) continue;
      const sealedName = this.sealed.get(hex);
      if (sealedName === undefined) return false;
      items.push({ nameKey: Buffer.from(hex, 'hex'), sealedName });
    }
    // Batches of a listing page's size, side by side on the thread pool (one batch is one job).
    const batches: Array<Promise<Buffer[]>> = [];
    for (let i = 0; i < items.length; i += OPEN_BATCH) batches.push(this.openNames(parent, items.slice(i, i + OPEN_BATCH)));
    await Promise.all(batches);
    for (const it of items) this.sealed.delete(it.nameKey.toString('hex'));
    return true;
  }

  static checkName(name: Buffer): void {
    if (name.length === 0 || name.includes(0x2f) || name.includes(0)) {
      throw kerr('InvalidArgument', `invalid file name '${name.toString()}'`);
    }
    if (name.length > NAME_MAX) {
      throw new KisekiError('InvalidArgument', `file name longer than ${NAME_MAX} bytes`, { errno: constants.errno.ENAMETOOLONG });
    }
  }

  async nameKey(parent: number, name: Buffer): Promise<Buffer> {
    SealedNames.checkName(name);
    const key = await this.meta.nameKey(parent, name);
    this.remember(key, Buffer.from(name));
    return key;
  }

  /** A dirent name, bound to its own name_key. */
  sealName(nameKey: Buffer, name: Buffer): Promise<Envelope> {
    return this.meta.sealMeta(nameKey, name);
  }

  /** Opens a dirent name and checks that it hashes to the key the node filed it under. */
  async openName(parent: number, nameKey: Buffer, sealed: Envelope | undefined): Promise<Buffer> {
    const known = this.known.get(nameKey.toString('hex'));
    if (known !== undefined) return known;
    if (sealed === undefined) throw kerr('Integrity', `directory ${parent}: entry without a sealed name`);
    const name = await this.meta.openMeta(sealed, nameKey);
    const again = await this.meta.nameKey(parent, name);
    if (!again.equals(nameKey)) throw kerr('Integrity', `directory ${parent}: a sealed name does not match its key`);
    this.remember(nameKey, name);
    return name;
  }

  /**
   * The names of a ReadDirPlus page, in order; names already known cost no crypto at all, the rest
   * are opened in one batch where the crypto offers it. Any entry that fails makes the page fail (EIO).
   */
  async openNames(parent: number, entries: ReadonlyArray<{ nameKey: Buffer; sealedName?: Envelope | undefined }>): Promise<Buffer[]> {
    const batch = this.meta.openNames;
    if (batch === undefined) return Promise.all(entries.map((e) => this.openName(parent, e.nameKey, e.sealedName)));
    const out = entries.map((e) => this.known.get(e.nameKey.toString('hex')));
    const unknown = entries.filter((_, i) => out[i] === undefined);
    if (unknown.length === 0) return out as Buffer[];
    const opened = await batch.call(this.meta, parent, unknown);
    let j = 0;
    for (let i = 0; i < out.length; i++) {
      if (out[i] !== undefined) continue;
      const r = opened[j++]!;
      if (r instanceof Error) throw r;
      this.remember(entries[i]!.nameKey, r);
      out[i] = r;
    }
    return out as Buffer[];
  }

  /** Symlink targets get a fresh random id: equal targets must not look equal to the node. */
  sealTarget(target: Buffer): Promise<Envelope> {
    return this.meta.sealMeta(randomBytes(32), target);
  }

  openTarget(sealed: Envelope | undefined): Promise<Buffer> {
    const id = sealed?.chunkId?.value;
    if (sealed === undefined || id === undefined || id.length !== 32) throw kerr('Integrity', 'symlink without a sealed target');
    return this.meta.openMeta(sealed, id);
  }

  xattrKey(ino: number, name: string): Promise<Buffer> {
    const bytes = Buffer.from(name);
    if (bytes.length === 0 || bytes.length > XATTR_NAME_MAX) {
      throw new KisekiError('InvalidArgument', `xattr name must be 1–${XATTR_NAME_MAX} bytes`, { errno: constants.errno.ERANGE });
    }
    return this.meta.nameKey(ino, Buffer.concat([XATTR_PREFIX, bytes]));
  }

  sealXattrName(key: Buffer, name: string): Promise<Envelope> {
    return this.meta.sealMeta(key, Buffer.from(name));
  }

  /** Opens a listed xattr name and checks it against the id it was sealed under. */
  async openXattrName(ino: number, sealed: Envelope): Promise<string> {
    const id = sealed.chunkId?.value;
    if (id === undefined || id.length !== 32) throw kerr('Integrity', `inode ${ino}: xattr name without an id`);
    const name = await this.meta.openMeta(sealed, id);
    if (!(await this.xattrKey(ino, name.toString())).equals(id)) throw kerr('Integrity', `inode ${ino}: xattr name does not match its key`);
    return name.toString();
  }

  sealXattrValue(ino: number, key: Buffer, value: Buffer): Promise<Envelope> {
    if (value.length > XATTR_SIZE_MAX) throw new KisekiError('NoSpace', `xattr values are limited to ${XATTR_SIZE_MAX} bytes`, { errno: constants.errno.E2BIG });
    return this.meta.sealMeta(this.recordId('xattr', ino, key), value);
  }

  openXattrValue(ino: number, key: Buffer, sealed: Envelope | undefined): Promise<Buffer> {
    if (sealed === undefined) throw kerr('NoData', 'no such attribute');
    return this.meta.openMeta(sealed, this.recordId('xattr', ino, key));
  }

  /** Inline file content, bound to (namespace, ino). */
  sealInline(ino: number, content: Buffer): Promise<Envelope> {
    return this.meta.sealMeta(this.recordId('inline', ino), content);
  }

  openInline(ino: number, sealed: Envelope): Promise<Buffer> {
    return this.meta.openMeta(sealed, this.recordId('inline', ino));
  }

  private recordId(kind: string, ino: number, extra?: Buffer): Buffer {
    const h = createHash('sha256').update(`kiseki-${kind}-v1\0${this.namespaceId}\0${ino}\0`);
    if (extra !== undefined) h.update(extra);
    return h.digest();
  }
}

// Metadata confidentiality (proto/kiseki/v1/namespace.proto): the node indexes names by a keyed hash
// and stores every name, symlink target, xattr value and inline file content sealed.
//   nameKey  = HMAC-SHA256(index_key, parent_ino as u64 LE || name bytes)
//   sealMeta = the chunk seal with a caller-given 32-byte id (salt and AAD) and HKDF info
//              "kiseki-meta-dek-v1", so a sealed value only opens under the id it was sealed for: the
//              node cannot swap two entries' sealed names.
import { createHmac } from 'node:crypto';
import { kerr } from '../errors.js';
import type { Envelope } from '../gen/kiseki/v1/chunk.js';
import { ID_BYTES, KEY_BYTES, META_DEK_INFO, NONCE_BYTES, TAG_BYTES } from './crypto-backend.js';
import { defaultBackend } from './crypto-select.js';
import { envelopeProblem, openEnvelope, sealEnvelope, type SealOptions } from './envelope.js';
import type { TenantKeyring } from './keyring.js';

const U64_MAX = (1n << 64n) - 1n;

/** The 32-byte key under which the node indexes `name` in directory `parentIno`. */
export function nameKey(indexKey: Buffer, parentIno: number | bigint, name: Buffer | string): Buffer {
  if (indexKey.length !== KEY_BYTES) throw kerr('InvalidArgument', `index key must be ${KEY_BYTES} bytes`);
  const ino = BigInt(parentIno);
  if (ino < 0n || ino > U64_MAX) throw kerr('InvalidArgument', `parent inode ${ino} is not a u64`);
  const le = Buffer.allocUnsafe(8);
  le.writeBigUInt64LE(ino);
  return createHmac('sha256', indexKey).update(le).update(typeof name === 'string' ? Buffer.from(name, 'utf8') : name).digest();
}

function checkId(id32: Buffer): void {
  if (id32.length !== ID_BYTES) throw kerr('InvalidArgument', `metadata id must be ${ID_BYTES} bytes, got ${id32.length}`);
}

/** Seals a metadata value bound to `id32` (e.g. the entry's name key) under the current epoch. */
export async function sealMeta(keyring: TenantKeyring, id32: Buffer, plaintext: Buffer,
  opts?: SealOptions): Promise<Envelope> {
  checkId(id32);
  const backend = opts?.backend ?? await defaultBackend();
  return (await sealEnvelope(keyring, plaintext, { kind: 'given', id: id32 }, META_DEK_INFO, backend)).envelope;
}

/** Opens a metadata value sealed for `id32`; Integrity (EIO) on any mismatch or tampering. */
export async function openMeta(keyring: TenantKeyring, envelope: Envelope, id32: Buffer,
  opts?: SealOptions): Promise<Buffer> {
  checkId(id32);
  const backend = opts?.backend ?? await defaultBackend();
  return openEnvelope(keyring, envelope, id32, { kind: 'none' }, META_DEK_INFO, backend, 'metadata value');
}

/** One sealed dirent name of a listing: the key it is filed under and its envelope. */
export interface SealedName {
  readonly nameKey: Buffer;
  readonly sealedName?: Envelope | undefined;
}

const NAME_STATUS = ['ok', 'failed authentication', 'does not hash to its key', 'could not be opened (OpenSSL error)'] as const;

/**
 * Opens the sealed names of one directory listing, each checked to hash back to the name key it is
 * filed under (so a node cannot show one entry's name under another's key). One thread-pool job per
 * key epoch with the native backend; one open per name otherwise. Each result is the name or the
 * Integrity error for that entry alone.
 */
export async function openNames(keyring: TenantKeyring, parentIno: number, items: ReadonlyArray<SealedName>,
  opts?: SealOptions): Promise<Array<Buffer | Error>> {
  const backend = opts?.backend ?? await defaultBackend();
  const out = new Array<Buffer | Error>(items.length);
  const byEpoch = new Map<number, number[]>();
  items.forEach((it, i) => {
    const problem = it.sealedName === undefined ? 'no sealed name' : envelopeProblem(it.sealedName, it.nameKey);
    if (problem !== null) {
      out[i] = kerr('Integrity', `directory ${parentIno}: entry ${it.nameKey.toString('hex')} cannot be opened: ${problem}`);
      return;
    }
    const epoch = it.sealedName!.systemEpoch!.value;
    const group = byEpoch.get(epoch);
    if (group === undefined) byEpoch.set(epoch, [i]);
    else group.push(i);
  });
  const batch = backend.openNames?.bind(backend);
  if (batch === undefined) {
    await Promise.all([...byEpoch.values()].flat().map(async (i) => {
      const it = items[i]!;
      try {
        const name = await openMeta(keyring, it.sealedName!, it.nameKey, opts);
        out[i] = nameKey(keyring.indexKey, parentIno, name).equals(it.nameKey) ? name
          : kerr('Integrity', `directory ${parentIno}: a sealed name does not match its key`);
      } catch (err) {
        out[i] = err as Error;
      }
    }));
    return out;
  }
  await Promise.all([...byEpoch].map(async ([epoch, idx]) => {
    const n = idx.length;
    const ids = Buffer.allocUnsafe(n * ID_BYTES);
    const nonces = Buffer.allocUnsafe(n * NONCE_BYTES);
    const tags = Buffer.allocUnsafe(n * TAG_BYTES);
    const offsets = new Uint32Array(n + 1);
    idx.forEach((i, j) => {
      const e = items[i]!.sealedName!;
      items[i]!.nameKey.copy(ids, j * ID_BYTES);
      e.nonce.copy(nonces, j * NONCE_BYTES);
      e.authTag.copy(tags, j * TAG_BYTES);
      offsets[j + 1] = offsets[j]! + e.ciphertext.length;
    });
    const ciphertexts = Buffer.concat(idx.map((i) => items[i]!.sealedName!.ciphertext), offsets[n]);
    const { plaintext: plain, status } = await batch({
      parent: parentIno, indexKey: keyring.indexKey, kek: keyring.kek(epoch), info: META_DEK_INFO, ids, nonces, tags, ciphertexts, offsets,
    }).catch((err: unknown) => { throw keyring.wipedError() ?? kerr('Internal', `opening the names of directory ${parentIno} failed in the ${backend.name} crypto backend`, err); });
    const wiped = keyring.wipedError();
    if (wiped !== null) {
      plain.fill(0);
      throw wiped;
    }
    idx.forEach((i, j) => {
      const s = status[j]!;
      out[i] = s === 0 ? Buffer.from(plain.subarray(offsets[j], offsets[j + 1]))
        : kerr('Integrity', `directory ${parentIno}: the sealed name of entry ${items[i]!.nameKey.toString('hex')} ${NAME_STATUS[s] ?? 'failed'}`);
    });
    plain.fill(0);
  }));
  return out;
}

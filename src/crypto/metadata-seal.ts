// Metadata confidentiality (proto/kiseki/v1/namespace.proto): the node indexes names by a keyed hash
// and stores every name, symlink target, xattr value and inline file content sealed.
//   nameKey  = HMAC-SHA256(index_key, parent_ino as u64 LE || name bytes)
//   sealMeta = the chunk seal with a caller-given 32-byte id (salt and AAD) and HKDF info
//              "kiseki-meta-dek-v1", so a sealed value only opens under the id it was sealed for: the
//              node cannot swap two entries' sealed names.
import { createHmac } from 'node:crypto';
import { kerr } from '../errors.js';
import type { Envelope } from '../gen/kiseki/v1/chunk.js';
import { ID_BYTES, KEY_BYTES, META_DEK_INFO } from './crypto-backend.js';
import { defaultBackend } from './crypto-select.js';
import { openEnvelope, sealEnvelope, type SealOptions } from './envelope.js';
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

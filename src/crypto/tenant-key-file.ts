// The local tenant key file of the embedded default (DESIGN D2, ADR 0010): a FetchTenantKeysResponse
// sealed with XChaCha20-Poly1305 (libsodium) under a 32-byte wrap key kept in a separate file, so
// the key file alone (a backup, a copy) reveals nothing. Both files are mode 0600 and are refused
// otherwise. Layout of the key file:
//   "KSKTKF01" (8, also the AEAD's associated data) || nonce (24) || ciphertext+tag (protobuf + 16)
import { randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { kerr } from '../errors.js';
import { DedupPolicy } from '../gen/kiseki/v1/common.js';
import { FetchTenantKeysResponse } from '../gen/kiseki/v1/tenant_keys.js';
import { KEY_BYTES } from './crypto-backend.js';
import { loadSodium } from './sodium.js';

const MAGIC = Buffer.from('KSKTKF01', 'ascii');
const NONCE = 24;
const MODE = 0o600;

async function checkPrivate(path: string): Promise<void> {
  let mode: number;
  try {
    mode = (await stat(path)).mode;
  } catch (err) {
    throw kerr('NotFound', `key file ${path} cannot be read: ${(err as Error).message}`, err);
  }
  if ((mode & 0o077) !== 0) {
    throw kerr('PermissionDenied', `key file ${path} has mode ${(mode & 0o777).toString(8)}; ` +
      `it must be readable by its owner only: chmod 600 ${path}`);
  }
}

/** Writes `data` to `path` with mode 0600 atomically (temporary file, fsync, rename). */
async function writePrivate(path: string, data: Buffer): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, MODE);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  await rename(tmp, path);
}

/** A fresh tenant key set: epoch 1 and an index key, from libsodium's CSPRNG. */
export async function generateTenantKeys(tenantId: string,
  dedupPolicy = DedupPolicy.DEDUP_POLICY_CROSS_TENANT): Promise<FetchTenantKeysResponse> {
  const sodium = await loadSodium();
  return FetchTenantKeysResponse.fromPartial({
    tenantId: { value: tenantId }, currentEpoch: { value: 1 },
    keks: [{ epoch: { value: 1 }, kek: Buffer.from(sodium.randombytes_buf(KEY_BYTES)) }],
    indexKey: Buffer.from(sodium.randombytes_buf(KEY_BYTES)), dedupPolicy,
  });
}

/** Creates a new random wrap key file (mode 0600) and returns the key. */
export async function createWrapKeyFile(path: string): Promise<Buffer> {
  const sodium = await loadSodium();
  const key = Buffer.from(sodium.crypto_aead_xchacha20poly1305_ietf_keygen());
  await writePrivate(path, key);
  return key;
}

export async function readWrapKeyFile(path: string): Promise<Buffer> {
  await checkPrivate(path);
  const key = await readFile(path);
  if (key.length !== KEY_BYTES) throw kerr('InvalidArgument', `wrap key file ${path} must hold exactly ${KEY_BYTES} bytes`);
  return key;
}

export async function writeTenantKeyFile(path: string, keys: FetchTenantKeysResponse, wrapKey: Buffer): Promise<void> {
  if (wrapKey.length !== KEY_BYTES) throw kerr('InvalidArgument', `wrap key must be ${KEY_BYTES} bytes`);
  const sodium = await loadSodium();
  const plain = Buffer.from(FetchTenantKeysResponse.encode(keys).finish());
  const nonce = sodium.randombytes_buf(NONCE);
  const sealed = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plain, MAGIC, null, nonce, wrapKey);
  sodium.memzero(plain);
  await writePrivate(path, Buffer.concat([MAGIC, nonce, sealed]));
}

/** Reads and opens a key file. Pass the result to TenantKeyring.fromResponse, which zeroes its keys. */
export async function readTenantKeyFile(path: string, wrapKey: Buffer): Promise<FetchTenantKeysResponse> {
  await checkPrivate(path);
  const file = await readFile(path);
  if (file.length < MAGIC.length + NONCE + 16 || !file.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw kerr('Integrity', `${path} is not a kiseki tenant key file (bad header or truncated)`);
  }
  const sodium = await loadSodium();
  let plain: Uint8Array;
  try {
    plain = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, file.subarray(MAGIC.length + NONCE), MAGIC,
      file.subarray(MAGIC.length, MAGIC.length + NONCE), wrapKey);
  } catch (err) {
    throw kerr('Integrity', `${path} does not open under the wrap key: wrong wrap key file, or the key file ` +
      'was modified', err);
  }
  try {
    return FetchTenantKeysResponse.decode(plain); // bytes fields are copies (Buffer.from)
  } finally {
    sodium.memzero(plain);
  }
}

// Sealing chunks into Kiseki's Envelope and opening them again (DESIGN D2, brief §3.4):
//   chunk_id = SHA-256(pt) or HMAC-SHA256(index key, pt); dek = HKDF-SHA256(KEK[epoch], salt = chunk_id,
//   info); AES-256-GCM(dek, fresh random 12-byte nonce, AAD = chunk_id). The tag and nonce travel in
//   their own fields; system_epoch carries the tenant KEK epoch (ADR 0011).
// Every failure to open is a KisekiError 'Integrity' (EIO) and never returns plaintext.
import { randomFillSync } from 'node:crypto';
import { kerr } from '../errors.js';
import { EncryptionAlgorithm, type Envelope } from '../gen/kiseki/v1/chunk.js';
import {
  CHUNK_DEK_INFO, ID_BYTES, NONCE_BYTES, TAG_BYTES,
  type CryptoBackend, type IdCheck, type IdSource, type OpenRequest, type OpenResult, type Sealed,
} from './crypto-backend.js';
import { idDigestFor } from './chunk-id.js';
import { defaultBackend } from './crypto-select.js';
import type { TenantKeyring } from './keyring.js';

/** Kiseki's fabric cap on one envelope's ciphertext (brief §3.9). */
export const MAX_ENVELOPE_CIPHERTEXT = 256 * 1024 * 1024;

export interface SealOptions {
  backend?: CryptoBackend;
  /** Ciphertext destination of exactly plaintext.length bytes (e.g. a reused transfer buffer). */
  output?: Buffer;
}

export interface OpenOptions {
  backend?: CryptoBackend;
  /** Plaintext destination of exactly ciphertext.length bytes (e.g. a cache slot); zeroed on failure. */
  output?: Buffer;
  /** Re-hash the plaintext and compare it with the chunk id (I-CC1). */
  verifyContent?: boolean;
}

/** The shared core of chunk and metadata sealing. I-K2: only ciphertext leaves through the envelope. */
export async function sealEnvelope(keyring: TenantKeyring, plaintext: Buffer, id: IdSource, info: Buffer,
  backend: CryptoBackend, output?: Buffer): Promise<{ chunkId: Buffer; envelope: Envelope }> {
  if (!Buffer.isBuffer(plaintext)) throw kerr('InvalidArgument', 'plaintext to seal must be a Buffer');
  checkOutput(output, plaintext.length, 'ciphertext');
  const epoch = keyring.currentEpoch;
  const nonce = randomFillSync(Buffer.allocUnsafe(NONCE_BYTES));
  const sealed = await backend.seal({ plaintext, id, info, kek: keyring.kek(epoch), nonce, output })
    .catch((err: unknown) => { throw keyring.wipedError() ?? kerr('Internal', `sealing failed in the ${backend.name} crypto backend`, err); });
  // A wipe while the seal ran may have zeroed the KEK under it: discard that result.
  const wiped = keyring.wipedError();
  if (wiped !== null) throw wiped;
  return { chunkId: sealed.chunkId, envelope: toEnvelope(sealed, nonce, epoch) };
}

function toEnvelope(sealed: Sealed, nonce: Buffer, epoch: number): Envelope {
  return {
    ciphertext: sealed.ciphertext,
    authTag: sealed.tag,
    nonce,
    algorithm: EncryptionAlgorithm.ENCRYPTION_ALGORITHM_AES_256_GCM,
    systemEpoch: { value: epoch },
    tenantEpoch: undefined,
    tenantWrappedMaterial: Buffer.alloc(0),
    chunkId: { value: sealed.chunkId },
  };
}

/** The shared core of chunk and metadata opening; `what` names the object in error messages. */
export async function openEnvelope(keyring: TenantKeyring, envelope: Envelope, expectedId: Buffer, check: IdCheck,
  info: Buffer, backend: CryptoBackend, what: string, output?: Buffer): Promise<Buffer> {
  if (expectedId.length !== ID_BYTES) {
    throw kerr('InvalidArgument', `expected ${what} id must be ${ID_BYTES} bytes, got ${expectedId.length}`);
  }
  const label = `${what} ${expectedId.toString('hex')}`;
  const problem = envelopeProblem(envelope, expectedId);
  if (problem !== null) throw kerr('Integrity', `${label} cannot be opened: ${problem}`);
  checkOutput(output, envelope.ciphertext.length, 'plaintext');
  const epoch = envelope.systemEpoch!.value;
  const result = await backend.open({
    ciphertext: envelope.ciphertext, chunkId: expectedId, kek: keyring.kek(epoch), info,
    nonce: envelope.nonce, tag: envelope.authTag, check, output,
  }).catch((err: unknown) => {
    throw keyring.wipedError() ?? kerr('Internal', `opening ${label} failed in the ${backend.name} crypto backend`, err);
  });
  const wiped = keyring.wipedError();
  if (wiped !== null) {
    if (result.kind === 'ok') backend.zero(result.plaintext);
    throw wiped;
  }
  if (result.kind === 'ok') return result.plaintext;
  throw openFailure(result, label, epoch);
}

/** The Integrity (or Internal) error of an open that did not succeed. */
function openFailure(result: Exclude<OpenResult, { kind: 'ok' }>, label: string, epoch: number): Error {
  switch (result.kind) {
    case 'auth-failed':
      return kerr('Integrity', `${label} failed authentication under key epoch ${epoch}: the envelope was ` +
        'tampered with, truncated, or sealed under another key');
    case 'id-mismatch':
      return kerr('Integrity', `${label} decrypted to content whose id differs: the chunk was sealed under a ` +
        'wrong id (I-CC1); refetch it from another replica');
    case 'error':
      return kerr('Internal', `opening ${label} failed in OpenSSL`);
    default: {
      const never: never = result;
      return kerr('Internal', `unexpected open result ${String(never)}`);
    }
  }
}

function checkOutput(output: Buffer | undefined, length: number, what: string): void {
  if (output !== undefined && output.length !== length) {
    throw kerr('InvalidArgument', `${what} output buffer is ${output.length} bytes; it must be exactly ${length}`);
  }
}

/** Structural checks before any cryptography; null when the envelope is well formed. */
export function envelopeProblem(e: Envelope, expectedId: Buffer): string | null {
  if (e.algorithm !== EncryptionAlgorithm.ENCRYPTION_ALGORITHM_AES_256_GCM) {
    return `unknown encryption algorithm id ${e.algorithm} (this client knows 1 = AES-256-GCM)`;
  }
  const id = e.chunkId?.value;
  if (id === undefined || id.length !== ID_BYTES) return `chunk_id is ${id?.length ?? 0} bytes, not ${ID_BYTES}`;
  if (!id.equals(expectedId)) return `envelope names chunk ${id.toString('hex')} instead`;
  if (e.nonce.length !== NONCE_BYTES) return `nonce is ${e.nonce.length} bytes, not ${NONCE_BYTES}`;
  if (e.authTag.length !== TAG_BYTES) return `auth_tag is ${e.authTag.length} bytes, not ${TAG_BYTES}`;
  if (e.systemEpoch === undefined) return 'system_epoch (the key epoch) is missing';
  if (e.ciphertext.length > MAX_ENVELOPE_CIPHERTEXT) return `ciphertext of ${e.ciphertext.length} bytes exceeds the 256 MiB cap`;
  return null;
}

/**
 * Seals one chunk under the keyring's current epoch; the id follows the tenant's dedup policy.
 * `plaintext` must not change until the promise settles: the native path hashes and encrypts it in
 * place on another thread, and a change in between would seal content under another content's id.
 */
export async function sealChunk(keyring: TenantKeyring, plaintext: Buffer,
  opts?: SealOptions): Promise<{ chunkId: Buffer; envelope: Envelope }> {
  const backend = opts?.backend ?? await defaultBackend();
  const digest = idDigestFor(keyring.dedupPolicy, keyring.indexKey);
  return sealEnvelope(keyring, plaintext, digest, CHUNK_DEK_INFO, backend, opts?.output);
}

/**
 * Opens one chunk fetched under `expectedChunkId`; throws Integrity (EIO) on any mismatch or tampering.
 * Pass `verifyContent: true` wherever the content was not produced by this client (I-CC1).
 */
export async function openChunk(keyring: TenantKeyring, envelope: Envelope, expectedChunkId: Buffer,
  opts?: OpenOptions): Promise<Buffer> {
  const backend = opts?.backend ?? await defaultBackend();
  const check: IdCheck = opts?.verifyContent === true
    ? idDigestFor(keyring.dedupPolicy, keyring.indexKey) : { kind: 'none' };
  return openEnvelope(keyring, envelope, expectedChunkId, check, CHUNK_DEK_INFO, backend, 'chunk', opts?.output);
}

/**
 * Seals several chunks under the current epoch in one native job where the backend can (ADR 0014;
 * one seal at a time otherwise): results in order, all or nothing. `outputs[i]`, when given, must be
 * exactly plaintexts[i].length bytes and overlap no other plaintext or output. The plaintexts must not
 * change until the promise settles (see sealChunk).
 */
export async function sealChunks(keyring: TenantKeyring, plaintexts: readonly Buffer[],
  opts?: { backend?: CryptoBackend; outputs?: ReadonlyArray<Buffer | undefined> }): Promise<Array<{ chunkId: Buffer; envelope: Envelope }>> {
  const backend = opts?.backend ?? await defaultBackend();
  const id = idDigestFor(keyring.dedupPolicy, keyring.indexKey);
  const outputs = opts?.outputs;
  if (outputs !== undefined && outputs.length !== plaintexts.length) {
    throw kerr('InvalidArgument', `sealChunks: ${outputs.length} outputs for ${plaintexts.length} plaintexts`);
  }
  const many = backend.sealMany?.bind(backend);
  if (many === undefined) {
    return Promise.all(plaintexts.map((p, i) => sealEnvelope(keyring, p, id, CHUNK_DEK_INFO, backend, outputs?.[i])));
  }
  plaintexts.forEach((p, i) => {
    if (!Buffer.isBuffer(p)) throw kerr('InvalidArgument', `plaintext ${i} to seal must be a Buffer`);
    checkOutput(outputs?.[i], p.length, `ciphertext ${i}`);
  });
  const epoch = keyring.currentEpoch;
  const kek = keyring.kek(epoch);
  const nonces = randomFillSync(Buffer.allocUnsafe(plaintexts.length * NONCE_BYTES));
  const reqs = plaintexts.map((plaintext, i) => ({
    plaintext, id, info: CHUNK_DEK_INFO, kek, nonce: nonces.subarray(i * NONCE_BYTES, (i + 1) * NONCE_BYTES), output: outputs?.[i],
  }));
  const sealed = await many(reqs).catch((err: unknown) => {
    throw keyring.wipedError() ?? kerr('Internal', `sealing a batch of ${reqs.length} chunks failed in the ${backend.name} crypto backend`, err);
  });
  const wiped = keyring.wipedError();
  if (wiped !== null) throw wiped;
  return sealed.map((s, i) => ({ chunkId: s.chunkId, envelope: toEnvelope(s, reqs[i]!.nonce, epoch) }));
}

/**
 * Opens several chunks in one native job where the backend can (one open at a time otherwise).
 * One result per item, in order: the plaintext, or the error openChunk would have thrown for it
 * (Integrity on tampering, I-CC1 mismatch or a malformed envelope); a failed chunk never yields
 * plaintext and its `output` is zeroed. Throws only for what concerns the whole batch (a wipe).
 */
export async function openChunks(keyring: TenantKeyring,
  items: ReadonlyArray<{ envelope: Envelope; chunkId: Buffer; output?: Buffer }>,
  opts?: { backend?: CryptoBackend; verifyContent?: boolean }): Promise<Array<Buffer | Error>> {
  const backend = opts?.backend ?? await defaultBackend();
  const check: IdCheck = opts?.verifyContent === true
    ? idDigestFor(keyring.dedupPolicy, keyring.indexKey) : { kind: 'none' };
  const many = backend.openMany?.bind(backend);
  if (many === undefined) {
    return Promise.all(items.map((it) => openEnvelope(keyring, it.envelope, it.chunkId, check, CHUNK_DEK_INFO, backend, 'chunk', it.output)
      .catch((err: unknown) => err as Error)));
  }
  const out = new Array<Buffer | Error>(items.length);
  const reqs: OpenRequest[] = [];
  const at: number[] = [];
  items.forEach((it, i) => {
    const label = `chunk ${it.chunkId.toString('hex')}`;
    const e = it.envelope;
    if (it.chunkId.length !== ID_BYTES) {
      out[i] = kerr('InvalidArgument', `expected chunk id must be ${ID_BYTES} bytes, got ${it.chunkId.length}`);
      return;
    }
    const problem = envelopeProblem(e, it.chunkId);
    if (problem !== null) {
      out[i] = kerr('Integrity', `${label} cannot be opened: ${problem}`);
      return;
    }
    try {
      checkOutput(it.output, e.ciphertext.length, `${label}'s plaintext`);
      reqs.push({
        ciphertext: e.ciphertext, chunkId: it.chunkId, kek: keyring.kek(e.systemEpoch!.value), info: CHUNK_DEK_INFO,
        nonce: e.nonce, tag: e.authTag, check, output: it.output,
      });
      at.push(i);
    } catch (err) {
      out[i] = err as Error; // a wrong-sized output, or an epoch the keyring does not hold
    }
  });
  const results = reqs.length === 0 ? [] : await many(reqs).catch((err: unknown) => {
    throw keyring.wipedError() ?? kerr('Internal', `opening a batch of ${reqs.length} chunks failed in the ${backend.name} crypto backend`, err);
  });
  const wiped = keyring.wipedError();
  if (wiped !== null) {
    for (const r of results) if (r.kind === 'ok') backend.zero(r.plaintext);
    throw wiped;
  }
  results.forEach((r, j) => {
    const i = at[j]!;
    out[i] = r.kind === 'ok' ? r.plaintext
      : openFailure(r, `chunk ${items[i]!.chunkId.toString('hex')}`, items[i]!.envelope.systemEpoch!.value);
  });
  return out;
}

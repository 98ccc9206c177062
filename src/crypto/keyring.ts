// A tenant's key material in client memory (DESIGN D2): one 32-byte KEK per epoch, the current epoch
// for new writes, and the index key (name keys, and chunk ids of dedup-isolated tenants).
//
//   live ──wipe()──▶ wiped      (terminal: every accessor throws; crypto-shred and unmount)
//
// All keys share one key-memory slab from the backend (mlock'ed and out of core dumps with the native
// backend), so wipe() is one zeroing of one region.
import { kerr, type ErrorKind } from '../errors.js';
import { DedupPolicy } from '../gen/kiseki/v1/common.js';
import type { FetchTenantKeysResponse } from '../gen/kiseki/v1/tenant_keys.js';
import { KEY_BYTES, type CryptoBackend } from './crypto-backend.js';
import { defaultBackend } from './crypto-select.js';

type WipeReason = Extract<ErrorKind, 'Closed' | 'KeyDestroyed'>;
type KeyringState = { kind: 'live' } | { kind: 'wiped'; reason: WipeReason };

export class TenantKeyring {
  readonly tenantId: string;
  readonly dedupPolicy: DedupPolicy;
  readonly currentEpoch: number;
  /** Whether the key memory is locked against swapping (best effort, native backend only). */
  readonly memoryLocked: boolean;
  readonly #backend: CryptoBackend;
  readonly #slab: Buffer;
  readonly #keks: Map<number, Buffer>;
  readonly #indexKey: Buffer;
  #state: KeyringState = { kind: 'live' };

  private constructor(resp: FetchTenantKeysResponse, backend: CryptoBackend) {
    const epochs = resp.keks.map((k) => k.epoch?.value);
    const current = resp.currentEpoch?.value;
    const problem = validate(resp, epochs, current);
    if (problem !== null) throw kerr('InvalidArgument', `tenant key response rejected: ${problem}`);
    this.tenantId = resp.tenantId?.value ?? '';
    this.dedupPolicy = resp.dedupPolicy === DedupPolicy.DEDUP_POLICY_UNSPECIFIED
      ? DedupPolicy.DEDUP_POLICY_CROSS_TENANT : resp.dedupPolicy;
    this.currentEpoch = current as number;
    this.#backend = backend;
    const mem = backend.allocKeyMemory((resp.keks.length + 1) * KEY_BYTES);
    this.#slab = mem.buffer;
    this.memoryLocked = mem.locked;
    this.#keks = new Map();
    resp.keks.forEach((k, i) => {
      const slot = this.#slab.subarray(i * KEY_BYTES, (i + 1) * KEY_BYTES);
      k.kek.copy(slot);
      backend.zero(k.kek);
      this.#keks.set(k.epoch!.value, slot);
    });
    this.#indexKey = this.#slab.subarray(resp.keks.length * KEY_BYTES);
    resp.indexKey.copy(this.#indexKey);
    backend.zero(resp.indexKey);
  }

  /** Takes the keys out of a FetchTenantKeysResponse and zeroes them there (the response is consumed). */
  static fromResponse(resp: FetchTenantKeysResponse, backend: CryptoBackend): TenantKeyring {
    return new TenantKeyring(resp, backend);
  }

  /** fromResponse with the process-wide backend (crypto-select.ts). */
  static async create(resp: FetchTenantKeysResponse): Promise<TenantKeyring> {
    return new TenantKeyring(resp, await defaultBackend());
  }

  get wiped(): boolean {
    return this.#state.kind === 'wiped';
  }

  /** Epochs held, newest first. */
  get epochs(): number[] {
    this.#assertLive();
    return [...this.#keks.keys()].sort((a, b) => b - a);
  }

  has(epoch: number): boolean {
    return this.#state.kind === 'live' && this.#keks.has(epoch);
  }

  /** The KEK of `epoch`. Reads open any epoch held; an epoch not held is a clear Unavailable error. */
  kek(epoch: number): Buffer {
    this.#assertLive();
    const kek = this.#keks.get(epoch);
    if (kek === undefined) {
      throw kerr('Unavailable', `key epoch ${epoch} is not in tenant ${this.tenantId || '(local)'}'s keyring ` +
        `(held: ${this.epochs.join(', ')}): refresh the tenant keys (FetchTenantKeys); if the epoch was retired, ` +
        'an admin must re-encrypt the data');
    }
    return kek;
  }

  get indexKey(): Buffer {
    this.#assertLive();
    return this.#indexKey;
  }

  /** The error every use after wipe() throws; null while live. */
  wipedError(): Error | null {
    return this.#state.kind === 'live' ? null
      : kerr(this.#state.reason, `tenant keyring was wiped (${this.#state.reason === 'KeyDestroyed'
        ? 'the tenant KEK was destroyed: crypto-shred' : 'session closed'}); no key material is held`);
  }

  /** Zeroes every key; idempotent. `reason` picks the error later uses see. */
  wipe(reason: WipeReason = 'Closed'): void {
    if (this.#state.kind === 'wiped') return;
    this.#backend.zero(this.#slab);
    this.#keks.clear();
    this.#state = { kind: 'wiped', reason };
  }

  #assertLive(): void {
    const err = this.wipedError();
    if (err !== null) throw err;
  }
}

function validate(resp: FetchTenantKeysResponse, epochs: (number | undefined)[], current: number | undefined): string | null {
  if (resp.keks.length === 0) return 'no KEK epochs';
  if (epochs.some((e) => e === undefined || !Number.isSafeInteger(e) || e < 0)) return 'a KEK without a valid epoch';
  if (new Set(epochs).size !== epochs.length) return 'duplicate KEK epochs';
  const short = resp.keks.find((k) => k.kek.length !== KEY_BYTES);
  if (short !== undefined) return `KEK of epoch ${short.epoch?.value} is ${short.kek.length} bytes, not ${KEY_BYTES}`;
  if (resp.indexKey.length !== KEY_BYTES) return `index key is ${resp.indexKey.length} bytes, not ${KEY_BYTES}`;
  if (current === undefined || !epochs.includes(current)) return `current epoch ${current} has no KEK`;
  if (current !== Math.max(...(epochs as number[]))) return `current epoch ${current} is not the newest held`;
  return null;
}

// TenantKeyring validation and key hygiene, chunk-size validation and chunk geometry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  chunkCount, chunkRange, chunksTouching, DEFAULT_CHUNK_SIZE, splitChunks, validateChunkSize,
} from '../../src/crypto/chunker.js';
import { TenantKeyring } from '../../src/crypto/keyring.js';
import { KisekiError } from '../../src/errors.js';
import { DedupPolicy } from '../../src/gen/kiseki/v1/common.js';
import { bothBackends, keyResponse } from './crypto-fixtures.js';

const MiB = 1024 * 1024;
const isInvalid = (e: unknown): boolean => KisekiError.is(e, 'InvalidArgument');

test('keyring takes the keys out of the response and zeroes them there', async () => {
  for (const b of await bothBackends()) {
    const k1 = randomBytes(32);
    const resp = keyResponse({ keks: [{ epoch: 1, kek: Buffer.from(k1) }], indexKey: Buffer.alloc(32, 7) });
    const ring = TenantKeyring.fromResponse(resp, b);
    assert.ok(ring.kek(1).equals(k1), b.name);
    assert.ok(ring.indexKey.equals(Buffer.alloc(32, 7)), b.name);
    assert.ok(resp.keks[0]!.kek.equals(Buffer.alloc(32)), `${b.name}: response KEK not zeroed`);
    assert.ok(resp.indexKey.equals(Buffer.alloc(32)), `${b.name}: response index key not zeroed`);
    assert.equal(ring.dedupPolicy, DedupPolicy.DEDUP_POLICY_CROSS_TENANT);
  }
});

test('keyring key memory is locked against swapping with the native backend (running as root)', async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('mlock limits apply to non-root users; the keyring reports memoryLocked = false there');
    return;
  }
  const [native, portable] = await bothBackends();
  assert.equal(TenantKeyring.fromResponse(keyResponse({ keks: [{ epoch: 1, kek: randomBytes(32) }] }), native!).memoryLocked, true);
  assert.equal(TenantKeyring.fromResponse(keyResponse({ keks: [{ epoch: 1, kek: randomBytes(32) }] }), portable!).memoryLocked, false);
});

test('keyring rejects malformed key responses with InvalidArgument', async () => {
  const [b] = await bothBackends();
  const good = randomBytes(32);
  const bad = [
    keyResponse({ keks: [{ epoch: 1, kek: randomBytes(31) }] }),
    keyResponse({ keks: [{ epoch: 1, kek: good }], indexKey: randomBytes(16) }),
    keyResponse({ keks: [{ epoch: 1, kek: good }, { epoch: 1, kek: good }] }),
    keyResponse({ keks: [{ epoch: 1, kek: good }], current: 2 }),
    keyResponse({ keks: [{ epoch: 2, kek: good }, { epoch: 1, kek: good }], current: 1 }),
    { ...keyResponse({ keks: [{ epoch: 1, kek: good }] }), keks: [] },
  ];
  for (const resp of bad) assert.throws(() => TenantKeyring.fromResponse(resp, b!), isInvalid);
  // Dedup-isolated tenants without a usable index key are caught by the same 32-byte rule.
  assert.throws(() => TenantKeyring.fromResponse(keyResponse({ keks: [{ epoch: 1, kek: good }], indexKey: Buffer.alloc(0),
    dedup: DedupPolicy.DEDUP_POLICY_TENANT_ISOLATED }), b!), isInvalid);
});

test('chunk_size accepts whole 4 KiB pages within 1–64 MiB and rejects everything else', () => {
  for (const ok of [MiB, DEFAULT_CHUNK_SIZE, 64 * MiB, MiB + 4096]) assert.equal(validateChunkSize(ok), ok);
  for (const bad of [0, -4 * MiB, MiB - 4096, 64 * MiB + 4096, MiB + 1, 1.5, NaN, Infinity]) {
    assert.throws(() => validateChunkSize(bad), (e: unknown) => isInvalid(e) && /1 MiB.*64 MiB/.test((e as Error).message));
  }
  assert.equal(DEFAULT_CHUNK_SIZE, 4 * MiB);
});

test('chunk geometry: empty file has no chunks, the last chunk is shorter, ranges map to chunk indexes', () => {
  assert.equal(chunkCount(0, MiB), 0);
  assert.equal(chunkCount(1, MiB), 1);
  assert.equal(chunkCount(MiB, MiB), 1);
  assert.equal(chunkCount(MiB + 1, MiB), 2);
  assert.deepEqual(chunkRange(1, MiB + 1, MiB), { offset: MiB, length: 1 });
  assert.throws(() => chunkRange(2, MiB + 1, MiB), isInvalid);
  assert.equal(chunksTouching(5, 0, MiB), null);
  assert.deepEqual(chunksTouching(MiB - 1, 2, MiB), { first: 0, last: 1 });
  assert.deepEqual(chunksTouching(MiB, MiB, MiB), { first: 1, last: 1 });
  const data = randomBytes(3 * MiB + 5);
  const parts = splitChunks(data, MiB);
  assert.deepEqual(parts.map((p) => p.length), [MiB, MiB, MiB, 5]);
  assert.equal(parts[1]!.buffer, data.buffer, 'chunks must be views, not copies');
  assert.ok(Buffer.concat(parts).equals(data));
  assert.deepEqual(splitChunks(Buffer.alloc(0), MiB), []);
});

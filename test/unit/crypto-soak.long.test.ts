// Reliability tier (npm run test:reliability): the round trip at every chunk size the option allows
// at its edges and the default, across backends, many runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, DEFAULT_CHUNK_SIZE, splitChunks } from '../../src/crypto/chunker.js';
import { openChunk, sealChunk } from '../../src/crypto/envelope.js';
import { DedupPolicy } from '../../src/gen/kiseki/v1/common.js';
import { Envelope } from '../../src/gen/kiseki/v1/chunk.js';
import { bothBackends, keyring } from './crypto-fixtures.js';

test('soak: files around 1, 4 and 64 MiB chunk sizes round-trip across backends with content verification', async () => {
  const [native, portable] = await bothBackends();
  const kek = randomBytes(32);
  const indexKey = randomBytes(32);
  for (const dedup of [DedupPolicy.DEDUP_POLICY_CROSS_TENANT, DedupPolicy.DEDUP_POLICY_TENANT_ISOLATED]) {
    const spec = { keks: [{ epoch: 1, kek }], indexKey, dedup };
    const sealer = keyring(native!, { ...spec, indexKey: Buffer.from(indexKey), keks: [{ epoch: 1, kek: Buffer.from(kek) }] });
    const opener = keyring(portable!, { ...spec, indexKey: Buffer.from(indexKey), keks: [{ epoch: 1, kek: Buffer.from(kek) }] });
    for (const chunkSize of [MIN_CHUNK_SIZE, DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE]) {
      const sizes = fc.oneof(
        fc.constantFrom(0, 1, chunkSize - 1, chunkSize, chunkSize + 1),
        fc.integer({ min: 0, max: 2 * chunkSize + 3 }),
      );
      await fc.assert(fc.asyncProperty(sizes, async (size) => {
        const file = randomBytes(size);
        for (const c of splitChunks(file, chunkSize)) {
          const { chunkId, envelope } = await sealChunk(sealer, c, { backend: native });
          const back = Envelope.decode(Envelope.encode(envelope).finish());
          assert.ok((await openChunk(opener, back, chunkId, { backend: portable, verifyContent: true })).equals(c));
        }
      }), { numRuns: chunkSize === MAX_CHUNK_SIZE ? 6 : 30 });
    }
  }
});

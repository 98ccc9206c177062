// Staging manifests: strict validation (InvalidArgument naming file and field), injective names,
// atomic 0600 writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listManifests, manifestName, parseManifest, readManifest, writeManifest, type StagingManifest } from '../../src/cache/staging-manifest.js';
import { normalizeDatasetPath } from '../../src/client/stager.js';

const id = (c: string) => c.repeat(64);
const good = (): StagingManifest => ({
  version: 1, namespace: 'default', namespace_path: '/training/imagenet', snapshot_time: '2026-11-21T05:00:00.000Z',
  compositions: [{ path: '/training/imagenet/a', ino: 5, size: 10, generation: 2, chunk_ids: [id('a')] }],
  chunk_ids: [id('a'), id('b')], bytes: 20,
});

test('manifest names follow Kiseki (/ → _) and never collide', () => {
  assert.equal(manifestName('/training/imagenet'), '_training_imagenet.manifest');
  assert.notEqual(manifestName('/a_b'), manifestName('/a/b'));
  assert.notEqual(manifestName('/a%5Fb'), manifestName('/a_b'));
});

test('malformed manifests are rejected with the file and the field named', () => {
  const cases: [(m: Record<string, unknown>) => void, RegExp][] = [
    [(m) => { m.version = 2; }, /field version must be 1/],
    [(m) => { delete m.namespace_path; }, /field namespace_path must be an absolute path/],
    [(m) => { m.snapshot_time = 'yesterday'; }, /field snapshot_time must be an ISO 8601 time/],
    [(m) => { m.bytes = -1; }, /field bytes must be a non-negative integer/],
    [(m) => { m.chunk_ids = [id('a'), 'ABC']; }, /field chunk_ids\[1\] must be 64 lowercase hex digits/],
    [(m) => { (m.compositions as Record<string, unknown>[])[0]!.ino = 'x'; }, /field compositions\[0\]\.ino must be/],
    [(m) => { (m.compositions as Record<string, unknown>[])[0]!.chunk_ids = [id('c')]; }, /field compositions\[0\]\.chunk_ids must be a subset of chunk_ids/],
    [(m) => { m.compositions = {}; }, /field compositions must be an array/],
  ];
  for (const [mutate, want] of cases) {
    const m = good() as unknown as Record<string, unknown>;
    mutate(m);
    assert.throws(() => parseManifest(JSON.stringify(m), '/pool/staging/x.manifest'), (err: Error & { code?: string }) =>
      err.code === 'KSK_ERR_INVALID_ARGUMENT' && err.message.startsWith('staging manifest /pool/staging/x.manifest: ') && want.test(err.message), String(want));
  }
  assert.throws(() => parseManifest('{"version":', 'f.manifest'), /staging manifest f.manifest is not valid JSON/);
  assert.throws(() => parseManifest('[]', 'f.manifest'), /field \(root\) must be a JSON object/);
  assert.deepEqual(parseManifest(JSON.stringify(good()), 'f'), good());
});

test('manifests are written atomically, 0600, and read back; a foreign file name is refused', async () => {
  const pool = await mkdtemp(join(tmpdir(), 'kiseki-manifest-'));
  try {
    await mkdir(join(pool, 'staging'));
    const file = await writeManifest(pool, good());
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(join(pool, 'staging')), ['_training_imagenet.manifest']);
    assert.deepEqual(await readManifest(pool, '/training/imagenet'), good());
    assert.equal(await readManifest(pool, '/other'), null);
    await writeFile(join(pool, 'staging', '_elsewhere.manifest'), JSON.stringify(good()));
    await assert.rejects(listManifests(pool), /does not belong to this file name/);
  } finally {
    await rm(pool, { recursive: true, force: true });
  }
});

test('dataset paths: absolute, normalised, no . or ..', () => {
  assert.equal(normalizeDatasetPath('/a//b/'), '/a/b');
  assert.equal(normalizeDatasetPath('/'), '/');
  assert.throws(() => normalizeDatasetPath('a/b'), /absolute/);
  assert.throws(() => normalizeDatasetPath('/a/../b'), /'\.' or '\.\.'/);
});

// What a staged dataset looks like on disk: <pool>/staging/<name>.manifest, one JSON document per
// dataset (brief §5.4, extended with the compositions Kiseki's spec asks for and a format version).
//
//   { "version": 1, "namespace": "default", "namespace_path": "/training/imagenet",
//     "snapshot_time": "2026-11-21T05:00:00.000Z",
//     "compositions": [{ "path": "/training/imagenet/a.jpg", "ino": 12, "size": 4096000, "generation": 3,
//                        "chunk_ids": ["<64 hex>", …] }, …],
//     "chunk_ids": ["<64 hex>", …],   every distinct chunk of the dataset, in first-use order
//     "bytes": 4096000 }              plaintext bytes of those chunks
//
// A manifest is written only after every one of its chunks is pinned in the pool, atomically (tmp +
// rename, 0600). Loading is strict: anything malformed is InvalidArgument naming the file and field,
// never silently repaired (Kiseki dropped bad chunk ids without a word).
import { randomBytes } from 'node:crypto';
import { readFile, readdir, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { kerr, KisekiError } from '../errors.js';
import { CHUNK_ID_RE, FILE_MODE, STAGING_DIR } from './pool-layout.js';

export const MANIFEST_VERSION = 1;
export const MANIFEST_SUFFIX = '.manifest';
/** Manifests are small; anything bigger is not one of ours. 100,000 files × a few chunk ids fit. */
const MAX_MANIFEST_BYTES = 256 * 1024 * 1024;

export interface StagedComposition {
  path: string;
  ino: number;
  size: number;
  generation: number;
  chunk_ids: string[];
}

export interface StagingManifest {
  version: number;
  namespace: string;
  namespace_path: string;
  snapshot_time: string;
  compositions: StagedComposition[];
  chunk_ids: string[];
  bytes: number;
}

/**
 * The file name of a dataset's manifest: Kiseki's rule ('/' → '_'), made injective by escaping '%'
 * and '_' first, so '/a_b' and '/a/b' never share a manifest.
 */
export function manifestName(namespacePath: string): string {
  return `${namespacePath.replace(/%/g, '%25').replace(/_/g, '%5F').replace(/\//g, '_')}${MANIFEST_SUFFIX}`;
}

export function manifestPath(poolDir: string, namespacePath: string): string {
  return join(poolDir, STAGING_DIR, manifestName(namespacePath));
}

/** Atomic write, 0600: a reader sees the old manifest or the new one, never half of one. */
export async function writeManifest(poolDir: string, m: StagingManifest): Promise<string> {
  validateManifest(m, '(manifest being written)');
  const final = manifestPath(poolDir, m.namespace_path);
  const tmp = join(poolDir, STAGING_DIR, `.tmp-${randomBytes(6).toString('hex')}`);
  await writeFile(tmp, `${JSON.stringify(m, null, 2)}\n`, { mode: FILE_MODE, flag: 'wx' });
  try {
    await rename(tmp, final);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  return final;
}

/** The manifest of one dataset, or null when the pool has none for it. Malformed → InvalidArgument. */
export async function readManifest(poolDir: string, namespacePath: string): Promise<StagingManifest | null> {
  const file = manifestPath(poolDir, namespacePath);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const m = parseManifest(text, file);
  if (m.namespace_path !== namespacePath) throw kerr('InvalidArgument', `staging manifest ${file}: field namespace_path is ${JSON.stringify(m.namespace_path)}, but the file name says ${JSON.stringify(namespacePath)}`);
  return m;
}

/** Every manifest of a pool, by file. A missing staging/ directory means none. */
export async function listManifests(poolDir: string): Promise<{ file: string; manifest: StagingManifest }[]> {
  const dir = join(poolDir, STAGING_DIR);
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith(MANIFEST_SUFFIX)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: { file: string; manifest: StagingManifest }[] = [];
  for (const name of names) {
    const file = join(dir, name);
    const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null; // released meanwhile
      throw err;
    });
    if (text === null) continue;
    const manifest = parseManifest(text, file);
    if (manifestName(manifest.namespace_path) !== name) {
      throw kerr('InvalidArgument', `staging manifest ${file}: field namespace_path ${JSON.stringify(manifest.namespace_path)} does not belong to this file name`);
    }
    out.push({ file, manifest });
  }
  return out;
}

/** Deletes a dataset's manifest; false when there was none. */
export async function removeManifest(poolDir: string, namespacePath: string): Promise<boolean> {
  try {
    await unlink(manifestPath(poolDir, namespacePath));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

export function parseManifest(text: string, file: string): StagingManifest {
  if (text.length > MAX_MANIFEST_BYTES) throw kerr('InvalidArgument', `staging manifest ${file} is larger than ${MAX_MANIFEST_BYTES} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw kerr('InvalidArgument', `staging manifest ${file} is not valid JSON (${(err as Error).message}); release the dataset and stage it again`);
  }
  validateManifest(value, file);
  return value;
}

function validateManifest(v: unknown, file: string): asserts v is StagingManifest {
  const bad = (field: string, want: string): KisekiError =>
    kerr('InvalidArgument', `staging manifest ${file}: field ${field} must be ${want}; release the dataset and stage it again`);
  if (!isObject(v)) throw bad('(root)', 'a JSON object');
  if (v.version !== MANIFEST_VERSION) throw bad('version', `${MANIFEST_VERSION} (this client reads version ${MANIFEST_VERSION} only), got ${JSON.stringify(v.version)}`);
  if (typeof v.namespace !== 'string' || v.namespace === '') throw bad('namespace', 'a non-empty string');
  if (!isNamespacePath(v.namespace_path)) throw bad('namespace_path', 'an absolute path');
  if (typeof v.snapshot_time !== 'string' || Number.isNaN(Date.parse(v.snapshot_time))) throw bad('snapshot_time', 'an ISO 8601 time');
  if (!isCount(v.bytes)) throw bad('bytes', 'a non-negative integer');
  checkIds(v.chunk_ids, 'chunk_ids', bad);
  if (!Array.isArray(v.compositions)) throw bad('compositions', 'an array');
  const known = new Set(v.chunk_ids as string[]);
  (v.compositions as unknown[]).forEach((c, i) => {
    const at = `compositions[${i}]`;
    if (!isObject(c)) throw bad(at, 'an object');
    if (!isNamespacePath(c.path)) throw bad(`${at}.path`, 'an absolute path');
    for (const k of ['ino', 'size', 'generation'] as const) if (!isCount(c[k])) throw bad(`${at}.${k}`, 'a non-negative integer');
    checkIds(c.chunk_ids, `${at}.chunk_ids`, bad);
    for (const id of c.chunk_ids as string[]) if (!known.has(id)) throw bad(`${at}.chunk_ids`, `a subset of chunk_ids (${id.slice(0, 16)}… is missing there)`);
  });
}

function checkIds(ids: unknown, field: string, bad: (field: string, want: string) => KisekiError): void {
  if (!Array.isArray(ids)) throw bad(field, 'an array of chunk ids');
  ids.forEach((id, i) => {
    if (typeof id !== 'string' || !CHUNK_ID_RE.test(id)) throw bad(`${field}[${i}]`, `64 lowercase hex digits, got ${JSON.stringify(id)?.slice(0, 80)}`);
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isNamespacePath(v: unknown): v is string {
  return typeof v === 'string' && v.startsWith('/') && !v.includes('\0');
}

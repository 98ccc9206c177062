// ReadDirPlus page decoding (tinybench): the client's decoder (src/client/readdir-wire.ts) against the
// generated ts-proto decoder and, with BENCH_BEFORE_ROOT=<another built checkout>, that checkout's
// decoder, on pages shaped like kiseki-node's (32-byte keys and cookies, sealed names with epochs,
// full attributes), in the same run. Prints entries/s and ratios.
//   node dist/bench/readdir-wire.bench.js
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { decodeReadDirPlus } from '../src/client/readdir-wire.js';
import { FileKind, ReadDirPlusResponse, type DirEntry } from '../src/gen/kiseki/v1/namespace.js';

const PAGE = Number(process.env.BENCH_PAGE ?? 4096);

function page(n: number): Buffer {
  const now = Math.floor(Date.now() / 1000);
  const entries: DirEntry[] = Array.from({ length: n }, (_, i) => {
    const key = randomBytes(32);
    return {
      nameKey: key, cookie: key,
      sealedName: {
        ciphertext: randomBytes(6), authTag: randomBytes(16), nonce: randomBytes(12), algorithm: 1,
        systemEpoch: { value: 1 }, tenantEpoch: { value: 1 }, tenantWrappedMaterial: Buffer.alloc(0), chunkId: { value: key },
      },
      attr: {
        ino: 1000 + i, kind: FileKind.FILE_KIND_REGULAR, mode: 0o644, uid: 1000, gid: 1000, size: 4096 + i, nlink: 1,
        atime: { sec: now, nsec: 123_456_789 }, mtime: { sec: now, nsec: 223_456_789 }, ctime: { sec: now, nsec: 323_456_789 },
        generation: 7, chunkSize: 4 << 20,
      },
    };
  });
  return Buffer.from(ReadDirPlusResponse.encode({ entries, eof: false }).finish());
}

async function main(): Promise<void> {
  const { Bench } = await import('tinybench'); // ESM-only package
  const wire = page(PAGE);
  const bench = new Bench({ time: 2000 });
  bench.add('readdir-wire', () => decodeReadDirPlus(wire));
  bench.add('generated', () => ReadDirPlusResponse.decode(wire));
  const before = process.env.BENCH_BEFORE_ROOT;
  if (before !== undefined) {
    const old = (require(join(before, 'dist/src/client/readdir-wire.js')) as { decodeReadDirPlus: typeof decodeReadDirPlus }).decodeReadDirPlus;
    bench.add('readdir-wire (before)', () => old(wire));
  }
  await bench.run();
  const rate = (name: string) => {
    const t = bench.getTask(name)?.result;
    return t !== undefined && 'throughput' in t ? t.throughput.mean * PAGE : NaN;
  };
  process.stdout.write(`${PAGE}-entry page, ${wire.length} bytes\n`);
  for (const t of bench.tasks) process.stdout.write(`${t.name.padEnd(24)} ${(rate(t.name) / 1e6).toFixed(2)} M entries/s\n`);
  process.stdout.write(`readdir-wire / generated = ${(rate('readdir-wire') / rate('generated')).toFixed(2)}×\n`);
  if (before !== undefined) process.stdout.write(`readdir-wire / before = ${(rate('readdir-wire') / rate('readdir-wire (before)')).toFixed(2)}×\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});

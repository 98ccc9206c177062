// fsx-style checker: random write / read / truncate / fsync / mmap-read / close-reopen at random
// offsets (sparse, across chunk boundaries) against one file, every read compared with an in-memory
// shadow copy. Seedable; on a mismatch prints the seed and the tail of the op log and exits 1.
// Runs as its own process (never inside a FUSE daemon):
//   node dist/test/reliability/fsx.js --file /mnt/x/fsx.dat --ops 100000 --seed 42 [--max-len 12582912]
// Prints one JSON summary line on success: {"seed","ops","counts","bytesCompared","finalSize"}.
import { execFile } from 'node:child_process';
import { open, type FileHandle } from 'node:fs/promises';
import { promisify } from 'node:util';

export interface FsxOptions { file: string; ops: number; seed: number; maxLen: number; maxIo: number; mmapEvery: number }

type OpName = 'write' | 'read' | 'truncate' | 'fsync' | 'reopen' | 'mmap-read' | 'sparse-write';

/** mulberry32: small, fast, seedable. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Shadow {
  buf: Buffer;
  size = 0;
  constructor(cap: number) { this.buf = Buffer.alloc(cap); }
  write(off: number, data: Buffer): void {
    data.copy(this.buf, off);
    this.size = Math.max(this.size, off + data.length);
  }
  truncate(len: number): void {
    if (len < this.size) this.buf.fill(0, len, this.size);
    this.size = len;
  }
  slice(off: number, len: number): Buffer {
    return this.buf.subarray(Math.min(off, this.size), Math.min(off + len, this.size));
  }
}

export class FsxFailure extends Error {}

export async function runFsx(o: FsxOptions): Promise<{ seed: number; ops: number; counts: Record<OpName, number>; bytesCompared: number; finalSize: number }> {
  const rnd = prng(o.seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const shadow = new Shadow(o.maxLen + o.maxIo);
  const log: string[] = [];
  const counts: Record<OpName, number> = { write: 0, read: 0, truncate: 0, fsync: 0, reopen: 0, 'mmap-read': 0, 'sparse-write': 0 };
  let bytesCompared = 0;
  let fh: FileHandle = await open(o.file, 'w+');
  const fail = (i: number, what: string): never => {
    throw new FsxFailure(`fsx: op ${i} (seed ${o.seed}) ${what}\nlast ops:\n${log.slice(-30).join('\n')}`);
  };
  const compare = (i: number, off: number, got: Buffer, want: Buffer, via: string) => {
    if (got.length !== want.length) fail(i, `${via} at ${off} returned ${got.length} bytes, expected ${want.length} (size ${shadow.size})`);
    const at = got.findIndex((b, k) => b !== want[k]);
    if (at !== -1) fail(i, `${via} at ${off}: byte ${off + at} is 0x${got[at]!.toString(16)}, expected 0x${want[at]!.toString(16)}`);
    bytesCompared += got.length;
  };
  try {
    for (let i = 0; i < o.ops; i++) {
      const r = rnd();
      let op: OpName = r < 0.36 ? 'write' : r < 0.72 ? 'read' : r < 0.80 ? 'truncate' : r < 0.86 ? 'fsync' : r < 0.92 ? 'reopen' : 'sparse-write';
      if (o.mmapEvery > 0 && i % o.mmapEvery === o.mmapEvery - 1) op = 'mmap-read';
      counts[op]++;
      switch (op) {
        case 'write':
        case 'sparse-write': {
          // Sparse writes land far past the end, leaving a hole that must read as zeros.
          const off = op === 'write' ? int(Math.min(o.maxLen, shadow.size + o.maxIo)) : Math.min(o.maxLen - 1, shadow.size + int(o.maxLen / 2));
          const len = 1 + int(Math.min(o.maxIo, o.maxLen - off));
          const data = Buffer.alloc(len);
          // xorshift bytes: no period a misplaced write could hide behind.
          let x = (int(2 ** 32) | 1) >>> 0;
          for (let k = 0; k < len; k++) {
            x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
            data[k] = x & 0xff;
          }
          log.push(`${i} ${op} off=${off} len=${len}`);
          const { bytesWritten } = await fh.write(data, 0, len, off);
          if (bytesWritten !== len) fail(i, `short write ${bytesWritten}/${len}`);
          shadow.write(off, data);
          break;
        }
        case 'read': {
          const off = int(shadow.size + 1024);
          const len = 1 + int(o.maxIo);
          log.push(`${i} read off=${off} len=${len}`);
          const b = Buffer.alloc(len);
          const { bytesRead } = await fh.read(b, 0, len, off);
          compare(i, off, b.subarray(0, bytesRead), shadow.slice(off, len), 'read');
          break;
        }
        case 'truncate': {
          const len = int(o.maxLen);
          log.push(`${i} truncate len=${len}`);
          await fh.truncate(len);
          shadow.truncate(len);
          const st = await fh.stat();
          if (st.size !== len) fail(i, `size after truncate is ${st.size}, expected ${len}`);
          break;
        }
        case 'fsync':
          log.push(`${i} fsync`);
          await fh.sync();
          break;
        case 'reopen': {
          log.push(`${i} close-reopen`);
          await fh.close();
          fh = await open(o.file, 'r+');
          const st = await fh.stat();
          if (st.size !== shadow.size) fail(i, `size after reopen is ${st.size}, expected ${shadow.size}`);
          break;
        }
        case 'mmap-read': {
          // Read-only shared mapping of the whole file in another process (python3 mmap), after a
          // flush so the mapping sees committed data; compared byte for byte via its hex dump.
          await fh.sync();
          const off = int(Math.max(1, shadow.size));
          const len = Math.min(1 + int(o.maxIo), Math.max(0, shadow.size - off));
          log.push(`${i} mmap-read off=${off} len=${len}`);
          if (shadow.size === 0 || len === 0) break;
          const py = 'import mmap,sys\nf=open(sys.argv[1],"rb")\nm=mmap.mmap(f.fileno(),0,prot=mmap.PROT_READ)\no,n=int(sys.argv[2]),int(sys.argv[3])\nsys.stdout.write(m[o:o+n].hex())';
          const { stdout } = await promisify(execFile)('python3', ['-c', py, o.file, String(off), String(len)], { maxBuffer: 64 << 20 });
          compare(i, off, Buffer.from(stdout, 'hex'), shadow.slice(off, len), 'mmap-read');
          break;
        }
      }
    }
    // Final full comparison through a fresh descriptor.
    await fh.close();
    fh = await open(o.file, 'r');
    const all = await fh.readFile();
    compare(o.ops, 0, all, shadow.slice(0, shadow.size), 'final read');
    return { seed: o.seed, ops: o.ops, counts, bytesCompared, finalSize: shadow.size };
  } catch (err) {
    if (err instanceof FsxFailure) throw err;
    throw new FsxFailure(`fsx: seed ${o.seed}: ${(err as Error).message}\nlast ops:\n${log.slice(-30).join('\n')}`);
  } finally {
    await fh.close().catch(() => undefined);
  }
}

if (require.main === module) {
  const arg = (name: string, def?: string): string => {
    const i = process.argv.indexOf(`--${name}`);
    if (i === -1 || i + 1 >= process.argv.length) {
      if (def === undefined) throw new Error(`--${name} is required`);
      return def;
    }
    return process.argv[i + 1]!;
  };
  const seed = Number(arg('seed', String(Date.now() % 2 ** 31)));
  console.error(`fsx: seed ${seed}`);
  runFsx({
    file: arg('file'), ops: Number(arg('ops', '2000')), seed, maxLen: Number(arg('max-len', String(12 << 20))),
    maxIo: Number(arg('max-io', String(256 << 10))), mmapEvery: Number(arg('mmap-every', '250')),
  }).then((r) => { console.log(JSON.stringify(r)); }, (e: unknown) => { console.error((e as Error).message); process.exit(1); });
}

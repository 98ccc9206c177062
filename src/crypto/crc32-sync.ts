// Synchronous IEEE CRC-32 (brief §4.4): zlib.crc32 (Node ≥ 20.15, the zlib code the node binary
// carries, SIMD-accelerated), else a byte-wise table for older Node 20 releases.
import zlib from 'node:zlib';

type Crc32Fn = (data: Buffer, prev?: number) => number;

function tableCrc32(): Crc32Fn {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return (data, prev = 0) => {
    let c = (prev ^ 0xffffffff) >>> 0;
    for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
}

const zlibCrc32 = (zlib as { crc32?: Crc32Fn }).crc32;

/** CRC-32 of `data`, continuing from `prev` (0 to start). */
export const crc32Sync: Crc32Fn = typeof zlibCrc32 === 'function' ? zlibCrc32 : tableCrc32();

/** The table implementation, exported so a test pins it against zlib's. */
export const crc32Table: Crc32Fn = tableCrc32();

// P-CONF: what leaves the client is ciphertext. tcpdump captures the loopback traffic between a
// real mount and a real kiseki-node over TCP+TLS while files whose contents, names, symlink targets
// and xattr values carry marker strings are written and read back; the capture, and then the
// node's data directory and SQLite database, are searched for the markers in several encodings.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bash } from '../integration/mount-harness.js';
import { filesUnder, MiB, startTlsRig, type TlsRig } from './rel-harness.js';

let rig: TlsRig;
const tag = randomBytes(6).toString('hex');
const DATA_MARK = `KISEKI-SECRET-CONTENT-${tag}`;
const NAME_MARK = `kiseki-secret-name-${tag}`;

before(async () => {
  rig = await startTlsRig({ nodes: 1, replicas: 1 });
});
after(async () => rig.close());

/** Every form the marker is searched in: UTF-8, UTF-16LE/BE, base64 at all three alignments, hex. */
function forms(marker: string): Buffer[] {
  const u8 = Buffer.from(marker);
  const b64 = [0, 1, 2].map((pad) => {
    const s = Buffer.concat([Buffer.alloc(pad, 0x20), u8]).toString('base64');
    // Drop the characters that depend on the bytes around the marker.
    return Buffer.from(s.slice(Math.ceil((pad * 4) / 3) + 1, Math.floor(((pad + u8.length) * 4) / 3) - 1));
  });
  return [u8, Buffer.from(marker, 'utf16le'), Buffer.from(marker, 'utf16le').swap16(), ...b64, Buffer.from(u8.toString('hex'))];
}

function occurrences(hay: Buffer, marker: string): number {
  let n = 0;
  for (const f of forms(marker)) {
    for (let i = hay.indexOf(f); i !== -1; i = hay.indexOf(f, i + 1)) n++;
  }
  return n;
}

/** Captured bytes of packets to or from TCP `port` (Ethernet-framed IPv4 on lo). */
function bytesOnPort(pcap: Buffer, port: number): number {
  let n = 0;
  for (let off = 24; off + 16 <= pcap.length; off += 16 + pcap.readUInt32LE(off + 8)) {
    const p = off + 16;
    const caplen = pcap.readUInt32LE(off + 8);
    if (caplen < 14 + 20 + 4 || pcap.readUInt16BE(p + 12) !== 0x0800) continue;
    const tcp = p + 14 + (pcap[p + 14]! & 0x0f) * 4;
    if (pcap.readUInt16BE(tcp) === port || pcap.readUInt16BE(tcp + 2) === port) n += caplen;
  }
  return n;
}

function pcapPackets(pcap: Buffer): number {
  let n = 0;
  for (let off = 24; off + 16 <= pcap.length; off += 16 + pcap.readUInt32LE(off + 8)) n++;
  return n;
}

test('the marker search finds every encoding it looks for (control)', () => {
  for (const m of [DATA_MARK, NAME_MARK]) {
    for (const pad of [0, 1, 2]) {
      const hay = Buffer.concat([randomBytes(pad), Buffer.from(Buffer.concat([randomBytes(pad), Buffer.from(m)]).toString('base64'))]);
      assert.ok(occurrences(hay, m) >= 1, `base64 at alignment ${pad}`);
    }
    assert.ok(occurrences(Buffer.from(`xx${m}yy`), m) >= 1);
    assert.ok(occurrences(Buffer.from(`xx${m}yy`, 'utf16le'), m) >= 1);
  }
});

test('P-CONF1: packet capture of writes and reads through a TLS mount → zero occurrences of the content and name markers on the wire', async () => {
  const node = rig.cluster.nodes[0]!;
  // gRPC and the bulk chunk stream (ADR 0033), which carries the chunks when the node offers it.
  const ports = [node.address!, ...node.bulk.filter((a) => !a.startsWith('unix:'))].map((a) => a.split(':').pop()!);
  assert.equal(ports.length, 2, 'the node serves a TLS bulk stream beside gRPC');
  const pcap = join(rig.dir, 'capture.pcap');
  const dump = spawn('tcpdump', ['-i', 'lo', '-n', '-U', '-s', '0', '-w', pcap, ports.map((p) => `tcp port ${p}`).join(' or ')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let dumpErr = '';
  await new Promise<void>((res, rej) => {
    dump.stderr.on('data', (d: Buffer) => { dumpErr += d.toString(); if (dumpErr.includes('listening on')) res(); });
    dump.once('exit', (c) => rej(new Error(`tcpdump exited ${c}: ${dumpErr}`)));
  });
  try {
    const content = Buffer.from(`${DATA_MARK}\n`.repeat(Math.ceil((3 * MiB) / (DATA_MARK.length + 1))));
    await writeFile(join(rig.dir, 'big.src'), content);
    await writeFile(join(rig.dir, 'small.src'), `${DATA_MARK} inline\n`);
    const m = await rig.mount('conf-w', ['--namespace', 'conf', '-o', 'chunk_size=1M,cache_mode=bypass']);
    await bash(`cd "${m.path}" && mkdir "dir-${NAME_MARK}" && cp "${rig.dir}/big.src" "dir-${NAME_MARK}/${NAME_MARK}.dat" && cp "${rig.dir}/small.src" "${NAME_MARK}.txt"
      ln -s "target-${NAME_MARK}" "link-${NAME_MARK}"; setfattr -n user.note -v "${DATA_MARK}" "${NAME_MARK}.txt"`);
    await m.unmount();
    const r = await rig.mount('conf-r', ['--namespace', 'conf', '-o', 'chunk_size=1M,cache_mode=bypass']);
    const listing = await bash(`cd "${r.path}" && ls -R && readlink "link-${NAME_MARK}" && getfattr --only-values -n user.note "${NAME_MARK}.txt"; echo; cmp "${rig.dir}/big.src" "dir-${NAME_MARK}/${NAME_MARK}.dat" && cmp "${rig.dir}/small.src" "${NAME_MARK}.txt" && echo SAME`);
    await r.unmount();
    // The round trip itself worked (the markers came back in clear on the client side).
    assert.match(listing, new RegExp(`${NAME_MARK}\\.dat`));
    assert.match(listing, new RegExp(`target-${NAME_MARK}`));
    assert.match(listing, new RegExp(DATA_MARK));
    assert.match(listing, /SAME/);
  } finally {
    dump.kill('SIGINT');
    await new Promise((res) => dump.once('exit', res));
  }
  const bytes = await readFile(pcap);
  const packets = pcapPackets(bytes);
  console.log(`figure: P-CONF1 capture = ${JSON.stringify({ packets, bytes: bytes.length, streamBytes: bytesOnPort(bytes, Number(ports[1])) })}`);
  assert.ok(packets > 100 && bytes.length > 3 * MiB, `the capture holds the traffic (${packets} packets, ${bytes.length} bytes)`);
  const onStream = bytesOnPort(bytes, Number(ports[1]));
  assert.ok(onStream > 3 * MiB, `the chunks crossed the bulk stream's port, inside the capture (${onStream} bytes)`);
  assert.equal(occurrences(bytes, DATA_MARK), 0, 'content marker on the wire');
  assert.equal(occurrences(bytes, NAME_MARK), 0, 'name marker on the wire');
});

test('P-CONF2: the node\'s data directory and SQLite database hold zero occurrences of either marker', async () => {
  const root = join(rig.dir, 'nodes', 'node-1');
  const files = await filesUnder(root);
  assert.ok(files.some((f) => f.endsWith('.sqlite')), `the database is among ${files.length} files`);
  let bytes = 0;
  for (const f of files) {
    const b = await readFile(f);
    bytes += b.length;
    assert.equal(occurrences(b, DATA_MARK), 0, `content marker in ${f}`);
    assert.equal(occurrences(b, NAME_MARK), 0, `name marker in ${f}`);
  }
  console.log(`figure: P-CONF2 searched = ${JSON.stringify({ files: files.length, bytes })}`);
  assert.ok(bytes >= 3 * MiB, `the node holds the written data (${bytes} bytes)`);
  assert.ok((await stat(root)).isDirectory());
});

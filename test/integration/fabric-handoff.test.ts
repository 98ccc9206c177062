// getEach (src/transport/chunk-handoff.ts, ADR 0036) over real tcp;ofi_rxm endpoints and a fabric
// listener process: chunks handed on while sibling reads of the same GET are in flight, recycled at
// once and their buffers reused by those siblings, never show another chunk's bytes; a node killed
// mid-GET, a throwing consumer and an abort end the handing on at once (I-HO2), and the selector's
// failover asks the next transport only for the chunks not handed on (I-HO1).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, test } from 'node:test';
import { KisekiError } from '../../src/errors.js';
import type { Envelope } from '../../src/gen/kiseki/v1/chunk.js';
import { getEach } from '../../src/transport/chunk-handoff.js';
import { receiveBuffers } from '../../src/transport/receive-buffers.js';
import { clientEndpointFor, closeClientEndpoints, FabricChunkTransport } from '../../src/transport/transport-fabric.js';
import { TransportSelector } from '../../src/transport/transport-selector.js';
import type { ChunkTransport } from '../../src/transport/transport.js';
import { idOf, makeEnvelope } from '../helpers/fabric-chunks.js';
import { startFabricNode, type FabricNode } from '../helpers/fabric-node.js';

after(() => closeClientEndpoints());

const MIB = 1 << 20;

function transportTo(node: FabricNode, readWindowBytes: number, timeoutMs = 5000): FabricChunkTransport {
  return new FabricChunkTransport({ name: 'fabric-tcp', provider: 'tcp', nodeFabricAddress: node.address, openSession: node.openSession, timeoutMs, readWindowBytes });
}

/** Whether `got` holds exactly the bytes of `sent` (its ciphertext hashes to its id). */
function own(sent: Envelope, got: Envelope): boolean {
  return createHash('sha256').update(got.ciphertext).digest().equals(idOf(sent)) && Buffer.from(got.nonce).equals(Buffer.from(sent.nonce));
}

/** Counts fi_reads posted on the shared client endpoint; restore() undoes it. */
async function countReads(): Promise<{ posted: () => number; restore: () => void }> {
  const ep = await clientEndpointFor('tcp', '127.0.0.1');
  const read = ep.channel.read.bind(ep.channel);
  let posted = 0;
  ep.channel.read = (...a) => {
    posted++;
    return read(...a);
  };
  return { posted: () => posted, restore: () => void (ep.channel.read = read) };
}

test('I-HO1: chunks handed on and recycled while sibling reads are in flight never show another chunk\'s bytes; kept ones keep theirs', async () => {
  const node = await startFabricNode({ provider: 'tcp', dir: ':memory:' });
  const t = transportTo(node, 8 * MIB); // two 4 MiB reads in flight: each chunk is handed on while its sibling lands
  const reads = await countReads();
  try {
    const envs = Array.from({ length: 16 }, (_v, i) => makeEnvelope(i % 5 === 4 ? (4 * MIB) - 4096 * i : 4 * MIB));
    await t.putChunks(envs);
    const seen: number[] = [];
    const kept = new Map<number, Envelope>();
    const stores = new Set<ArrayBufferLike>();
    let handedBeforeLastPosted = 0;
    const reused0 = receiveBuffers.stats.reused;
    await t.getEach(envs.map(idOf), (i, env) => {
      assert.ok(own(envs[i]!, env), `chunk ${i} handed on with its own bytes`);
      seen.push(i);
      stores.add(env.ciphertext.buffer);
      // Whether a sibling's read is still in flight at this moment depends on how completions are
      // batched (two may land in one wake-up on a loaded machine); that reads of this GET are still to be
      // posted does not: with two reads in the window, only a GET that hands on early gets here.
      if (reads.posted() < envs.length) handedBeforeLastPosted++;
      if (i % 2 === 0) receiveBuffers.recycle(env); // used up at once: its buffer goes to the next read
      else kept.set(i, env); // kept: its buffer must not be reused under it
    });
    assert.deepEqual([...seen].sort((a, b) => a - b), envs.map((_e, i) => i), 'every chunk handed on exactly once');
    assert.ok(handedBeforeLastPosted > 0, 'chunks were handed on while reads of the GET were still to be posted');
    assert.ok(stores.size < 16, `the GET reused recycled buffers (${stores.size} stores for 16 chunks)`);
    assert.ok(receiveBuffers.stats.reused > reused0, 'the receive pool lent recycled buffers again');
    for (const [i, env] of kept) assert.ok(own(envs[i]!, env), `kept chunk ${i} still holds its own bytes after its siblings landed`);
    for (const env of kept.values()) receiveBuffers.recycle(env);
    // getChunks (the batch contract) on the same session: request order, own bytes.
    const again = await t.getChunks(envs.map(idOf));
    again.forEach((e, i) => assert.ok(own(envs[i]!, e), `getChunks chunk ${i}`));
  } finally {
    reads.restore();
    await t.close();
    await node.stop();
  }
});

test('I-HO1: a chunk is handed on before the next read is posted: recycled at once, every chunk of a one-read window lands in the same buffer', async () => {
  const node = await startFabricNode({ provider: 'tcp', dir: ':memory:' });
  const t = transportTo(node, 4 * MIB);
  try {
    const envs = Array.from({ length: 8 }, () => makeEnvelope(4 * MIB));
    await t.putChunks(envs);
    const stores = new Set<ArrayBufferLike>();
    await t.getEach(envs.map(idOf), (i, env) => {
      assert.ok(own(envs[i]!, env), `chunk ${i} handed on with its own bytes`);
      stores.add(env.ciphertext.buffer);
      receiveBuffers.recycle(env);
    });
    assert.equal(stores.size, 1, `the 8 chunks landed in ${stores.size} buffers: each read took the one just recycled (LIFO)`);
  } finally {
    await t.close();
    await node.stop();
  }
});

test('I-HO2: a node killed mid-GET after some chunks were handed on rejects as TransportFailed; nothing is handed on after', async () => {
  const node = await startFabricNode({ provider: 'tcp', dir: ':memory:', env: { KISEKI_FABRIC_RMA: '1' } });
  const t = transportTo(node, 4 * MIB, 3000);
  const envs = Array.from({ length: 16 }, () => makeEnvelope(4 * MIB));
  await t.putChunks(envs);
  const reads = await countReads();
  let killed: Promise<void> | null = null;
  const seen: number[] = [];
  try {
    await assert.rejects(
      t.getEach(envs.map(idOf), (i, env) => {
        assert.ok(own(envs[i]!, env), `chunk ${i} handed on with its own bytes`);
        seen.push(i);
        receiveBuffers.recycle(env);
        if (seen.length === 3) killed = node.stop('SIGKILL');
      }),
      (e: unknown) => KisekiError.is(e, 'TransportFailed'),
    );
    const handedAtRejection = seen.length;
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(handedAtRejection >= 3 && handedAtRejection < 16, `${handedAtRejection} chunks handed on before the failure`);
    assert.equal(seen.length, handedAtRejection, 'no chunk handed on after the promise rejected');
    assert.equal(new Set(seen).size, seen.length, 'no chunk handed on twice');
    assert.ok(reads.posted() < 16, 'reads queued behind the failure were never posted');
  } finally {
    reads.restore();
    await t.close();
    await (killed ?? node.stop());
  }
});

test('I-HO2: a consumer that throws ends the GET with its error; the session serves the next GET', async () => {
  const node = await startFabricNode({ provider: 'tcp', dir: ':memory:' });
  const t = transportTo(node, 16 * MIB); // four reads in flight: three still land after the consumer throws
  try {
    const envs = Array.from({ length: 8 }, () => makeEnvelope(4 * MIB));
    await t.putChunks(envs);
    let calls = 0;
    const boom = new Error('consumer refused chunk');
    await assert.rejects(
      t.getEach(envs.map(idOf), (_i, env) => {
        calls++;
        receiveBuffers.recycle(env);
        throw boom;
      }),
      (e: unknown) => e === boom,
    );
    assert.equal(calls, 1, 'nothing handed on after the consumer threw');
    const got = await t.getChunks(envs.map(idOf));
    got.forEach((e, i) => assert.ok(own(envs[i]!, e), `chunk ${i} after the failed GET`));
  } finally {
    await t.close();
    await node.stop();
  }
});

test('I-HO2: an abort mid-GET rejects with nothing handed on after it, and no queued read is posted', async () => {
  const node = await startFabricNode({ provider: 'tcp', dir: ':memory:' });
  const t = transportTo(node, 8 * MIB);
  const envs = Array.from({ length: 16 }, () => makeEnvelope(4 * MIB));
  await t.putChunks(envs);
  const reads = await countReads();
  try {
    const ac = new AbortController();
    const seen: number[] = [];
    await assert.rejects(
      t.getEach(envs.map(idOf), (i, env) => {
        seen.push(i);
        receiveBuffers.recycle(env);
        if (seen.length === 2) ac.abort();
      }, ac.signal),
      (e: unknown) => KisekiError.is(e, 'Unavailable'),
    );
    assert.equal(seen.length, 2, 'the chunk still in flight when the abort came was not handed on');
    assert.ok(reads.posted() <= 4, `${reads.posted()} reads posted: none after the abort`);
    await assert.rejects(t.getEach(envs.map(idOf), () => assert.fail('handed on under an aborted signal'), ac.signal), (e: unknown) => KisekiError.is(e, 'Unavailable'));
    const got = await t.getChunks(envs.slice(0, 4).map(idOf));
    got.forEach((e, i) => assert.ok(own(envs[i]!, e), `chunk ${i} after the aborted GET`));
  } finally {
    reads.restore();
    await t.close();
    await node.stop();
  }
});

test('I-HO1: a failover mid-GET asks the next transport only for the chunks not handed on; each is handed on once', async () => {
  const first = await startFabricNode({ provider: 'tcp', dir: ':memory:', env: { KISEKI_FABRIC_RMA: '1' } });
  const second = await startFabricNode({ provider: 'tcp', dir: ':memory:', env: { KISEKI_FABRIC_RMA: '1' } });
  const a = transportTo(first, 4 * MIB, 3000);
  const b0 = transportTo(second, 4 * MIB, 3000);
  // The second transport as one without its own getEach: the batch fallback of getEach().
  const b: ChunkTransport = { name: 'tcp-tls', getChunks: (ids, s) => b0.getChunks(ids, s), putChunks: (e, s) => b0.putChunks(e, s), close: () => b0.close() };
  const sel = new TransportSelector({ node: 'n1', chain: [a, b], autoReprobe: false });
  const envs = Array.from({ length: 12 }, () => makeEnvelope(4 * MIB));
  await a.putChunks(envs);
  await b.putChunks(envs);
  const asked: number[] = [];
  const getChunks = b0.getChunks.bind(b0);
  b0.getChunks = (ids, s) => {
    asked.push(ids.length);
    return getChunks(ids, s);
  };
  let killed: Promise<void> | null = null;
  const count = new Array<number>(envs.length).fill(0);
  try {
    await getEach(sel, envs.map(idOf), (i, env) => {
      assert.ok(own(envs[i]!, env), `chunk ${i} handed on with its own bytes`);
      count[i]!++;
      receiveBuffers.recycle(env);
      if (killed === null && count.reduce((x, y) => x + y) === 4) killed = first.stop('SIGKILL');
    });
    assert.deepEqual(count, envs.map(() => 1), 'every chunk handed on exactly once across the failover');
    assert.equal(sel.status().failovers, 1);
    assert.equal(asked.length, 1);
    assert.ok(asked[0]! <= envs.length - 4, `the fallback was asked for ${asked[0]} chunks: only those not handed on`);
  } finally {
    await sel.close();
    await (killed ?? first.stop());
    await second.stop();
  }
});

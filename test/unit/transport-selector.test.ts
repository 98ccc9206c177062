// TransportSelector's routing rules with an injected clock. The selector is the unit under test;
// its transports here are in-memory ChunkTransports whose failure we switch on and off (the real
// libfabric transports are exercised end to end in test/integration/transport-failover.test.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kerr, KisekiError } from '../../src/errors.js';
import type { Envelope } from '../../src/gen/kiseki/v1/chunk.js';
import { TransportMetrics } from '../../src/transport/transport-metrics.js';
import { TransportKind, type NodeInfo } from '../../src/gen/kiseki/v1/discovery.js';
import { decide, type TransportDecision } from '../../src/transport/transport-probe.js';
import { providerMatches, transportForNode, TransportSelector, type ProbeableTransport } from '../../src/transport/transport-selector.js';
import type { TransportName } from '../../src/transport/transport.js';
import { idOf, makeEnvelope } from '../helpers/fabric-chunks.js';

class MapTransport implements ProbeableTransport {
  failing = false;
  calls = 0;
  connects = 0;
  constructor(readonly name: TransportName, private readonly chunks: Map<string, Envelope>) {}
  async getChunks(ids: readonly Buffer[]): Promise<Envelope[]> {
    this.calls++;
    if (this.failing) throw kerr('TransportFailed', `${this.name} is broken`);
    return ids.map((id) => {
      const e = this.chunks.get(id.toString('hex'));
      if (!e) throw kerr('NotFound', 'no such chunk');
      return e;
    });
  }
  async putChunks(envs: readonly Envelope[]): Promise<void> {
    this.calls++;
    if (this.failing) throw kerr('TransportFailed', `${this.name} is broken`);
    for (const e of envs) this.chunks.set(idOf(e).toString('hex'), e);
  }
  async connect(): Promise<void> {
    this.connects++;
    if (this.failing) throw kerr('TransportFailed', 'still broken');
  }
  async close(): Promise<void> {}
}

function setup() {
  let now = 0;
  const store = new Map<string, Envelope>();
  const fabric = new MapTransport('verbs', store);
  const tls = new MapTransport('tcp-tls', store);
  const metrics = new TransportMetrics();
  const sel = new TransportSelector({ node: 'n1', chain: [fabric, tls], clock: () => now, metrics, autoReprobe: false });
  return { sel, fabric, tls, metrics, store, advance: (ms: number) => void (now += ms) };
}

test('traffic uses the first transport while it is healthy', async () => {
  const { sel, fabric, tls } = setup();
  const e = makeEnvelope(10);
  await sel.putChunks([e]);
  assert.equal((await sel.getChunks([idOf(e)]))[0], e);
  assert.equal(fabric.calls, 2);
  assert.equal(tls.calls, 0);
  assert.equal(sel.status().active, 'verbs');
});

test('a failed call is retried on the next transport and counted as a failover', async () => {
  const { sel, fabric, tls, metrics, store } = setup();
  const e = makeEnvelope(10);
  store.set(idOf(e).toString('hex'), e);
  fabric.failing = true;
  assert.equal((await sel.getChunks([idOf(e)]))[0], e);
  assert.equal(tls.calls, 1);
  const st = sel.status();
  assert.equal(st.active, 'tcp-tls');
  assert.equal(st.failovers, 1);
  assert.equal(st.transports[0]!.state, 'degraded');
  assert.match(await metrics.registry.metrics(), /kiseki_transport_failovers_total\{node="n1",from="verbs",to="tcp-tls"\} 1/);
});

test('NotFound is an answer: no failover, no failure counted', async () => {
  const { sel, tls } = setup();
  await assert.rejects(sel.getChunks([Buffer.alloc(32)]), (e: unknown) => KisekiError.is(e, 'NotFound'));
  assert.equal(tls.calls, 0);
  assert.equal(sel.status().failovers, 0);
  assert.equal(sel.status().transports[0]!.state, 'healthy');
});

test('after 5 failures the first transport is skipped until a re-probe succeeds', async () => {
  const { sel, fabric, tls, advance, store } = setup();
  const e = makeEnvelope(10);
  store.set(idOf(e).toString('hex'), e);
  fabric.failing = true;
  for (let i = 0; i < 5; i++) await sel.getChunks([idOf(e)]);
  assert.equal(sel.status().transports[0]!.state, 'down');
  const before = fabric.calls;
  await sel.getChunks([idOf(e)]);
  assert.equal(fabric.calls, before, 'a down transport gets no traffic');
  advance(10_000);
  await sel.tick(); // probe fails: still broken
  assert.equal(fabric.connects, 1);
  assert.equal(sel.status().transports[0]!.state, 'down');
  fabric.failing = false;
  advance(9_999);
  await sel.tick();
  assert.equal(fabric.connects, 1, 'no re-probe before the interval');
  advance(1);
  await sel.tick();
  assert.equal(sel.status().transports[0]!.state, 'healthy');
  await sel.getChunks([idOf(e)]);
  assert.equal(sel.status().active, 'verbs');
  assert.equal(tls.calls, 6);
});

test('when the last transport fails too, the caller gets its error', async () => {
  const { sel, fabric, tls } = setup();
  fabric.failing = true;
  tls.failing = true;
  await assert.rejects(sel.getChunks([Buffer.alloc(32)]), (e: unknown) => KisekiError.is(e, 'TransportFailed') && /tcp-tls is broken/.test((e as Error).message));
});

test('transportForNode chains the probed fabric before tcp-tls only when the node advertises a matching provider', () => {
  const store = new Map<string, Envelope>();
  const tls = new MapTransport('tcp-tls', store);
  const sockaddr = Buffer.from('0200238c7f0000010000000000000000', 'hex'); // 127.0.0.1:9100
  const fabricEp = (provider: string) => ({ kind: TransportKind.TRANSPORT_KIND_FABRIC, address: '', provider, fabricAddress: sockaddr });
  const tlsEp = { kind: TransportKind.TRANSPORT_KIND_TCP_TLS, address: '127.0.0.1:9100', provider: '', fabricAddress: Buffer.alloc(0) };
  const verbs = { chosen: 'verbs', provider: 'verbs', forced: false, reason: '', candidates: [], facts: null, probeMs: 0 } as TransportDecision;
  const names = (endpoints: NodeInfo['endpoints'], decision: TransportDecision): string[] =>
    transportForNode({ node: 'n', endpoints, decision, tls, openSession: async () => { throw new Error('not used'); }, autoReprobe: false }).status().transports.map((t) => t.name);
  assert.deepEqual(names([fabricEp('verbs;ofi_rxm'), tlsEp], verbs), ['verbs', 'tcp-tls']);
  assert.deepEqual(names([fabricEp('tcp;ofi_rxm'), tlsEp], verbs), ['tcp-tls'], 'a node on another provider');
  assert.deepEqual(names([tlsEp], verbs), ['tcp-tls'], 'a node without a fabric listener');
  assert.deepEqual(names([fabricEp('verbs;ofi_rxm'), tlsEp], decide(null, { KISEKI_TRANSPORT: 'tcp-tls' })), ['tcp-tls'], 'KISEKI_TRANSPORT=tcp-tls');
  assert.equal(providerMatches('tcp', 'tcp;ofi_rxm'), true);
  assert.equal(providerMatches('tcp', 'tcpx'), false);
  assert.equal(providerMatches('net', 'net'), true);
});

test('I-HO2 getEach: an error thrown by the caller\'s onChunk ends the call with that error, never a failover', async () => {
  const { sel, fabric, tls } = setup();
  const envs = [makeEnvelope(10), makeEnvelope(11), makeEnvelope(12)];
  await sel.putChunks(envs);
  const seen: number[] = [];
  // Even an error that looks like a transport's is the caller's.
  const mine = kerr('TransportFailed', 'the consumer failed');
  await assert.rejects(sel.getEach(envs.map(idOf), (i) => {
    seen.push(i);
    if (i === 1) throw mine;
  }), (err) => err === mine);
  assert.deepEqual(seen, [0, 1], 'nothing handed on after the consumer failed');
  assert.equal(sel.status().failovers, 0);
  assert.equal(tls.calls, 0, 'the next transport was never asked');
  assert.equal(fabric.calls, 2);
});

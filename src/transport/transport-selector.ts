// Per-node transport selection with failover (DESIGN D5, kiseki-brief §7.6). The chain is ordered by
// preference (e.g. [cxi|verbs|fabric-tcp, stream, tcp-tls]); the last entry is the ultimate fallback and is
// always tried. A call goes to the first transport whose health allows traffic; a transport failure
// (not an answer such as NotFound) is recorded, counted as a failover, and the same call is retried on
// the next transport, so the workload never sees the failure while any transport works. A transport
// that went down is re-probed every reprobe interval (in the background, also without traffic) and
// carries traffic again once the probe succeeds.
import type { Envelope } from '../gen/kiseki/v1/chunk.js';
import { kerr } from '../errors.js';
import { DEFAULT_HEALTH_POLICY, TransportHealth, type Clock, type HealthPolicy, type HealthState } from './transport-health.js';
import type { TransportMetrics } from './transport-metrics.js';
import { TransportKind, type NodeInfo } from '../gen/kiseki/v1/discovery.js';
import { BulkChunkTransport, type BulkTls } from './transport-bulk.js';
import { FabricChunkTransport, isTransportFailure, type OpenFabricSession } from './transport-fabric.js';
import type { TransportDecision } from './transport-probe.js';
import type { ChunkTransport, TransportName } from './transport.js';
import { dropUnseen, getEach, Handoff, type EachChunkTransport, type OnChunk } from './chunk-handoff.js';

/** A transport the selector can re-probe: reset() forgets its session, connect() proves it works. */
export interface ProbeableTransport extends ChunkTransport {
  reset?(): Promise<void>;
  connect?(signal?: AbortSignal): Promise<void>;
}

export interface TransportSelectorOptions {
  /** Label of the node in metrics and status. */
  node: string;
  /** Preference order; the last one is the fallback of last resort. */
  chain: readonly ProbeableTransport[];
  policy?: HealthPolicy;
  clock?: Clock;
  metrics?: TransportMetrics;
  /** Run re-probes from a timer (off in tests that drive tick() with an injected clock). */
  autoReprobe?: boolean;
}

export interface TransportStatus {
  node: string;
  active: TransportName;
  activeIndex: number;
  failovers: number;
  transports: { name: TransportName; state: HealthState; failures: number }[];
}

interface Slot {
  t: ProbeableTransport;
  health: TransportHealth;
  failures: number;
  probing: Promise<void> | null;
}

export class TransportSelector implements EachChunkTransport {
  private readonly slots: Slot[];
  private readonly timer: NodeJS.Timeout | null;
  private failovers = 0;
  private lastActive = 0;

  constructor(private readonly opts: TransportSelectorOptions) {
    if (opts.chain.length === 0) throw kerr('InvalidArgument', 'transport chain is empty');
    const policy = opts.policy ?? DEFAULT_HEALTH_POLICY;
    this.slots = opts.chain.map((t) => ({ t, health: new TransportHealth(policy, opts.clock), failures: 0, probing: null }));
    for (const s of this.slots) {
      s.health.onTransition((_from, to) => opts.metrics?.setHealth(opts.node, s.t.name, to));
      opts.metrics?.setHealth(opts.node, s.t.name, 'healthy');
    }
    this.publishActive(0);
    this.timer = opts.autoReprobe === false ? null : setInterval(() => this.tick(), Math.max(100, policy.reprobeIntervalMs / 4));
    this.timer?.unref();
  }

  get name(): TransportName {
    return this.slots[this.lastActive]!.t.name;
  }

  getChunks(chunkIds: readonly Buffer[], signal?: AbortSignal): Promise<Envelope[]> {
    return this.run(async (t) => {
      const envs = await t.getChunks(chunkIds, signal);
      this.opts.metrics?.bytes.inc({ transport: t.name, direction: 'in' }, sizeOf(envs));
      return envs;
    });
  }

  /**
   * getEach through the chain (I-HO1, I-HO2): a failover asks the next transport only for the chunks
   * not handed on yet. An error thrown by onChunk is the caller's, never a transport failure: it ends
   * the call without a failover.
   */
  async getEach(chunkIds: readonly Buffer[], onChunk: OnChunk, signal?: AbortSignal): Promise<void> {
    const h = new Handoff(chunkIds.length, onChunk);
    await this.run(async (t) => {
      const rest = chunkIds.map((_id, i) => i).filter((i) => !h.has(i));
      let bytes = 0;
      try {
        await getEach(t, rest.map((i) => chunkIds[i]!), (j, env) => {
          bytes += env.ciphertext.length;
          if (!h.give(rest[j]!, env)) dropUnseen([env]);
          // The caller's onChunk threw (h keeps its error): end this transport's call too.
          if (h.failed) throw kerr('Internal', 'onChunk failed');
        }, signal);
      } catch (err) {
        if (!h.failed) throw err;
      } finally {
        this.opts.metrics?.bytes.inc({ transport: t.name, direction: 'in' }, bytes);
      }
    });
    h.settle();
  }

  putChunks(envelopes: readonly Envelope[], signal?: AbortSignal): Promise<void> {
    return this.run(async (t) => {
      await t.putChunks(envelopes, signal);
      this.opts.metrics?.bytes.inc({ transport: t.name, direction: 'out' }, sizeOf(envelopes));
    });
  }

  status(): TransportStatus {
    return {
      node: this.opts.node,
      active: this.name,
      activeIndex: this.lastActive,
      failovers: this.failovers,
      transports: this.slots.map((s) => ({ name: s.t.name, state: s.health.state, failures: s.failures })),
    };
  }

  /** Starts due re-probes; returns when they finish (tests await it). */
  async tick(): Promise<void> {
    await Promise.all(this.slots.slice(0, -1).map((s) => this.maybeProbe(s)));
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await Promise.all(this.slots.map((s) => s.t.close()));
  }

  private async run<T>(call: (t: ChunkTransport) => Promise<T>): Promise<T> {
    void this.tick();
    const last = this.slots.length - 1;
    for (let i = 0; i <= last; i++) {
      const s = this.slots[i]!;
      if (i < last && !s.health.usable()) continue;
      try {
        const r = await call(s.t);
        s.health.recordSuccess();
        this.publishActive(i);
        return r;
      } catch (e) {
        if (i === last || !isTransportFailure(e)) throw e;
        s.failures++;
        s.health.recordFailure();
        this.opts.metrics?.failures.inc({ node: this.opts.node, transport: s.t.name });
        const next = this.slots.slice(i + 1).find((x, k) => i + 1 + k === last || x.health.usable())!;
        this.failovers++;
        this.opts.metrics?.failovers.inc({ node: this.opts.node, from: s.t.name, to: next.t.name });
      }
    }
    throw kerr('Internal', 'transport chain exhausted'); // unreachable: the last slot rethrows
  }

  private maybeProbe(s: Slot): Promise<void> {
    if (s.probing !== null) return s.probing;
    if (!s.health.beginProbe()) return Promise.resolve();
    const labels = { node: this.opts.node, transport: s.t.name };
    s.probing = (async () => {
      try {
        await s.t.reset?.();
        await s.t.connect?.();
        s.health.probeSucceeded();
        this.opts.metrics?.reprobes.inc({ ...labels, result: 'ok' });
      } catch {
        s.health.probeFailed();
        this.opts.metrics?.reprobes.inc({ ...labels, result: 'failed' });
      } finally {
        s.probing = null;
      }
    })();
    return s.probing;
  }

  private publishActive(i: number): void {
    this.lastActive = i;
    this.opts.metrics?.setActive(this.opts.node, this.slots[i]!.t.name, this.slots.map((s) => s.t.name));
  }
}

function sizeOf(envs: readonly Envelope[]): number {
  let n = 0;
  for (const e of envs) n += e.ciphertext.length;
  return n;
}

/** Does a node's advertised provider (fi_getinfo's prov_name, e.g. "tcp;ofi_rxm") match the one we asked for ("tcp")? */
export function providerMatches(asked: string, advertised: string): boolean {
  return advertised === asked || advertised.startsWith(`${asked};`);
}

export interface NodeTransportOptions {
  /** Node label for metrics and status. */
  node: string;
  /** The node's endpoints from discovery. */
  endpoints: NodeInfo['endpoints'];
  /** This process's probe decision (transport-probe.ts). */
  decision: TransportDecision;
  /** The node's gRPC ChunkTransport (transport-grpc.ts): always the last resort. */
  tls: ChunkTransport;
  /** OpenFabricSession over the node's mTLS channel (fabric-session.ts). */
  openSession: OpenFabricSession;
  /**
   * How to open the node's bulk stream (transport-bulk.ts): `unix` when the gRPC target is the node's
   * unix socket (then its unix: stream endpoint is used), else its host:port one with `tls`.
   * Absent: the stream is never used.
   */
  stream?: { unix: boolean; tls: BulkTls | null; timeoutMs?: number };
  metrics?: TransportMetrics;
  policy?: HealthPolicy;
  fabricTimeoutMs?: number;
  autoReprobe?: boolean;
}

/** The node's advertised bulk stream this client can reach the way it reaches the node's gRPC. */
export function streamEndpointFor(endpoints: NodeInfo['endpoints'], unix: boolean): string | null {
  const e = endpoints.find((x) => x.kind === TransportKind.TRANSPORT_KIND_STREAM && x.address.startsWith('unix:') === unix && x.address.length > 0);
  return e?.address ?? null;
}

/**
 * The per-node transport: [probed fabric, stream, tcp-tls], each present when the node advertises
 * it (the fabric only with the provider this client probed). A forced KISEKI_TRANSPORT keeps only
 * the forced one before tcp-tls (stream included only when the forced one is `stream`).
 */
export function transportForNode(o: NodeTransportOptions): TransportSelector {
  const d = o.decision;
  const fabric =
    d.chosen !== 'tcp-tls' && d.chosen !== 'stream' && d.provider !== null
      ? o.endpoints.find((e) => e.kind === TransportKind.TRANSPORT_KIND_FABRIC && e.fabricAddress.length > 0 && providerMatches(d.provider!, e.provider))
      : undefined;
  const chain: ProbeableTransport[] = [];
  if (fabric) {
    chain.push(
      new FabricChunkTransport({
        name: d.chosen as Exclude<TransportName, 'tcp-tls'>,
        provider: d.provider!,
        nodeFabricAddress: Buffer.from(fabric.fabricAddress),
        openSession: o.openSession,
        ...(o.fabricTimeoutMs !== undefined ? { timeoutMs: o.fabricTimeoutMs } : {}),
      }),
    );
  }
  const streamAddress = o.stream && (!d.forced || d.chosen === 'stream') ? streamEndpointFor(o.endpoints, o.stream.unix) : null;
  if (streamAddress !== null && (o.stream!.unix || o.stream!.tls !== null)) {
    chain.push(new BulkChunkTransport({
      address: streamAddress, tls: o.stream!.unix ? null : o.stream!.tls,
      ...(o.stream!.timeoutMs !== undefined ? { timeoutMs: o.stream!.timeoutMs } : {}),
    }));
  }
  chain.push(o.tls);
  return new TransportSelector({
    node: o.node, chain, ...(o.metrics ? { metrics: o.metrics } : {}), ...(o.policy ? { policy: o.policy } : {}),
    ...(o.autoReprobe !== undefined ? { autoReprobe: o.autoReprobe } : {}),
  });
}

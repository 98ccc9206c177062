// Transport negotiation (DESIGN D5, research/fabric.md §7a): which transport this client uses for
// bulk chunks, and why. The native probe (off the JS thread) gathers facts; decide() turns facts and
// overrides into a choice with a reason per transport. Probed once per process and cached.
//   KISEKI_TRANSPORT = cxi | verbs | fabric-tcp | tcp-tls   forces the choice (still verified: a
//                      forced fabric that is not usable falls back to tcp-tls and says why)
//                    | stream   the node's bulk stream (where it advertises one), no fabric, no probe
// Unforced, a node's bulk stream is used after any fabric and before gRPC (transport-selector.ts).
//   KISEKI_FABRIC_PROVIDER = tcp | net | sockets | …       libfabric provider used for fabric-tcp
import { kerr } from '../errors.js';
import { probeFacts, type GetinfoFacts, type ProbeFacts } from './fabric-binding.js';
import type { TransportName } from './transport.js';

export const TRANSPORT_NAMES: readonly TransportName[] = ['cxi', 'verbs', 'fabric-tcp', 'tcp-tls', 'stream'];

export interface TransportCandidate {
  transport: TransportName;
  available: boolean;
  /** Why it is (not) available, in words an admin can act on. */
  reason: string;
  /** libfabric provider name to open (fabric transports only). */
  provider: string | null;
  /** Time the checks for this transport took. */
  ms: number;
}

export interface TransportDecision {
  chosen: TransportName;
  /** libfabric provider name for the chosen transport, or null for tcp-tls. */
  provider: string | null;
  forced: boolean;
  reason: string;
  candidates: TransportCandidate[];
  /** Native facts (null when KISEKI_TRANSPORT=tcp-tls or stream skipped the probe). */
  facts: ProbeFacts | null;
  probeMs: number;
}

export function fabricTcpProvider(env: NodeJS.ProcessEnv = process.env): string {
  const p = env.KISEKI_FABRIC_PROVIDER ?? 'tcp';
  if (!/^[a-z0-9_;]+$/i.test(p)) throw kerr('InvalidArgument', `KISEKI_FABRIC_PROVIDER='${p}' is not a libfabric provider name (e.g. tcp, net, sockets)`);
  return p;
}

export function forcedTransport(env: NodeJS.ProcessEnv = process.env): TransportName | null {
  const v = env.KISEKI_TRANSPORT;
  if (v === undefined || v === '') return null;
  if (!(TRANSPORT_NAMES as readonly string[]).includes(v)) {
    throw kerr('InvalidArgument', `KISEKI_TRANSPORT='${v}' must be one of ${TRANSPORT_NAMES.join(', ')}`);
  }
  return v as TransportName;
}

function getinfoReason(provider: string, g: GetinfoFacts): string {
  if (!g.attempted) return `fi_getinfo(${provider}) not attempted`;
  if (g.rc !== 0) return `fi_getinfo(prov=${provider}, FI_EP_RDM) = ${g.rc} (${g.error})`;
  if (g.entries === 0) return `fi_getinfo(prov=${provider}) returned no ${provider} entry`;
  return `fi_getinfo(prov=${provider}, FI_EP_RDM) → ${g.provider} on ${g.domain} (${g.entries} entries)`;
}

/** Pure decision from facts (tests feed it real facts from real probes with libraries present or hidden). */
export function decide(facts: ProbeFacts | null, env: NodeJS.ProcessEnv = process.env): TransportDecision {
  const forced = forcedTransport(env);
  const tcpProv = fabricTcpProvider(env);
  const lf = facts?.libfabric;
  const noFabric = lf === undefined ? 'not probed (KISEKI_TRANSPORT=tcp-tls)' : `libfabric not loadable: ${lf.error || 'unknown error'} (${lf.path})`;

  const cxi: TransportCandidate = { transport: 'cxi', available: false, reason: noFabric, provider: 'cxi', ms: 0 };
  const verbs: TransportCandidate = { transport: 'verbs', available: false, reason: noFabric, provider: 'verbs', ms: 0 };
  const ftcp: TransportCandidate = { transport: 'fabric-tcp', available: false, reason: noFabric, provider: tcpProv, ms: 0 };
  const tls: TransportCandidate = { transport: 'tcp-tls', available: true, reason: 'gRPC over TCP+TLS is always available', provider: null, ms: 0 };

  if (facts !== null) {
    const v = facts.verbs;
    const active = v.ports.filter((p) => p.active);
    verbs.ms = v.dlopenMs + v.listMs + v.getinfo.ms;
    if (!v.loaded) verbs.reason = `libibverbs not loadable: ${v.error} (${v.path})`;
    else if (v.error !== '') verbs.reason = `${v.error}: no RDMA devices (kernel without uverbs?)`;
    else if (v.devices === 0) verbs.reason = 'no RDMA devices';
    else if (active.length === 0) verbs.reason = `${v.devices} RDMA device(s) but no ACTIVE port`;
    else if (lf?.loaded !== true) verbs.reason = `${active.length} ACTIVE port(s) (${active.map((p) => `${p.device}/${p.port}`).join(', ')}) but ${noFabric}`;
    else {
      verbs.available = v.getinfo.rc === 0 && v.getinfo.entries > 0;
      verbs.reason = `ACTIVE port ${active[0]!.device}/${active[0]!.port} (${active[0]!.linkLayer}); ${getinfoReason('verbs', v.getinfo)}`;
    }
    if (lf?.loaded === true) {
      cxi.ms = facts.cxi.getinfo.ms;
      cxi.available = facts.cxi.getinfo.rc === 0 && facts.cxi.getinfo.entries > 0;
      const compiled = lf.providers.includes('cxi') ? 'cxi provider compiled in' : `cxi provider not compiled into libfabric ${lf.version}`;
      cxi.reason = `${facts.cxi.devices} cxi device(s); ${compiled}; ${getinfoReason('cxi', facts.cxi.getinfo)}`;
      const g = facts.fabricTcp.getinfo;
      ftcp.ms = g.ms;
      ftcp.available = g.rc === 0 && g.entries > 0;
      ftcp.reason = `${getinfoReason(tcpProv, g)}; used only when KISEKI_TRANSPORT=fabric-tcp`;
    }
  }

  const candidates = [cxi, verbs, ftcp, tls];
  let chosen: TransportCandidate;
  let reason: string;
  if (forced === 'stream') {
    reason = 'forced by KISEKI_TRANSPORT=stream: the node\'s bulk stream where advertised, else tcp-tls';
    return { chosen: 'stream', provider: null, forced: true, reason, candidates, facts, probeMs: facts?.totalMs ?? 0 };
  }
  if (forced !== null) {
    const c = candidates.find((x) => x.transport === forced)!;
    if (c.available) {
      chosen = c;
      reason = `forced by KISEKI_TRANSPORT=${forced}`;
    } else {
      chosen = tls;
      reason = `KISEKI_TRANSPORT=${forced} is not usable (${c.reason}); falling back to tcp-tls`;
    }
  } else {
    chosen = [cxi, verbs].find((c) => c.available) ?? tls;
    reason = chosen === tls ? 'no fabric available (cxi, verbs); using tcp-tls' : `first available in the order cxi → verbs → tcp-tls`;
  }
  return {
    chosen: chosen.transport,
    provider: chosen.provider,
    forced: forced !== null,
    reason,
    candidates,
    facts,
    probeMs: facts?.totalMs ?? 0,
  };
}

let cached: Promise<TransportDecision> | null = null;

/** Probes once per process (lazily, on the libuv pool) and caches the decision. */
export function probeTransports(env: NodeJS.ProcessEnv = process.env): Promise<TransportDecision> {
  if (cached === null) {
    const p = (async () => {
      const f = forcedTransport(env);
      const skip = f === 'tcp-tls' || f === 'stream';
      return decide(skip ? null : await probeFacts(fabricTcpProvider(env)), env);
    })();
    p.catch(() => {
      if (cached === p) cached = null;
    });
    cached = p;
  }
  return cached;
}

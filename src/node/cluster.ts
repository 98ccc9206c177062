// The static membership of a loopback cluster (--peers): who the nodes are, which one serves the
// namespace (the lowest node id), and the discovery answer every node gives identically.
import type { DiscoverResponse, NodeInfo } from '../gen/kiseki/v1/discovery.js';
import { TransportKind } from '../gen/kiseki/v1/discovery.js';
import { kerr } from '../errors.js';

export interface Member { readonly id: number; readonly address: string }

export const DISCOVERY_TTL_MS = 30_000;

/** Extra endpoints a node advertises beside its gRPC address (the fabric listener adds its own). */
export interface EndpointSource {
  fabricEndpoints(nodeId: number): NodeInfo['endpoints'];
}

/** `1@127.0.0.1:19101,2@127.0.0.1:19102` → members, sorted by id. */
export function parsePeers(spec: string): Member[] {
  const members = spec.split(',').map((s) => s.trim()).filter(Boolean).map((item) => {
    const m = /^(\d+)@(.+:\d+)$/.exec(item);
    if (!m) throw kerr('InvalidArgument', `--peers entry '${item}' must look like <node-id>@<host>:<port>`);
    return { id: Number(m[1]), address: m[2]! };
  });
  const ids = new Set(members.map((m) => m.id));
  if (ids.size !== members.length) throw kerr('InvalidArgument', '--peers lists a node id twice');
  return members.sort((a, b) => a.id - b.id);
}

export class Cluster {
  readonly members: readonly Member[];

  constructor(readonly selfId: number, members: Member[], readonly replicas: number, readonly clusterId: string,
    private readonly extra: EndpointSource | null = null) {
    this.members = [...members].sort((a, b) => a.id - b.id);
    if (!this.members.some((m) => m.id === selfId)) throw kerr('InvalidArgument', `--node-id ${selfId} is not among --peers`);
    if (replicas < 1 || replicas > this.members.length) throw kerr('InvalidArgument', `--replicas must be 1–${this.members.length} (got ${replicas})`);
  }

  get leader(): Member {
    return this.members[0]!;
  }

  get isLeader(): boolean {
    return this.leader.id === this.selfId;
  }

  discover(): DiscoverResponse {
    const leader = this.leader;
    return {
      nodes: this.members.map((m) => ({
        nodeId: { value: m.id },
        endpoints: [
          ...(this.extra?.fabricEndpoints(m.id) ?? []),
          { kind: TransportKind.TRANSPORT_KIND_TCP_TLS, address: m.address, provider: '', fabricAddress: Buffer.alloc(0) },
        ],
        metadataLeader: m.id === leader.id,
      })),
      shards: [{ shardId: { value: `${this.clusterId}-shard-0` }, leaderNode: { value: leader.id }, keyRange: { start: Buffer.alloc(0), end: Buffer.alloc(0) } }],
      views: [{ viewId: { value: `${this.clusterId}-posix` }, protocol: 'posix', endpoint: leader.address }],
      gateways: this.members.map((m) => ({ protocol: 'grpc', transport: 'tcp-tls', endpoint: m.address })),
      authRequirements: { mtlsRequired: true, idpOptional: true, description: 'mTLS required, IdP optional' },
      ttlMs: DISCOVERY_TTL_MS,
      replicas: this.replicas,
      clusterId: this.clusterId,
    };
  }
}

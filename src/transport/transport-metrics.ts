// Prometheus series for transport selection, registered in the Registry the mount exposes on /metrics.
import { Counter, Gauge, Registry } from 'prom-client';
import type { HealthState } from './transport-health.js';
import type { TransportName } from './transport.js';

const STATES: readonly HealthState[] = ['healthy', 'degraded', 'down', 'probing'];

export class TransportMetrics {
  readonly failovers: Counter<'node' | 'from' | 'to'>;
  readonly failures: Counter<'node' | 'transport'>;
  readonly bytes: Counter<'transport' | 'direction'>;
  readonly active: Gauge<'node' | 'transport'>;
  readonly health: Gauge<'node' | 'transport' | 'state'>;
  readonly reprobes: Counter<'node' | 'transport' | 'result'>;

  constructor(readonly registry: Registry = new Registry()) {
    const registers = [registry];
    this.failovers = new Counter({ name: 'kiseki_transport_failovers_total', help: 'Chunk calls retried on a fallback transport after the preferred one failed', labelNames: ['node', 'from', 'to'], registers });
    this.failures = new Counter({ name: 'kiseki_transport_failures_total', help: 'Failed chunk calls per transport', labelNames: ['node', 'transport'], registers });
    this.bytes = new Counter({ name: 'kiseki_transport_bytes_total', help: 'Sealed envelope bytes moved per transport', labelNames: ['transport', 'direction'], registers });
    this.active = new Gauge({ name: 'kiseki_transport_active', help: '1 for the transport currently carrying chunks to a node', labelNames: ['node', 'transport'], registers });
    this.health = new Gauge({ name: 'kiseki_transport_health', help: '1 for the current health state of a transport to a node', labelNames: ['node', 'transport', 'state'], registers });
    this.reprobes = new Counter({ name: 'kiseki_transport_reprobes_total', help: 'Re-probes of a down transport', labelNames: ['node', 'transport', 'result'], registers });
  }

  setActive(node: string, transport: TransportName, all: readonly TransportName[]): void {
    for (const t of all) this.active.set({ node, transport: t }, t === transport ? 1 : 0);
  }

  setHealth(node: string, transport: TransportName, state: HealthState): void {
    for (const s of STATES) this.health.set({ node, transport, state: s }, s === state ? 1 : 0);
  }
}

// `kiseki-client discover [--data-addr h:p[,h:p…]] [--json]`: who the nodes are, who leads the
// metadata, which transports they offer, and the cache policy this client would get.
import type { Command } from 'commander';
import { describeCluster, type ClusterDescription } from '../../client/cluster-description.js';

function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1 && v % 1024 === 0) {
    v /= 1024;
    u++;
  }
  return `${v} ${units[u]}`;
}

export function formatDescription(d: ClusterDescription): string {
  const lines: string[] = [];
  lines.push(`cluster ${d.cluster_id || '(unnamed)'}: ${d.nodes.length} node${d.nodes.length === 1 ? '' : 's'}, replicas ${d.replicas}, discovery ttl ${d.ttl_ms} ms`);
  lines.push(`seeds (${d.seed_source}): ${d.seeds.join(', ')}; answered by ${d.answered_by}`);
  if (d.embedded !== null) lines.push(`embedded node: ${d.embedded.started ? 'started' : 'reused'} on ${d.embedded.socket}${d.embedded.pid === null ? '' : ` (pid ${d.embedded.pid})`}`);
  lines.push(`metadata leader: node ${d.leader.node_id} at ${d.leader.address}`);
  lines.push('nodes:');
  for (const n of d.nodes) {
    const eps = n.endpoints.map((e) => (e.kind === 'fabric' ? `fabric(${e.provider})` : `${e.kind} ${e.address}`)).join(', ') || 'none advertised';
    lines.push(`  ${n.metadata_leader ? '*' : ' '} node ${n.node_id}  ${n.address}  transports: ${eps}`);
  }
  for (const s of d.shards) lines.push(`shard ${s.shard_id}: leader node ${s.leader_node ?? '?'}, keys [${s.key_range.start || '-∞'}, ${s.key_range.end || '+∞'})`);
  for (const v of d.views) lines.push(`view ${v.view_id}: ${v.protocol} ${v.endpoint}`);
  for (const g of d.gateways) lines.push(`gateway: ${g.protocol} over ${g.transport} at ${g.endpoint}`);
  lines.push(`auth: ${d.auth_requirements.description || (d.auth_requirements.mtls_required ? 'mTLS required' : 'no mTLS')}`);
  const p = d.cache_policy.policy;
  lines.push(`cache policy (from ${d.cache_policy.source}):`);
  for (const s of d.cache_policy.skipped) lines.push(`  (${s.source} not used: ${s.reason})`);
  lines.push(`  enabled ${p.cache_enabled}, modes ${p.allowed_modes.join('/') || 'none'} (default ${p.default_mode}), staging ${p.staging_enabled ? 'on' : 'off'}`);
  lines.push(`  max cache ${formatBytes(p.max_cache_bytes)} per process, node cap ${p.max_node_cache_bytes === 0 ? '80 % of the cache filesystem' : formatBytes(p.max_node_cache_bytes)}`);
  lines.push(`  metadata ttl ${p.metadata_ttl_ms} ms, wipe after ${p.max_disconnect_seconds} s disconnected, key health every ${p.key_health_interval_ms} ms`);
  return lines.join('\n');
}

export function registerDiscoverCommand(program: Command): void {
  program
    .command('discover')
    .description('show the nodes, metadata leader, transports and the resolved cache policy (no --data-addr: the embedded node)')
    .option('--data-addr <list>', 'seed addresses h:p[,h:p…], [v6]:p or unix:/path (default: KISEKI_SEEDS, then the embedded node)')
    .option('--json', 'print one JSON object')
    .option('--insecure', 'allow TCP without TLS (never on a shared network)')
    .option('--pool-dir <dir>', 'cache pool whose policy.json is the fallback policy')
    .option('--workload <id>', 'narrow the cache policy to this workload')
    .action(async (opts: { dataAddr?: string; json?: boolean; insecure?: boolean; poolDir?: string; workload?: string }) => {
      const d = await describeCluster({ dataAddr: opts.dataAddr, insecure: opts.insecure, poolDir: opts.poolDir ?? null, workloadId: opts.workload });
      process.stdout.write(`${opts.json ? JSON.stringify(d, null, 2) : formatDescription(d)}\n`);
    });
}

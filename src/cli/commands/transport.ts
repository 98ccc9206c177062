// `kiseki-client transport probe [--json]`: what each transport's probe found, why, and how long it took.
import type { Command } from 'commander';
import { probeTransports, type TransportDecision } from '../../transport/transport-probe.js';

function ms(v: number): string {
  return `${v.toFixed(v < 10 ? 2 : 1)} ms`;
}

export function formatDecision(d: TransportDecision): string {
  const lines: string[] = [];
  lines.push(`transport: ${d.chosen}${d.provider ? ` (libfabric provider ${d.provider})` : ''}`);
  lines.push(`reason:    ${d.reason}`);
  const lf = d.facts?.libfabric;
  if (lf) {
    lines.push(
      lf.loaded
        ? `libfabric: ${lf.version} from ${lf.path} (dlopen ${ms(lf.dlopenMs)}, provider init ${ms(lf.providersMs)}); providers: ${lf.providers.join(' ')}`
        : `libfabric: not loaded: ${lf.error}`,
    );
    const v = d.facts!.verbs;
    lines.push(v.loaded ? `libibverbs: loaded from ${v.path} (dlopen ${ms(v.dlopenMs)}); ${v.devices} device(s)` : `libibverbs: not loaded: ${v.error}`);
  }
  lines.push('');
  for (const c of d.candidates) {
    lines.push(`  ${c.available ? 'yes' : 'no '}  ${c.transport.padEnd(10)} ${ms(c.ms).padStart(10)}  ${c.reason}`);
  }
  lines.push('');
  lines.push(`probe took ${ms(d.probeMs)}`);
  return lines.join('\n');
}

export function registerTransportCommand(program: Command): void {
  const transport = program.command('transport').description('Bulk-chunk transport negotiation (cxi → verbs → tcp-tls)');
  transport
    .command('probe')
    .description('Probe the transports this machine offers and print the choice with reasons and timings')
    .option('--json', 'print the full result as JSON')
    .action(async (opts: { json?: boolean }) => {
      const d = await probeTransports();
      process.stdout.write(opts.json ? `${JSON.stringify(d, null, 2)}\n` : `${formatDecision(d)}\n`);
    });
}

#!/usr/bin/env -S node --initial-old-space-size=64
// kiseki-node: the reference storage node (docs/node.md). Argument parsing and output only.
import { Command, InvalidArgumentError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import pino from 'pino';
import { KisekiError } from '../errors.js';
import { runAdmin } from '../node/admin.js';
import { parsePeers } from '../node/cluster.js';
import { NodeFabric } from '../node/fabric-listener.js';
import { BOOTSTRAP_TENANT, isTenantUuid } from '../node/identity.js';
import { NodeServer, type TlsMaterial } from '../node/node-server.js';
import { keepFreedMemory } from '../util/daemon-memory.js';

const TLS_VARS = ['KISEKI_CA_PATH', 'KISEKI_CERT_PATH', 'KISEKI_KEY_PATH'] as const;

function int(name: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}`);
    return n;
  };
}

function tenantArg(v: string): string {
  if (!isTenantUuid(v.toLowerCase())) throw new InvalidArgumentError('must be a tenant UUID');
  return v.toLowerCase();
}

function tlsFromEnv(): TlsMaterial {
  const missing = TLS_VARS.filter((v) => !process.env[v]);
  if (missing.length > 0) {
    throw new Error(`TLS needs ${TLS_VARS.join(', ')} (missing: ${missing.join(', ')}); scripts/make-certs.sh makes dev certificates. ` +
      'Plaintext only with an explicit --insecure.');
  }
  const read = (v: (typeof TLS_VARS)[number]): Buffer => readFileSync(process.env[v]!);
  return { ca: read('KISEKI_CA_PATH'), cert: read('KISEKI_CERT_PATH'), key: read('KISEKI_KEY_PATH') };
}

async function serve(o: {
  dataDir?: string; listen?: string; socket?: string; insecure: boolean; localTenant: string; nodeId: number;
  peers?: string; replicas: number; clusterId: string; orphanGraceMs: number;
  fabricProvider?: string; fabricHost?: string; fabricPort: string; readRepair: boolean;
  bulkStream: boolean; bulkPort: number;
}): Promise<void> {
  if (!o.dataDir) throw new Error('--data-dir DIR is required');
  keepFreedMemory();
  const log = pino({ name: 'kiseki-node', base: { node_id: o.nodeId } }, pino.destination(2));
  const peers = o.peers ? parsePeers(o.peers) : [];
  if (!o.listen && !o.socket && peers.length === 0) throw new Error('give --listen HOST:PORT and/or --socket PATH');
  const tcp = Boolean(o.listen) || peers.length > 0;
  if (o.insecure && tcp) {
    log.warn('!!! --insecure: gRPC over PLAINTEXT TCP, no client authentication; every caller is the local tenant ' +
      `${o.localTenant}. Never use this outside a test machine. !!!`);
    process.stderr.write(`kiseki-node: WARNING: --insecure listener on ${o.listen ?? 'peer address'} has NO TLS and NO authentication\n`);
  }
  const node = await NodeServer.start({
    dataDir: resolve(o.dataDir),
    ...(o.listen ? { listen: o.listen } : {}),
    ...(o.socket ? { socket: resolve(o.socket) } : {}),
    tls: tcp && !o.insecure ? tlsFromEnv() : null,
    insecure: o.insecure,
    localTenant: o.localTenant,
    nodeId: o.nodeId,
    peers,
    replicas: o.replicas,
    clusterId: o.clusterId,
    orphanGraceMs: o.orphanGraceMs,
    readRepair: o.readRepair,
    bulkStream: o.bulkStream,
    bulkPort: o.bulkPort,
    log,
  });
  startFabric(o, node, log);
  // The bulk chunk stream (ADR 0033) follows the same maintenance signals as the fabric listener.
  for (const a of node.bulkAddresses) process.stdout.write(`kiseki-node bulk stream=${a}\n`);
  process.on('SIGUSR1', () => void node.closeBulk().then(() => log.warn('bulk stream closed (SIGUSR1); clients fail over to gRPC')));
  process.on('SIGUSR2', () => void node.openBulk());
  // A bug must cost one call, never the node: log it loudly and keep serving.
  process.on('unhandledRejection', (err) => log.error({ err }, 'BUG: unhandled rejection'));
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    node.stop().then(() => process.exit(0), (err) => { log.error({ err }, 'shutdown failed'); process.exit(1); });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // Handlers before the ready line: whoever waits for it may signal at once.
  process.stdout.write(`kiseki-node ready node_id=${o.nodeId} listen=${node.boundAddress ?? '-'} socket=${o.socket ? resolve(o.socket) : '-'}\n`);
  log.info({ listen: node.boundAddress, socket: o.socket, peers: peers.length }, 'serving');
}

// The libfabric listener (docs/transport.md), when --fabric-provider / KISEKI_FABRIC_PROVIDER is
// given. A provider that cannot be opened is logged and the node serves gRPC only: clients then
// simply see no fabric endpoint in discovery. SIGUSR1 closes the listener, SIGUSR2 reopens it.
function startFabric(o: { fabricProvider?: string; fabricHost?: string; fabricPort: string; listen?: string; nodeId: number },
  node: NodeServer, log: pino.Logger): NodeFabric | null {
  const provider = o.fabricProvider ?? process.env.KISEKI_FABRIC_PROVIDER;
  if (!provider) return null;
  const listenHost = o.listen?.replace(/:\d+$/, '');
  const host = o.fabricHost ?? (listenHost && /^\d+\.\d+\.\d+\.\d+$/.test(listenHost) && listenHost !== '0.0.0.0' ? listenHost : '127.0.0.1');
  const fabric = new NodeFabric({ provider, host, port: o.fabricPort, store: node.chunks, nodeId: o.nodeId });
  const open = (): boolean => {
    try {
      fabric.start();
      const ep = fabric.endpoint!;
      log.info({ provider: ep.provider, host, address: ep.address.toString('hex') }, 'fabric listener up');
      return true;
    } catch (err) {
      log.warn({ err, provider, host }, 'fabric listener unavailable; serving chunks over gRPC only');
      return false;
    }
  };
  if (!open()) return null;
  node.attachFabric(fabric, fabric, () => fabric.stop());
  const ep = fabric.endpoint!;
  process.stdout.write(`kiseki-node fabric provider=${ep.provider} address=${ep.address.toString('hex')}\n`);
  process.on('SIGUSR1', () => {
    fabric.stop();
    log.warn('fabric listener closed (SIGUSR1); clients fail over to gRPC');
  });
  process.on('SIGUSR2', () => void open());
  return fabric;
}

function main(argv: string[]): void {
  const program = new Command('kiseki-node')
    .description('Reference Kiseki storage node: gRPC over mTLS (and a 0600 unix socket), chunks as files, metadata in SQLite.')
    .option('--data-dir <dir>', 'where chunks/ and meta.sqlite live (required)')
    .option('--listen <host:port>', 'gRPC over TCP+TLS (port 0: any free port; printed in the ready line)')
    .option('--socket <path>', 'unix socket, mode 0600, no TLS; every call runs as --local-tenant')
    .option('--insecure', 'plaintext TCP on --listen (every call as --local-tenant); tests only', false)
    .option('--local-tenant <uuid>', 'tenant of socket/--insecure callers', tenantArg, BOOTSTRAP_TENANT)
    .option('--node-id <n>', 'this node id (cluster: must be in --peers)', int('--node-id', 1), 1)
    .option('--peers <list>', 'cluster members incl. this node: id@host:port,id@host:port,…')
    .option('--replicas <r>', 'chunk replication factor R (advertised in discovery)', int('--replicas', 1), 1)
    .option('--read-repair', 'cluster: fetch a chunk this node lacks from its peers when a client asks for it', false)
    .option('--cluster-id <id>', 'cluster name advertised in discovery', 'kiseki-dev')
    .option('--fabric-provider <name>', 'open a libfabric listener with this provider (cxi, verbs, tcp, net, …; default $KISEKI_FABRIC_PROVIDER)')
    .option('--fabric-host <ip>', 'address the fabric listener binds (default: the --listen host, else 127.0.0.1)')
    .option('--fabric-port <port>', 'port of the fabric listener (0: any; reused when it reopens)', '0')
    .option('--no-bulk-stream', 'serve chunks over gRPC only: no bulk stream beside --listen (mTLS) and --socket (<socket>.bulk)')
    .option('--bulk-port <port>', 'TCP port of the mTLS bulk chunk stream (0: any; reused when it reopens)', int('--bulk-port', 0), 0)
    .addOption(new Option('--orphan-grace-ms <ms>', 'keep unlinked inodes this long for open handles').argParser(int('--orphan-grace-ms', 0)).default(600_000))
    .enablePositionalOptions()
    .action(async (o) => serve(o));

  const admin = program.command('admin').description('offline administration of a data directory (safe while the node runs)')
    .requiredOption('--data-dir <dir>', 'the node data directory');
  const run = (c: Parameters<typeof runAdmin>[1]): void => {
    process.stdout.write(`${runAdmin(admin.opts().dataDir, c)}\n`);
  };
  admin.command('rotate-kek').requiredOption('--tenant <uuid>', 'tenant', tenantArg)
    .action((o) => run({ cmd: 'rotate-kek', tenant: o.tenant }));
  admin.command('destroy-kek').description('crypto-shred a tenant (irreversible)').requiredOption('--tenant <uuid>', 'tenant', tenantArg)
    .action((o) => run({ cmd: 'destroy-kek', tenant: o.tenant }));
  admin.command('set-policy').requiredOption('--tenant <uuid>', 'tenant', tenantArg).requiredOption('--file <policy.json>', 'CachePolicy JSON')
    .action((o) => run({ cmd: 'set-policy', tenant: o.tenant, file: o.file }));
  admin.command('set-read-only').requiredOption('--tenant <uuid>', 'tenant', tenantArg).requiredOption('--namespace <id>', 'namespace id')
    .option('--off', 'make it writable again', false)
    .action((o) => run({ cmd: 'set-read-only', tenant: o.tenant, namespace: o.namespace, off: o.off }));
  admin.command('set-dedup').requiredOption('--tenant <uuid>', 'tenant', tenantArg).argument('<mode>', 'isolated | cross')
    .action((mode: string, o) => {
      if (mode !== 'isolated' && mode !== 'cross') throw new InvalidArgumentError('mode must be isolated or cross');
      run({ cmd: 'set-dedup', tenant: o.tenant, mode });
    });

  program.parseAsync(argv).catch((err: unknown) => {
    const code = KisekiError.is(err) ? err.code : 'KSK_ERR_STARTUP';
    process.stderr.write(`kiseki-node: ${(err as Error).message} (${code})\n`);
    process.exit(KisekiError.is(err) && err.kind === 'InvalidArgument' ? 2 : 1);
  });
}

main(process.argv);

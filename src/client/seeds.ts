// Seed addresses: where a client first asks for discovery. Accepted forms, comma separated:
//   host:port   host (port 9100)   [v6addr]:port   [v6addr]   unix:/abs/path   unix:///abs/path
// Sources, first present wins: --data-addr, KISEKI_SEEDS, KISEKI_DATA_ADDR (Kiseki's deployment
// docs use the latter for the same list), else the embedded default (embedded-endpoint.ts).
import { isIP } from 'node:net';
import { isAbsolute } from 'node:path';
import { kerr } from '../errors.js';

export const DEFAULT_PORT = 9100;

export type SeedAddress =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'unix'; path: string };

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function parsePort(text: string, entry: string, source: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) throw kerr('InvalidArgument', `${source}: bad port in '${entry}' (want 1-65535)`);
  return port;
}

/** Parses one entry; `source` names where it came from (e.g. "--data-addr") for the error message. */
export function parseSeed(entry: string, source: string): SeedAddress {
  const e = entry.trim();
  if (e === '') throw kerr('InvalidArgument', `${source}: empty address in the list`);
  if (e.startsWith('unix:')) {
    const path = e.startsWith('unix://') ? e.slice('unix://'.length) : e.slice('unix:'.length);
    if (!isAbsolute(path)) throw kerr('InvalidArgument', `${source}: '${entry}' needs an absolute socket path (unix:/run/kiseki/node.sock)`);
    return { kind: 'unix', path };
  }
  if (e.startsWith('[')) {
    const m = /^\[([^\]]+)\](?::(.*))?$/.exec(e);
    if (m === null || isIP(m[1]!) !== 6) throw kerr('InvalidArgument', `${source}: '${entry}' is not [ipv6]:port`);
    return { kind: 'tcp', host: m[1]!, port: m[2] === undefined ? DEFAULT_PORT : parsePort(m[2], entry, source) };
  }
  if (isIP(e) === 6) throw kerr('InvalidArgument', `${source}: IPv6 addresses need brackets: '[${e}]:${DEFAULT_PORT}'`);
  const colon = e.lastIndexOf(':');
  const host = colon === -1 ? e : e.slice(0, colon);
  const port = colon === -1 ? DEFAULT_PORT : parsePort(e.slice(colon + 1), entry, source);
  if (isIP(host) !== 4 && !HOSTNAME.test(host)) throw kerr('InvalidArgument', `${source}: '${entry}' has no valid host name or IPv4 address`);
  return { kind: 'tcp', host, port };
}

/** Parses a comma-separated list; duplicates are dropped, order kept. */
export function parseSeeds(list: string, source: string): SeedAddress[] {
  const seen = new Set<string>();
  const out: SeedAddress[] = [];
  for (const entry of list.split(',')) {
    const seed = parseSeed(entry, source);
    const key = formatSeed(seed);
    if (!seen.has(key)) {
      seen.add(key);
      out.push(seed);
    }
  }
  return out;
}

/** The canonical text form; also the gRPC target (grpc-js accepts host:port, [v6]:port and unix:/path). */
export function formatSeed(seed: SeedAddress): string {
  if (seed.kind === 'unix') return `unix:${seed.path}`;
  return isIP(seed.host) === 6 ? `[${seed.host}]:${seed.port}` : `${seed.host}:${seed.port}`;
}

export interface SeedChoice {
  seeds: SeedAddress[];
  source: '--data-addr' | 'KISEKI_SEEDS' | 'KISEKI_DATA_ADDR';
}

/** The configured seeds, or null when none are configured (then the embedded default applies). */
export function configuredSeeds(dataAddr: string | undefined, env: NodeJS.ProcessEnv = process.env): SeedChoice | null {
  if (dataAddr !== undefined && dataAddr.trim() !== '') return { seeds: parseSeeds(dataAddr, '--data-addr'), source: '--data-addr' };
  for (const name of ['KISEKI_SEEDS', 'KISEKI_DATA_ADDR'] as const) {
    const v = env[name];
    if (v !== undefined && v.trim() !== '') return { seeds: parseSeeds(v, name), source: name };
  }
  return null;
}

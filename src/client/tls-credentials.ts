// Channel credentials from Kiseki's own TLS variables, the same three the node reads:
// KISEKI_CA_PATH (cluster CA), KISEKI_CERT_PATH + KISEKI_KEY_PATH (this tenant's client certificate,
// whose URI SAN spiffe://cluster/org/<uuid> names the tenant). All three or none.
// Unix sockets carry no TLS (the socket's 0600 mode is the authentication); TCP without TLS only
// when the caller explicitly asks for it (`insecure`).
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ChannelCredentials, credentials, type ChannelOptions } from '@grpc/grpc-js';
import { kerr } from '../errors.js';
import { formatSeed, type SeedAddress } from './seeds.js';

export const TLS_ENV = ['KISEKI_CA_PATH', 'KISEKI_CERT_PATH', 'KISEKI_KEY_PATH'] as const;

export interface TlsFiles {
  caPath: string;
  certPath: string;
  keyPath: string;
}

export interface TlsMaterial {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

/** The three paths from the environment, null when none is set; a partial set is an error. */
export function tlsFilesFromEnv(env: NodeJS.ProcessEnv = process.env): TlsFiles | null {
  const set = TLS_ENV.filter((n) => (env[n] ?? '') !== '');
  if (set.length === 0) return null;
  if (set.length !== TLS_ENV.length) {
    const missing = TLS_ENV.filter((n) => !set.includes(n));
    throw kerr('InvalidArgument', `TLS needs all of ${TLS_ENV.join(', ')}; set ${set.join(', ')} but not ${missing.join(', ')}`);
  }
  return { caPath: env.KISEKI_CA_PATH!, certPath: env.KISEKI_CERT_PATH!, keyPath: env.KISEKI_KEY_PATH!};
}

export async function loadTlsMaterial(files: TlsFiles): Promise<TlsMaterial> {
  const read = async (what: string, path: string) => {
    try {
      return await readFile(path);
    } catch (err) {
      throw kerr('InvalidArgument', `cannot read the ${what} at ${path}: ${(err as Error).message}`, err);
    }
  };
  const settled = await Promise.allSettled([
    read('cluster CA (KISEKI_CA_PATH)', files.caPath),
    read('client certificate (KISEKI_CERT_PATH)', files.certPath),
    read('client key (KISEKI_KEY_PATH)', files.keyPath),
  ]);
  // With several files unreadable, the error names the first in CA, certificate, key order, the same
  // one every time (not whichever read happened to fail first).
  const [ca, cert, key] = settled.map((r) => {
    if (r.status === 'rejected') throw r.reason;
    return r.value;
  }) as [Buffer, Buffer, Buffer];
  checkClientCertificate(ca, cert, files);
  return { ca, cert, key };
}

function pemCertificates(pem: Buffer, what: string): X509Certificate[] {
  const blocks = pem.toString('latin1').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  try {
    return blocks.map((b) => new X509Certificate(b));
  } catch (err) {
    throw kerr('InvalidArgument', `the ${what} is not a valid PEM certificate: ${(err as Error).message}`, err);
  }
}

/**
 * A node refuses an expired or foreign client certificate during the TLS handshake, and the client
 * then only sees "failed to connect", as if the node were down. So the client checks its own
 * certificate first and says what is wrong: outside its validity window, or not issued (directly or
 * through the intermediates in the same file) by the cluster CA it trusts.
 */
export function checkClientCertificate(caPem: Buffer, certPem: Buffer, files: TlsFiles, now: Date = new Date()): void {
  const where = `the client certificate KISEKI_CERT_PATH=${files.certPath}`;
  const cas = pemCertificates(caPem, `cluster CA (KISEKI_CA_PATH=${files.caPath})`);
  const chain = pemCertificates(certPem, `client certificate (KISEKI_CERT_PATH=${files.certPath})`);
  const leaf = chain[0];
  if (leaf === undefined) throw kerr('InvalidArgument', `${where} holds no PEM certificate`);
  if (cas.length === 0) throw kerr('InvalidArgument', `the cluster CA KISEKI_CA_PATH=${files.caPath} holds no PEM certificate`);
  if (now.getTime() > Date.parse(leaf.validTo)) {
    throw kerr('PermissionDenied', `${where} expired on ${leaf.validTo}; the nodes will refuse it: renew it (dev clusters: scripts/make-certs.sh)`);
  }
  if (now.getTime() < Date.parse(leaf.validFrom)) {
    throw kerr('PermissionDenied', `${where} is not valid before ${leaf.validFrom}; check this machine's clock`);
  }
  const issued = (child: X509Certificate, parent: X509Certificate) => child.checkIssued(parent) && child.verify(parent.publicKey);
  for (let cert = leaf, rest = chain.slice(1); ;) {
    if (cas.some((ca) => issued(cert, ca))) return;
    const parent = rest.find((c) => issued(cert, c));
    if (parent === undefined) break;
    cert = parent;
    rest = rest.filter((c) => c !== parent);
  }
  throw kerr('PermissionDenied', `${where} (issuer ${leaf.issuer.replace(/\n/g, ', ')}) is not issued by the cluster CA in KISEKI_CA_PATH=${files.caPath}; the nodes will refuse it: use a certificate from this cluster's CA`);
}

/** How this client authenticates on TCP: mTLS, or plaintext only when asked for by name. */
export type TcpSecurity = { kind: 'mtls'; material: TlsMaterial } | { kind: 'insecure' } | { kind: 'none' };

export async function tcpSecurityFromEnv(env: NodeJS.ProcessEnv, insecure: boolean): Promise<TcpSecurity> {
  const files = tlsFilesFromEnv(env);
  if (files !== null) return { kind: 'mtls', material: await loadTlsMaterial(files) };
  return insecure ? { kind: 'insecure' } : { kind: 'none' };
}

export function credentialsFor(address: SeedAddress, security: TcpSecurity): ChannelCredentials {
  if (address.kind === 'unix') return credentials.createInsecure();
  switch (security.kind) {
    case 'mtls':
      return credentials.createSsl(security.material.ca, security.material.key, security.material.cert);
    case 'insecure':
      return credentials.createInsecure();
    case 'none':
      throw kerr('InvalidArgument', `${formatSeed(address)} is a TCP address and needs TLS: set ${TLS_ENV.join(', ')} (or use a unix: socket)`);
    default: {
      const never: never = security;
      throw new Error(`unknown security ${String(never)}`);
    }
  }
}

const MiB = 1024 * 1024;

/** Chunks are 1–64 MiB plus framing: raise grpc-js's 4 MiB default; keep idle connections alive. */
export const CHANNEL_OPTIONS: Readonly<ChannelOptions> = Object.freeze({
  'grpc.max_receive_message_length': 80 * MiB,
  'grpc.max_send_message_length': 80 * MiB,
  'grpc.keepalive_time_ms': 60_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 0,
  // Our own backoff decides when to retry a node; the channel must not sit in a long reconnect wait.
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 2_000,
});

/** Fails before any dialling when a TCP seed has no way to authenticate (a config error, not retriable). */
export function assertSeedsUsable(seeds: readonly SeedAddress[], security: TcpSecurity): void {
  for (const s of seeds) credentialsFor(s, security);
}

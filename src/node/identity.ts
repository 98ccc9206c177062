// Who is calling. On the TLS listener the caller is whatever the client certificate's URI SAN says
// (never a header the client sends); on the 0600 unix socket and on an --insecure listener every
// call runs as the node's local tenant (filesystem permissions / the operator's explicit choice are
// the authentication there).
import type { PeerCertificate } from 'node:tls';
import { kerr } from '../errors.js';

export type Identity =
  | { readonly kind: 'tenant'; readonly tenant: string }
  | { readonly kind: 'peer'; readonly nodeId: string };

/** Kiseki's bootstrap tenant: the local tenant of the socket and of --insecure listeners. */
export const BOOTSTRAP_TENANT = '00000000-0000-0000-0000-000000000001';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ORG_SAN = /^spiffe:\/\/cluster\/org\/([^/]+)$/;
const FABRIC_SAN = /^spiffe:\/\/cluster\/fabric\/([A-Za-z0-9._-]+)$/;

export function isTenantUuid(s: string): boolean {
  return UUID.test(s);
}

/** The URI SANs of a certificate, from Node's `subjectaltname` string ("URI:a, DNS:b, …"). */
export function uriSans(cert: Pick<PeerCertificate, 'subjectaltname'>): string[] {
  const san = cert.subjectaltname ?? '';
  return san.split(', ').filter((s) => s.startsWith('URI:')).map((s) => s.slice(4));
}

/**
 * The identity a verified client certificate carries. Exactly one kiseki SPIFFE URI must be present:
 * `spiffe://cluster/org/<uuid>` (tenant) or `spiffe://cluster/fabric/<node-id>` (peer node).
 */
export function identityFromCertificate(cert: Pick<PeerCertificate, 'subjectaltname'>): Identity {
  const found: Identity[] = [];
  for (const uri of uriSans(cert)) {
    const org = ORG_SAN.exec(uri);
    if (org) {
      const tenant = org[1]!.toLowerCase();
      if (!isTenantUuid(tenant)) throw kerr('PermissionDenied', `certificate URI SAN ${uri} does not name a tenant UUID`);
      found.push({ kind: 'tenant', tenant });
      continue;
    }
    const fabric = FABRIC_SAN.exec(uri);
    if (fabric) found.push({ kind: 'peer', nodeId: fabric[1]! });
  }
  if (found.length !== 1) {
    throw kerr('PermissionDenied', found.length === 0
      ? 'client certificate carries no URI SAN spiffe://cluster/org/<uuid> or spiffe://cluster/fabric/<node-id>'
      : 'client certificate carries more than one kiseki SPIFFE identity');
  }
  return found[0]!;
}

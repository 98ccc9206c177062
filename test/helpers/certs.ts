// Dev certificates for tests, made by scripts/make-certs.sh (real openssl, real EC P-256 keys).
//   const certs = await makeCerts(dir, { tenants: [A, B], nodes: [1, 2, 3] });
//   startNode({ dataDir, tls: { certs, nodeId: 1 } }); clientCredentials(certs, certs.tenant(A))
import * as grpc from '@grpc/grpc-js';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const SCRIPT = resolve(__dirname, '../../../scripts/make-certs.sh');

export interface CertPair { readonly cert: string; readonly key: string }

export interface CertSet {
  readonly dir: string;
  /** Cluster CA certificate path. */
  readonly ca: string;
  node(id: number | string): CertPair;
  tenant(uuid: string): CertPair;
  /** The first tenant's identity with a validity window in 2020. */
  readonly expired: CertPair;
  /** The first tenant's identity signed by another CA. */
  readonly rogue: CertPair;
  readonly rogueCa: string;
  /** KISEKI_CA_PATH / KISEKI_CERT_PATH / KISEKI_KEY_PATH for node `id`. */
  nodeEnv(id: number | string): Record<string, string>;
}

export async function makeCerts(dir: string, opts: { tenants: string[]; nodes?: (number | string)[] }): Promise<CertSet> {
  const nodes = opts.nodes ?? [1];
  const args = [dir, ...opts.tenants.flatMap((t) => ['--tenant', t]), ...nodes.flatMap((n) => ['--node', String(n)])];
  await promisify(execFile)(SCRIPT, args);
  const pair = (name: string): CertPair => ({ cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) });
  const first = opts.tenants[0]!;
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    node: (id) => pair(`node-${id}`),
    tenant: (uuid) => pair(`tenant-${uuid}`),
    expired: pair(`expired-${first}`),
    rogue: pair(`rogue-${first}`),
    rogueCa: join(dir, 'rogue-ca.pem'),
    nodeEnv: (id) => ({ KISEKI_CA_PATH: join(dir, 'ca.pem'), KISEKI_CERT_PATH: join(dir, `node-${id}.pem`), KISEKI_KEY_PATH: join(dir, `node-${id}.key`) }),
  };
}

/** grpc-js channel credentials presenting `pair`, trusting `ca` (default: the cluster CA). */
export function clientCredentials(certs: CertSet, pair: CertPair, ca = certs.ca): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(readFileSync(ca), readFileSync(pair.key), readFileSync(pair.cert));
}

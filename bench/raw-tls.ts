// The peer both chunk-path benches compare against: one Node TLS 1.3 socket on loopback streaming
// `mib` MiB from a server to a client in this process, with the node's dev certificate.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';

export interface RawTlsRun {
  bytes: number;
  ms: number;
  /** CPU of this process (both ends), user + system, in ms. */
  cpuMs: number;
}

export async function rawTlsStream(certDir: string, mib: number): Promise<RawTlsRun> {
  const opts = { key: readFileSync(join(certDir, 'node-1.key')), cert: readFileSync(join(certDir, 'node-1.pem')) };
  const block = randomBytes(1024 * 1024);
  const total = mib * 1024 * 1024;
  const server = tls.createServer({ ...opts, minVersion: 'TLSv1.3' }, (s) => {
    let sent = 0;
    const pump = (): void => {
      while (sent < total) {
        sent += block.length;
        if (!s.write(block)) { s.once('drain', pump); return; }
      }
      s.end();
    };
    pump();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await new Promise<void>((resolve, reject) => {
    let got = 0;
    const c = tls.connect({ port, host: '127.0.0.1', ca: readFileSync(join(certDir, 'ca.pem')), servername: 'localhost' });
    c.on('data', (d: Buffer) => { got += d.length; });
    c.on('end', () => (got === total ? resolve() : reject(new Error(`raw TLS got ${got} of ${total}`))));
    c.on('error', reject);
  });
  const ms = performance.now() - t0;
  const own = process.cpuUsage(c0);
  server.close();
  return { bytes: total, ms, cpuMs: (own.user + own.system) / 1000 };
}

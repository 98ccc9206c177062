// The mount's Prometheus endpoint (-o metrics_addr=HOST:PORT): GET /metrics serves a prom-client
// registry (the cache's cache_* metrics and whatever else the mount registers in it). Plain HTTP,
// meant for loopback or a management network; nothing else is served.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { kerr } from '../errors.js';

export interface MetricsEndpoint {
  /** host:port actually bound (port 0 resolved). */
  readonly address: string;
  close(): Promise<void>;
}

/** "127.0.0.1:9464", "[::1]:0", ":9464" (all interfaces) → host and port. */
export function parseMetricsAddr(addr: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(addr.trim());
  const port = m === null ? NaN : Number(m[3]);
  if (m === null || port > 65535) throw kerr('InvalidArgument', `metrics_addr=${JSON.stringify(addr)} must be HOST:PORT, [IPv6]:PORT or :PORT`);
  return { host: m[1] ?? (m[2] === '' ? '0.0.0.0' : m[2]!), port };
}

export async function startMetricsEndpoint(addr: string, registry: Registry): Promise<MetricsEndpoint> {
  const { host, port } = parseMetricsAddr(addr);
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics is served here\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(kerr('InvalidArgument', `cannot serve metrics on ${addr}: ${err.message}`, err)));
    server.listen(port, host, () => resolve());
  });
  server.unref();
  const a = server.address() as AddressInfo;
  return {
    address: a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

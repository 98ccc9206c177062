// Server side of bench/transport.bench.ts, run as a child process so client and server share the
// two cores the way two real processes would. argv: <tls|grpc|bulk> <certDir> <bytes>
//   tls, grpc  print the listening port on stdout, then stream `bytes` to every client that connects
//   bulk       kiseki-node's BulkListener (mTLS, KSB1) over an in-memory ChunkStore: the bulk stream
//              without the node's disk/page-cache reads (certDir = a makeCerts dir with node-1)
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import pino from 'pino';
import { BulkListener } from '../src/node/bulk-listener.js';
import { MemoryChunkStore } from '../test/helpers/fabric-node-child.js';

const [mode, certDir, total] = process.argv.slice(2) as [string, string, string];
const key = mode === 'bulk' ? Buffer.alloc(0) : readFileSync(path.join(certDir, 'key.pem'));
const cert = mode === 'bulk' ? Buffer.alloc(0) : readFileSync(path.join(certDir, 'cert.pem'));
const bytes = Number(total);
const FRAME = 1 << 20;
const frame = Buffer.alloc(FRAME, 0x5a);

if (mode === 'bulk') {
  const listener = new BulkListener({
    spec: { kind: 'tls', host: '127.0.0.1', port: 0, tls: {
      ca: readFileSync(path.join(certDir, 'ca.pem')), cert: readFileSync(path.join(certDir, 'node-1.pem')), key: readFileSync(path.join(certDir, 'node-1.key')),
    } },
    store: new MemoryChunkStore(),
    log: pino({ level: 'warn' }),
  });
  void listener.start().then(() => console.log(listener.address!.split(':').pop()));
} else if (mode === 'tls') {
  const srv = tls.createServer({ key, cert, minVersion: 'TLSv1.3' }, (s) => {
    let sent = 0;
    const pump = (): void => {
      while (sent < bytes) {
        sent += FRAME;
        if (!s.write(frame)) return void s.once('drain', pump);
      }
      s.end();
    };
    pump();
  });
  srv.listen(0, '127.0.0.1', () => console.log((srv.address() as { port: number }).port));
} else {
  const server = new grpc.Server({ 'grpc.max_send_message_length': 8 << 20 });
  const service: grpc.ServiceDefinition = {
    Stream: {
      path: '/bench.Bench/Stream',
      requestStream: false,
      responseStream: true,
      requestSerialize: (b: Buffer) => b,
      requestDeserialize: (b: Buffer) => b,
      responseSerialize: (b: Buffer) => b,
      responseDeserialize: (b: Buffer) => b,
    },
  };
  server.addService(service, {
    Stream: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      let sent = 0;
      const pump = (): void => {
        while (sent < bytes) {
          sent += FRAME;
          if (!call.write(frame)) return void call.once('drain', pump);
        }
        call.end();
      };
      pump();
    },
  });
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createSsl(null, [{ private_key: key, cert_chain: cert }], false), (err, port) => {
    if (err) throw err;
    console.log(port);
  });
}
process.on('disconnect', () => process.exit(0));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();

// Server side of bench/transport.bench.ts, run as a child process so client and server share the
// two cores the way two real processes would. argv: <tls|grpc> <certDir> <bytes>
// Prints the listening port on stdout, then streams `bytes` to every client that connects.
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';

const [mode, certDir, total] = process.argv.slice(2) as [string, string, string];
const key = readFileSync(path.join(certDir, 'key.pem'));
const cert = readFileSync(path.join(certDir, 'cert.pem'));
const bytes = Number(total);
const FRAME = 1 << 20;
const frame = Buffer.alloc(FRAME, 0x5a);

if (mode === 'tls') {
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

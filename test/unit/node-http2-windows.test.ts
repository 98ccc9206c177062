import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { NODE_RECEIVE_WINDOW_BYTES, widenReceiveWindows } from '../../src/node/http2-windows.js';

/** The SETTINGS and connection window a plain HTTP/2 client sees from a grpc-js server. */
async function windowsSeen(widen: boolean): Promise<{ initialWindowSize: number; connectionWindow: number }> {
  const server = new grpc.Server();
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  if (widen) widenReceiveWindows(server);
  const session = http2.connect(`http://127.0.0.1:${port}`);
  try {
    await new Promise<void>((resolve, reject) => { session.once('remoteSettings', () => resolve()); session.once('error', reject); });
    // The WINDOW_UPDATE follows the SETTINGS frame on the same connection: give it a turn to arrive.
    const deadline = Date.now() + 2000;
    while (widen && session.state.remoteWindowSize! < NODE_RECEIVE_WINDOW_BYTES && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return { initialWindowSize: session.remoteSettings.initialWindowSize!, connectionWindow: session.state.remoteWindowSize! };
  } finally {
    session.close();
    server.forceShutdown();
  }
}

test('grpc-js servers advertise 64 KiB windows unless widened; widenReceiveWindows sets stream and connection windows', async () => {
  const plain = await windowsSeen(false);
  assert.equal(plain.initialWindowSize, 65535);
  const wide = await windowsSeen(true);
  assert.equal(wide.initialWindowSize, NODE_RECEIVE_WINDOW_BYTES);
  assert.equal(wide.connectionWindow, NODE_RECEIVE_WINDOW_BYTES);
});

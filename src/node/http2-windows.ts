// Receive windows of the node's HTTP/2 sessions. grpc-js clients take 'grpc-node.flow_control_window',
// its servers take no such option: every accepted session starts at HTTP/2's 64 KiB windows, so a
// 4 MiB chunk PUT waits for 64 WINDOW_UPDATE round trips through both event loops (the PUT path ran
// at 50–80 MB/s with the node half idle). This widens each accepted session's connection and stream
// windows, which bounds memory per session at `bytes` plus grpc-js's own message limit.
import type * as grpc from '@grpc/grpc-js';
import type { Http2Server, Http2Session } from 'node:http2';

/** Connection and per-stream receive window of every session the node accepts. */
export const NODE_RECEIVE_WINDOW_BYTES = 16 * 1024 * 1024;

/** Call after bindAsync: widens the windows of every session `server`'s listeners accept from now on. */
export function widenReceiveWindows(server: grpc.Server, bytes = NODE_RECEIVE_WINDOW_BYTES): void {
  // grpc-js keeps its http2 listeners in a private map; fail loudly if an upgrade removes it.
  const listeners = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(listeners instanceof Map)) throw new Error('@grpc/grpc-js no longer exposes Server.http2Servers: update src/node/http2-windows.ts');
  for (const http2Server of (listeners as Map<Http2Server, unknown>).keys()) {
    http2Server.on('session', (session: Http2Session) => widen(session, bytes));
  }
}

function widen(session: Http2Session, bytes: number): void {
  try {
    session.setLocalWindowSize(bytes);
    session.settings({ initialWindowSize: bytes });
  } catch {
    // A session torn down before its preface: nothing to widen.
  }
}

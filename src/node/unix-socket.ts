// Unix sockets the node serves (the gRPC socket and the bulk stream's): refuse one a live process
// answers on, remove a stale file a crash left behind.
import { lstatSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';

/** Whether something accepts connections on the unix socket `path` (a live node, not a stale file). */
export function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

export function removeStaleSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // absent: nothing to remove
  }
}

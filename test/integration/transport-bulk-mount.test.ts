// The bulk chunk stream under a real FUSE mount (ADR 0033): kiseki-node on a unix socket (the
// embedded layout: gRPC socket + `<socket>.bulk`), kiseki-client-fuse with no transport override. A
// file written through the mount and read back after a remount (bytes from the node, not the cache)
// has the same SHA-256; `status` and /metrics name the stream; when the node closes the stream
// (SIGUSR1) under the running mount, the next read fails over to gRPC on the same socket, no error.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { freePort, startNode } from '../helpers/node-process.js';
import { bash, metricValue, mountStatus, startMountHarness, type MountHarness } from './mount-harness.js';

let h: MountHarness;

before(async () => {
  h = await startMountHarness({ node: false });
  h.node = await startNode({ dataDir: join(h.dir, 'node'), socket: true });
  delete h.env.KISEKI_TRANSPORT;
});

after(async () => {
  await h.close();
});

const statusOf = (path: string) => mountStatus(path, h.env);

test('a mount moves its chunks over the node\'s bulk stream, and over gRPC when the stream closes mid-mount', async () => {
  assert.deepEqual(h.node!.bulk, [`unix:${h.node!.socketPath}.bulk`]);
  const srcs = [join(h.dir, 'a.bin'), join(h.dir, 'b.bin')];
  for (const src of srcs) await bash(`head -c ${13 * 1024 * 1024 + 321} /dev/urandom > ${src}`);
  const sums = await Promise.all(srcs.map(async (src) => (await bash(`sha256sum < ${src}`)).split(' ')[0]));

  const wPort = await freePort();
  const w = await h.mount('w', ['-o', `metrics_addr=127.0.0.1:${wPort}`]);
  await bash(`cp ${srcs[0]} ${w.path}/a.bin && cp ${srcs[1]} ${w.path}/b.bin && sync`);
  assert.ok((await metricValue(wPort, /kiseki_transport_bytes_total\{transport="stream",direction="out"\} (\d+)/)) >= 26 * 1024 * 1024, 'writes went over the stream');
  await w.unmount();

  const port = await freePort();
  const r = await h.mount('r', ['-o', `metrics_addr=127.0.0.1:${port}`]);
  assert.equal((await bash(`sha256sum < ${r.path}/a.bin`)).split(' ')[0], sums[0]);
  const st = await statusOf(r.path);
  assert.equal(st.transports[0]!.active, 'stream');
  assert.deepEqual(st.transports[0]!.transports.map((t) => t.name), ['stream', 'tcp-tls']);
  assert.ok((await metricValue(port, /kiseki_transport_bytes_total\{transport="stream",direction="in"\} (\d+)/)) >= 13 * 1024 * 1024);

  process.kill(h.node!.pid, 'SIGUSR1'); // the node's bulk stream goes away; its gRPC socket stays
  assert.equal((await bash(`sha256sum < ${r.path}/b.bin`)).split(' ')[0], sums[1], 'the read fails over, the workload sees no error');
  const st2 = await statusOf(r.path);
  assert.equal(st2.transports[0]!.active, 'tcp-tls');
  assert.ok(st2.transports[0]!.failovers >= 1);
  assert.ok((await metricValue(port, /kiseki_transport_failovers_total\{node="\d+",from="stream",to="tcp-tls"\} (\d+)/)) >= 1);
  await r.unmount();
  process.kill(h.node!.pid, 'SIGUSR2');
});

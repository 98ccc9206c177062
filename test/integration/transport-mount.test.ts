// The fabric path under a real FUSE mount: kiseki-node with a libfabric listener (tcp provider), a
// kiseki-client-fuse daemon with KISEKI_TRANSPORT=fabric-tcp. A file written through the mount and
// read back after a remount (so the bytes come from the node, not this mount's cache) has the same
// SHA-256; /metrics counts the bytes on fabric-tcp and `status` names the active transport. When the
// node's fabric listener closes (SIGUSR1) under a running mount, its next read fails over to the
// node's gRPC path (the node's unix socket here; TCP+TLS on a cluster) and `status` reports it.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { freePort, startNode } from '../helpers/node-process.js';
import { bash, metricValue, mountStatus, startMountHarness, type MountHarness } from './mount-harness.js';

let h: MountHarness;

before(async () => {
  h = await startMountHarness({ node: false });
  h.node = await startNode({ dataDir: join(h.dir, 'node'), socket: true, args: ['--fabric-provider', 'tcp'] });
  Object.assign(h.env, { KISEKI_TRANSPORT: 'fabric-tcp', KISEKI_FABRIC_PROVIDER: 'tcp', KISEKI_FABRIC_TIMEOUT_MS: '1000' });
});

after(async () => {
  await h.close();
});

const statusOf = (path: string) => mountStatus(path, h.env);

test('files written and read back through a mount move over libfabric, and over gRPC when the fabric closes mid-mount', async () => {
  const srcs = [join(h.dir, 'a.bin'), join(h.dir, 'b.bin')];
  for (const src of srcs) await bash(`head -c ${13 * 1024 * 1024 + 123} /dev/urandom > ${src}`);
  const sums = await Promise.all(srcs.map(async (src) => (await bash(`sha256sum < ${src}`)).split(' ')[0]));

  const w = await h.mount('w');
  await bash(`cp ${srcs[0]} ${w.path}/a.bin && cp ${srcs[1]} ${w.path}/b.bin`);
  await w.unmount();

  // a fresh mount has an empty cache: its reads come from the node
  const port = await freePort();
  const r = await h.mount('r', ['-o', `metrics_addr=127.0.0.1:${port}`]);
  assert.equal((await bash(`sha256sum < ${r.path}/a.bin`)).split(' ')[0], sums[0]);
  const st = await statusOf(r.path);
  assert.equal(st.transports[0]!.active, 'fabric-tcp');
  assert.deepEqual(st.transports[0]!.transports.map((t) => t.name), ['fabric-tcp', 'tcp-tls']);
  assert.ok((await metricValue(port, /kiseki_transport_bytes_total\{transport="fabric-tcp",direction="in"\} (\d+)/)) >= 13 * 1024 * 1024);

  process.kill(h.node!.pid, 'SIGUSR1'); // the node's fabric listener goes away; its gRPC stays
  assert.equal((await bash(`sha256sum < ${r.path}/b.bin`)).split(' ')[0], sums[1], 'the read fails over, the workload sees no error');
  const st2 = await statusOf(r.path);
  assert.equal(st2.transports[0]!.active, 'tcp-tls');
  assert.ok(st2.transports[0]!.failovers >= 1);
  assert.ok((await metricValue(port, /kiseki_transport_failovers_total\{node="\d+",from="fabric-tcp",to="tcp-tls"\} (\d+)/)) >= 1);
  await r.unmount();

  // discovery now advertises no fabric endpoint: a new mount uses gRPC alone
  const f = await h.mount('f');
  assert.equal((await bash(`sha256sum < ${f.path}/a.bin`)).split(' ')[0], sums[0]);
  assert.deepEqual((await statusOf(f.path)).transports[0]!.transports.map((t) => t.name), ['tcp-tls']);
  await f.unmount();
});

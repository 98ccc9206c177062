// `kiseki-client discover` as a user runs it: a separate process, against a real TLS node, and with
// no configuration at all (the embedded node on this user's well-known socket).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Session } from '../../src/client/session.js';
import { makeCerts, type CertSet } from '../helpers/certs.js';
import { freePort, startNode, type NodeProcess } from '../helpers/node-process.js';

const CLI = resolve(__dirname, '../../src/cli/kiseki-client.js');
const TENANT = '0f1e2d3c-4b5a-4987-a6b5-c4d3e2f1a0b9';
const run = promisify(execFile);
let dir: string;
let certs: CertSet;
let node: NodeProcess;
const embeddedPids: number[] = [];

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: dir, ...extra };
  return env;
}

async function discover(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, 'discover', ...args], { env, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kcli-'));
  certs = await makeCerts(join(dir, 'pki'), { tenants: [TENANT], nodes: [1] });
  node = await startNode({ dataDir: join(dir, 'node'), tls: { certs, nodeId: 1 } });
});

after(async () => {
  for (const pid of embeddedPids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  await node?.stop();
  await rm(dir, { recursive: true, force: true });
});

test('discover --json against a real TLS node: nodes, leader, transports, replicas, TTL, auth, policy from rpc', async () => {
  const env = cleanEnv({ KISEKI_CA_PATH: certs.ca, KISEKI_CERT_PATH: certs.tenant(TENANT).cert, KISEKI_KEY_PATH: certs.tenant(TENANT).key });
  const r = await discover(['--json', '--data-addr', node.address!], env);
  assert.equal(r.code, 0, r.stderr);
  const d = JSON.parse(r.stdout);
  assert.equal(d.seed_source, '--data-addr');
  assert.equal(d.answered_by, node.address);
  assert.equal(d.embedded, null);
  assert.equal(d.nodes.length, 1);
  assert.equal(d.leader.node_id, 1);
  assert.equal(d.leader.address, node.address);
  // the node's bulk chunk streams (ADR 0033) first, gRPC last
  assert.deepEqual(d.nodes[0].endpoints.at(-1), { kind: 'tcp-tls', address: node.address, provider: '' });
  assert.deepEqual(d.nodes[0].endpoints.slice(0, -1).map((e: { kind: string }) => e.kind), node.bulk.map(() => 'stream'));
  assert.ok(d.ttl_ms > 0);
  assert.equal(d.replicas, 1);
  assert.equal(d.auth_requirements.mtls_required, true);
  assert.equal(d.cache_policy.source, 'rpc');
  assert.equal(typeof d.cache_policy.policy.max_cache_bytes, 'number');

  const text = await discover(['--data-addr', node.address!], env);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`metadata leader: node 1 at ${node.address!.replace(/\./g, '\\.')}`));
  assert.match(text.stdout, /cache policy \(from rpc\):/);
});

test('discover with no seed reachable: exit 75 and a message naming the seed', async () => {
  const port = await freePort();
  const r = await discover(['--data-addr', `127.0.0.1:${port}`, '--insecure'], cleanEnv({}));
  assert.equal(r.code, 75);
  assert.match(r.stderr, new RegExp(`no seeds reachable: tried 127\\.0\\.0\\.1:${port}`));
  assert.match(r.stderr, /KSK_ERR_NO_SEEDS_REACHABLE/);
});

test('discover with a bad --data-addr: exit 2 naming the entry', async () => {
  const r = await discover(['--data-addr', 'node1:99999'], cleanEnv({}));
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--data-addr: bad port in 'node1:99999'/);
});

test('discover with no configuration starts the embedded node on the well-known socket, then reuses it', async () => {
  const runtime = join(dir, 'run');
  const data = join(dir, 'data');
  const env = cleanEnv({ XDG_RUNTIME_DIR: runtime, XDG_DATA_HOME: data });
  const first = await discover(['--json'], env);
  assert.equal(first.code, 0, first.stderr);
  const a = JSON.parse(first.stdout);
  if (a.embedded?.pid) embeddedPids.push(a.embedded.pid);
  const socket = join(runtime, 'kiseki', 'node.sock');
  assert.equal(a.seed_source, 'embedded default');
  assert.deepEqual(a.seeds, [`unix:${socket}`]);
  assert.equal(a.embedded.socket, socket);
  assert.equal(a.embedded.started, true);
  assert.equal(a.leader.address, `unix:${socket}`);
  assert.deepEqual(a.nodes[0].endpoints.map((e: { kind: string; address: string }) => [e.kind, e.address]), [['stream', `unix:${socket}.bulk`], ['unix', `unix:${socket}`]]);
  assert.equal(a.cache_policy.source, 'rpc');
  assert.ok((await stat(socket)).isSocket());
  assert.equal((await stat(socket)).mode & 0o777, 0o600);
  assert.equal(Number((await readFile(join(runtime, 'kiseki', 'node.pid'), 'utf8')).trim()), a.embedded.pid);
  assert.ok((await stat(join(data, 'kiseki', 'node'))).isDirectory(), 'data under XDG_DATA_HOME');

  const second = await discover(['--json'], env);
  assert.equal(second.code, 0, second.stderr);
  const b = JSON.parse(second.stdout);
  assert.equal(b.embedded.started, false, 'the running node is reused');
  assert.equal(b.embedded.pid, a.embedded.pid);
});

test('session: with no seeds configured, Session.open reuses the embedded node over its unix socket', async () => {
  const env = cleanEnv({ XDG_RUNTIME_DIR: join(dir, 'run'), XDG_DATA_HOME: join(dir, 'data') });
  const s = await Session.open({ env });
  try {
    assert.equal(s.state, 'ready');
    assert.equal(s.embedded?.started, false, 'the node the CLI started is reused');
    assert.deepEqual(s.seeds, [{ kind: 'unix', path: join(dir, 'run', 'kiseki', 'node.sock') }]);
    assert.equal(s.keys.tenantId, '00000000-0000-0000-0000-000000000001', 'socket callers are the local tenant');
    const ns = await s.namespace.openNamespace({ namespaceId: { value: 'embedded' }, create: true, defaultChunkSize: 0 });
    assert.equal(ns.root?.ino, 1);
  } finally {
    await s.close();
  }
});

test('discover: two commands racing to start the embedded node start exactly one', async () => {
  const env = cleanEnv({ XDG_RUNTIME_DIR: join(dir, 'race-run'), XDG_DATA_HOME: join(dir, 'race-data') });
  const [a, b] = await Promise.all([discover(['--json'], env), discover(['--json'], env)]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  const ja = JSON.parse(a.stdout);
  const jb = JSON.parse(b.stdout);
  for (const pid of new Set([ja.embedded.pid, jb.embedded.pid])) if (pid) embeddedPids.push(pid);
  assert.deepEqual([ja.embedded.started, jb.embedded.started].sort(), [false, true]);
  assert.equal(ja.embedded.pid, jb.embedded.pid);
});

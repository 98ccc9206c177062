// The kiseki-node command line: refusals with clear messages, the loud --insecure mode, clean SIGTERM.
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { startNode } from '../helpers/node-process.js';
import { nodeRpc } from '../helpers/node-rpc.js';

const BIN = resolve(__dirname, '../../src/cli/kiseki-node.js');
let dir: string;

before(() => { dir = mkdtempSync(join(tmpdir(), 'kiseki-node-cli-')); });
after(() => rmSync(dir, { recursive: true, force: true }));

const run = (args: string[], env: Record<string, string> = {}) => {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KISEKI_')));
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...clean, ...env }, timeout: 20_000 });
};

test('a TCP listener without the three KISEKI_* TLS variables and without --insecure refuses to start, naming them', () => {
  const r = run(['--data-dir', join(dir, 'x'), '--listen', '127.0.0.1:0'], { KISEKI_CA_PATH: '/nonexistent' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /KISEKI_CERT_PATH, KISEKI_KEY_PATH/);
  assert.match(r.stderr, /--insecure/);
  assert.equal(r.stdout, '', 'no ready line');
});

test('missing --data-dir, no listener, a malformed --peers and --node-id outside --peers are refused', () => {
  assert.match(run(['--socket', join(dir, 's.sock')]).stderr, /--data-dir/);
  assert.match(run(['--data-dir', join(dir, 'y')]).stderr, /--listen .*--socket/);
  const peers = run(['--data-dir', join(dir, 'z'), '--insecure', '--peers', '1@nowhere']);
  assert.equal(peers.status, 2);
  assert.match(peers.stderr, /<node-id>@<host>:<port>/);
  assert.match(run(['--data-dir', join(dir, 'w'), '--insecure', '--node-id', '4', '--peers', '1@127.0.0.1:1']).stderr, /--node-id 4 is not among --peers/);
});

test('a second node on a live socket refuses to start; a stale socket file left by kill -9 is replaced', async () => {
  const sock = join(dir, 'shared.sock');
  const first = await startNode({ dataDir: join(dir, 'first'), socket: sock });
  try {
    const second = run(['--data-dir', join(dir, 'second'), '--socket', sock]);
    assert.notEqual(second.status, 0);
    assert.match(second.stderr, /already serves/);
    const r = nodeRpc(`unix:${sock}`, grpc.credentials.createInsecure());
    try {
      assert.equal((await r.discovery('discover', {})).nodes.length, 1, 'the first node still answers');
    } finally {
      r.close();
    }
  } finally {
    await first.kill9();
  }
  assert.equal(existsSync(sock), true, 'kill -9 leaves the socket file');
  const again = await startNode({ dataDir: join(dir, 'first'), socket: sock });
  assert.equal(await again.stop(), 0);
});

test('--insecure warns loudly, serves plaintext TCP as the local tenant, and SIGTERM exits 0 removing the socket', async () => {
  const node = await startNode({ dataDir: join(dir, 'insecure'), insecure: true, socket: true });
  const r = nodeRpc(node.address!, grpc.credentials.createInsecure());
  try {
    assert.match(node.stderr(), /WARNING: --insecure listener .* NO TLS and NO authentication/);
    assert.equal((await r.keys('fetchTenantKeys', {})).tenantId!.value, '00000000-0000-0000-0000-000000000001');
  } finally {
    r.close();
  }
  assert.equal(await node.stop(), 0);
  assert.equal(existsSync(node.socketPath!), false);
});

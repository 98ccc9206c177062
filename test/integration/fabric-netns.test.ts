// The libfabric chunk path across two network namespaces joined by a veth pair that this test
// creates (addresses exist only inside its own namespaces): the listener runs in one namespace, a
// client process in the other; chunks move both ways and come back checked against their SHA-256.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startFabricNode, type FabricNode } from '../helpers/fabric-node.js';

const n = 10 + (process.pid % 240);
const nsA = `ksk-${process.pid}-a`;
const nsB = `ksk-${process.pid}-b`;
const ipA = `10.213.${n}.1`;
const ipB = `10.213.${n}.2`;

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

function canNetns(): string | null {
  if (process.getuid?.() !== 0) return 'needs root for ip netns';
  try {
    execFileSync('ip', ['-V'], { stdio: 'pipe' });
  } catch {
    return 'iproute2 is not installed';
  }
  return null;
}

const skip = canNetns();

describe('fabric chunk path across two network namespaces', { skip: skip ?? false }, () => {
  let dir: string;
  const nodes: FabricNode[] = [];

  before(() => {
    ip('netns', 'add', nsA);
    ip('netns', 'add', nsB);
    ip('link', 'add', `kska${process.pid % 100000}`, 'type', 'veth', 'peer', 'name', `kskb${process.pid % 100000}`);
    ip('link', 'set', `kska${process.pid % 100000}`, 'netns', nsA);
    ip('link', 'set', `kskb${process.pid % 100000}`, 'netns', nsB);
    ip('-n', nsA, 'addr', 'add', `${ipA}/24`, 'dev', `kska${process.pid % 100000}`);
    ip('-n', nsB, 'addr', 'add', `${ipB}/24`, 'dev', `kskb${process.pid % 100000}`);
    for (const [ns, dev] of [[nsA, `kska${process.pid % 100000}`], [nsB, `kskb${process.pid % 100000}`]] as const) {
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'link', 'set', dev, 'up');
    }
    dir = mkdtempSync(path.join(tmpdir(), 'ksk-fabric-netns-'));
  });

  after(async () => {
    for (const node of nodes) await node.stop();
    for (const ns of [nsA, nsB]) {
      try {
        ip('netns', 'del', ns); // deleting a namespace deletes its end of the veth, and so the pair
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  for (const provider of ['tcp', 'net']) {
    test(`moves chunks with checksums over ${provider} from ${ipB} to a listener on ${ipA}`, async () => {
      const node = await startFabricNode({ provider, host: ipA, dir: path.join(dir, provider), netns: nsA });
      nodes.push(node);
      const client = spawn('ip', ['netns', 'exec', nsB, process.execPath, path.join(__dirname, '../helpers/fabric-client-child.js')], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      const result = await new Promise<{ error: string | null; bytes: number }>((resolve, reject) => {
        client.on('message', (m: { op: string; provider: string; error: string | null; bytes: number }) => {
          if (m.op === 'session-request') {
            node.openSession({ provider: m.provider, clientFabricAddress: Buffer.alloc(0) }).then(
              (g) => client.send({ op: 'session', token: g.token.toString('hex'), address: g.nodeFabricAddress.toString('hex'), provider: g.provider }),
              reject,
            );
          }
          if (m.op === 'result') resolve(m);
        });
        client.once('exit', (code) => reject(new Error(`client exited with ${code} before a result`)));
        client.send({ op: 'run', provider, nodeAddress: node.address.toString('hex'), count: 12 });
      });
      await new Promise((r) => (client.exitCode === null ? client.once('exit', r) : r(null)));
      assert.equal(result.error, null);
      assert.ok(result.bytes > 8 << 20, `moved ${result.bytes} bytes`);
      // the node's fabric address really is the namespace's veth address, not loopback
      assert.equal(`${node.address[4]}.${node.address[5]}.${node.address[6]}.${node.address[7]}`, ipA);
    });
  }
});

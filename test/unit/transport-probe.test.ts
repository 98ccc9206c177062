// Transport negotiation: the real native probe on this machine, the overrides, and the fallback to
// tcp-tls with a reason when libfabric cannot be loaded — both via KISEKI_FABRIC_LIB and for real, by
// hiding the installed library in a private mount namespace.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { KisekiError } from '../../src/errors.js';
import { probeFacts } from '../../src/transport/fabric-binding.js';
import { decide, probeTransports, type TransportDecision } from '../../src/transport/transport-probe.js';

const cli = path.join(__dirname, '../../src/cli/kiseki-client.js');

function probeCli(env: NodeJS.ProcessEnv, wrap: string[] = []): TransportDecision {
  const argv = [...wrap, process.execPath, cli, 'transport', 'probe', '--json'];
  const r = spawnSync(argv[0]!, argv.slice(1), { env: { ...process.env, ...env }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as TransportDecision;
}

test('the real probe on this machine reports every transport with a reason and timing', async () => {
  const facts = await probeFacts('tcp');
  const d = decide(facts, {});
  assert.deepEqual(d.candidates.map((c) => c.transport), ['cxi', 'verbs', 'fabric-tcp', 'tcp-tls']);
  for (const c of d.candidates) {
    assert.ok(c.reason.length > 10, `${c.transport} has a reason`);
    assert.ok(c.ms >= 0);
  }
  assert.equal(facts.libfabric.loaded, true, facts.libfabric.error);
  // Debian's libfabric 1.17 has no cxi provider: fi_getinfo(prov=cxi) = -FI_ENODATA
  assert.equal(facts.cxi.getinfo.rc, -61);
  assert.match(d.candidates[0]!.reason, /-61/);
  assert.equal(d.candidates[2]!.available, true, d.candidates[2]!.reason);
  const verbs = d.candidates[1]!;
  // auto never picks fabric-tcp: without cxi/verbs the choice is tcp-tls
  assert.equal(d.chosen, verbs.available ? 'verbs' : 'tcp-tls');
  assert.equal(d.forced, false);
});

test('the probe is cached per process', async () => {
  const a = probeTransports({});
  const b = probeTransports({});
  assert.equal(a, b);
  assert.ok((await a).candidates.length === 4);
});

test('KISEKI_TRANSPORT=fabric-tcp with KISEKI_FABRIC_PROVIDER=net picks libfabric net', async () => {
  const env = { KISEKI_TRANSPORT: 'fabric-tcp', KISEKI_FABRIC_PROVIDER: 'net' };
  const d = decide(await probeFacts('net'), env);
  assert.equal(d.chosen, 'fabric-tcp');
  assert.equal(d.provider, 'net');
  assert.equal(d.forced, true);
});

test('a forced fabric whose provider does not exist falls back to tcp-tls and says why', async () => {
  const env = { KISEKI_TRANSPORT: 'fabric-tcp', KISEKI_FABRIC_PROVIDER: 'nosuchprovider' };
  const d = decide(await probeFacts('nosuchprovider'), env);
  assert.equal(d.chosen, 'tcp-tls');
  assert.match(d.reason, /KISEKI_TRANSPORT=fabric-tcp is not usable .*nosuchprovider/);
});

test('forcing cxi on a machine without it falls back to tcp-tls with the fi_getinfo reason', async () => {
  const d = decide(await probeFacts('tcp'), { KISEKI_TRANSPORT: 'cxi' });
  assert.equal(d.chosen, 'tcp-tls');
  assert.match(d.reason, /cxi is not usable.*-61/);
});

test('KISEKI_TRANSPORT=tcp-tls skips the native probe entirely', () => {
  const d = decide(null, { KISEKI_TRANSPORT: 'tcp-tls' });
  assert.equal(d.chosen, 'tcp-tls');
  assert.equal(d.facts, null);
  assert.equal(d.candidates.filter((c) => c.available).length, 1);
});

test('an unknown KISEKI_TRANSPORT or malformed provider is a clear InvalidArgument', () => {
  assert.throws(() => decide(null, { KISEKI_TRANSPORT: 'rdma' }), (e: unknown) => KisekiError.is(e, 'InvalidArgument') && /cxi, verbs, fabric-tcp, tcp-tls/.test((e as Error).message));
  assert.throws(() => decide(null, { KISEKI_FABRIC_PROVIDER: 'tcp; rm -rf' }), (e: unknown) => KisekiError.is(e, 'InvalidArgument'));
});

test('with libfabric hidden by KISEKI_FABRIC_LIB the addon still loads and the choice is tcp-tls', () => {
  const d = probeCli({ KISEKI_FABRIC_LIB: '/nonexistent/libfabric.so.1', KISEKI_TRANSPORT: 'fabric-tcp' });
  assert.equal(d.chosen, 'tcp-tls');
  assert.equal(d.facts!.libfabric.loaded, false);
  assert.match(d.reason, /not usable .*\/nonexistent\/libfabric\.so\.1: cannot open shared object file/);
});

function libfabricPath(): string | null {
  try {
    const out = execFileSync('ldconfig', ['-p'], { encoding: 'utf8' });
    const m = /libfabric\.so\.1 \(.*\) => (\S+)/.exec(out);
    return m ? realpathSync(m[1]!) : null;
  } catch {
    return null;
  }
}

const lib = libfabricPath();
const unshareSkip = process.getuid?.() !== 0 ? 'needs root for unshare -m' : lib === null ? 'libfabric not installed' : false;

test('with the installed libfabric.so.1 really unloadable (private mount namespace) the choice is tcp-tls', { skip: unshareSkip }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ksk-nolib-'));
  try {
    const empty = path.join(dir, 'empty.so');
    writeFileSync(empty, '');
    // The bind mount exists only inside this child's mount namespace; nothing is uninstalled.
    const script = `mount --bind ${empty} ${lib} && exec "$@"`;
    const d = probeCli({ KISEKI_TRANSPORT: 'fabric-tcp' }, ['unshare', '-m', '--propagation', 'private', 'sh', '-c', script, 'sh']);
    assert.equal(d.facts!.libfabric.path, 'libfabric.so.1');
    assert.equal(d.facts!.libfabric.loaded, false);
    assert.match(d.facts!.libfabric.error, /libfabric\.so\.1: (file too short|invalid ELF header)/);
    assert.equal(d.chosen, 'tcp-tls');
    assert.match(d.reason, /KISEKI_TRANSPORT=fabric-tcp is not usable/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // and outside that namespace the library is untouched
  assert.equal(probeCli({ KISEKI_TRANSPORT: 'fabric-tcp' }).chosen, 'fabric-tcp');
});

test('transport probe prints a human table naming each transport and the choice', () => {
  const r = spawnSync(process.execPath, [cli, 'transport', 'probe'], { encoding: 'utf8', env: { ...process.env, KISEKI_FABRIC_LIB: '/nonexistent/libfabric.so.1' } });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^transport: tcp-tls/m);
  for (const t of ['cxi', 'verbs', 'fabric-tcp', 'tcp-tls']) assert.match(r.stdout, new RegExp(`^  (yes|no )  ${t}`, 'm'));
  assert.match(r.stdout, /libfabric: not loaded/);
});

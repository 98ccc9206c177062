import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHANNEL_OPTIONS, assertSeedsUsable, checkClientCertificate, credentialsFor, loadTlsMaterial, tcpSecurityFromEnv, tlsFilesFromEnv } from '../../src/client/tls-credentials.js';
import { makeCerts } from '../helpers/certs.js';
import { KisekiError } from '../../src/errors.js';

const TENANT = '22222222-2222-4222-8222-222222222222';

const tcp = { kind: 'tcp', host: '127.0.0.1', port: 9100 } as const;
const unix = { kind: 'unix', path: '/run/k.sock' } as const;

test('tls: all three KISEKI_* variables or none; a partial set names what is missing', () => {
  assert.equal(tlsFilesFromEnv({}), null);
  assert.deepEqual(tlsFilesFromEnv({ KISEKI_CA_PATH: '/c', KISEKI_CERT_PATH: '/p', KISEKI_KEY_PATH: '/k' }), { caPath: '/c', certPath: '/p', keyPath: '/k' });
  assert.throws(() => tlsFilesFromEnv({ KISEKI_CERT_PATH: '/p', KISEKI_KEY_PATH: '' }), (e: unknown) =>
    KisekiError.is(e, 'InvalidArgument') && /set KISEKI_CERT_PATH but not KISEKI_CA_PATH, KISEKI_KEY_PATH/.test(e.message));
});

test('tls: an unreadable file is an error naming the variable and the path, the first of CA, certificate, key', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ktls-'));
  try {
    await writeFile(join(dir, 'ca.pem'), 'x');
    // Certificate and key both missing: the certificate is named, every time (the reads race).
    for (let i = 0; i < 20; i++) {
      await assert.rejects(tcpSecurityFromEnv({ KISEKI_CA_PATH: join(dir, 'ca.pem'), KISEKI_CERT_PATH: join(dir, 'nope.pem'), KISEKI_KEY_PATH: join(dir, 'k') }, false),
        /cannot read the client certificate \(KISEKI_CERT_PATH\) at .*nope\.pem/);
    }
    await assert.rejects(tcpSecurityFromEnv({ KISEKI_CA_PATH: join(dir, 'no-ca.pem'), KISEKI_CERT_PATH: join(dir, 'nope.pem'), KISEKI_KEY_PATH: join(dir, 'k') }, false),
      /cannot read the cluster CA \(KISEKI_CA_PATH\) at .*no-ca\.pem/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('tls: unix sockets never use TLS; TCP needs mTLS unless insecure is asked for by name', async () => {
  assert.equal(credentialsFor(unix, { kind: 'none' })._isSecure(), false);
  assert.equal(credentialsFor(tcp, { kind: 'insecure' })._isSecure(), false);
  assert.throws(() => credentialsFor(tcp, { kind: 'none' }), /127\.0\.0\.1:9100 is a TCP address and needs TLS/);
  assert.throws(() => assertSeedsUsable([unix, tcp], { kind: 'none' }), (e: unknown) => KisekiError.is(e, 'InvalidArgument'));
  assert.doesNotThrow(() => assertSeedsUsable([unix], { kind: 'none' }));
  assert.deepEqual(await tcpSecurityFromEnv({}, true), { kind: 'insecure' });
  assert.deepEqual(await tcpSecurityFromEnv({}, false), { kind: 'none' });
});

test('tls: channels accept chunk-sized messages (80 MiB), not grpc-js\'s 4 MiB default', () => {
  assert.equal(CHANNEL_OPTIONS['grpc.max_receive_message_length'], 80 * 1024 * 1024);
  assert.equal(CHANNEL_OPTIONS['grpc.max_send_message_length'], 80 * 1024 * 1024);
});

test('tls: an expired or foreign client certificate is refused before dialing, naming the problem', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ktls-'));
  try {
    const certs = await makeCerts(dir, { tenants: [TENANT], nodes: [] });
    const files = (kind: 'tenant' | 'expired' | 'rogue') => ({
      caPath: join(dir, 'ca.pem'), certPath: join(dir, `${kind}-${TENANT}.pem`), keyPath: join(dir, `${kind}-${TENANT}.key`),
    });
    assert.ok(certs);
    const good = await loadTlsMaterial(files('tenant'));
    assert.ok(good.cert.length > 0, 'a certificate issued by the cluster CA and in its validity window loads');
    await assert.rejects(loadTlsMaterial(files('expired')),
      (e: unknown) => KisekiError.is(e, 'PermissionDenied') && /expired on .*2020/.test(e.message) && e.message.includes('KISEKI_CERT_PATH'));
    await assert.rejects(loadTlsMaterial(files('rogue')),
      (e: unknown) => KisekiError.is(e, 'PermissionDenied') && /not issued by the cluster CA/.test(e.message) && /rogue CA/.test(e.message));
    const ca = await readFile(join(dir, 'ca.pem'));
    const cert = await readFile(join(dir, `tenant-${TENANT}.pem`));
    assert.throws(() => checkClientCertificate(ca, cert, files('tenant'), new Date('1999-01-01T00:00:00Z')),
      (e: unknown) => KisekiError.is(e, 'PermissionDenied') && /not valid before/.test(e.message));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

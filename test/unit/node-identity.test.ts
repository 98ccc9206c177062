import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KisekiError } from '../../src/errors.js';
import { identityFromCertificate, uriSans } from '../../src/node/identity.js';

const T = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';

test('a tenant certificate yields the tenant UUID (lower-cased) from spiffe://cluster/org/<uuid>', () => {
  assert.deepEqual(identityFromCertificate({ subjectaltname: `DNS:x, URI:spiffe://cluster/org/${T.toUpperCase()}` }), { kind: 'tenant', tenant: T });
});

test('a node certificate yields a peer identity from spiffe://cluster/fabric/<id>', () => {
  assert.deepEqual(identityFromCertificate({ subjectaltname: 'IP Address:127.0.0.1, DNS:localhost, URI:spiffe://cluster/fabric/3' }), { kind: 'peer', nodeId: '3' });
});

test('no SPIFFE URI, a non-UUID org, another trust domain or two identities are all refused', () => {
  for (const san of ['DNS:localhost', 'URI:spiffe://cluster/org/not-a-uuid', `URI:spiffe://other/org/${T}`,
    `URI:spiffe://cluster/org/${T}, URI:spiffe://cluster/fabric/1`, `URI:spiffe://cluster/org/${T}/extra`, undefined]) {
    assert.throws(() => identityFromCertificate({ subjectaltname: san as string }), (e) => KisekiError.is(e, 'PermissionDenied'), String(san));
  }
});

test('uriSans picks only URI entries', () => {
  assert.deepEqual(uriSans({ subjectaltname: 'DNS:a, URI:x://1, IP Address:1.2.3.4, URI:y://2' }), ['x://1', 'y://2']);
});

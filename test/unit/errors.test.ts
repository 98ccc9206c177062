import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { ERROR_TABLE, KisekiError, errnoOf, kerr } from '../../src/errors.js';

test('every error kind has a unique stable code and a positive errno', () => {
  const codes = new Set<string>();
  for (const [kind, { code, errno }] of Object.entries(ERROR_TABLE)) {
    assert.match(code, /^KSK_ERR_[A-Z_]+$/, kind);
    assert.ok(errno > 0, kind);
    assert.ok(!codes.has(code), `duplicate ${code}`);
    codes.add(code);
  }
});

test('errnoOf maps unknown failures to EIO, never to ENOENT', () => {
  assert.equal(errnoOf(new Error('boom')), constants.errno.EIO);
  assert.equal(errnoOf(kerr('NotEmpty', 'dir not empty')), constants.errno.ENOTEMPTY);
  assert.equal(errnoOf(kerr('Integrity', 'tag mismatch')), constants.errno.EIO);
});

test('KisekiError.is recognises the brand and the kind', () => {
  const e = kerr('ReadOnly', 'namespace is read-only');
  assert.ok(KisekiError.is(e));
  assert.ok(KisekiError.is(e, 'ReadOnly'));
  assert.ok(!KisekiError.is(e, 'NotFound'));
  assert.ok(!KisekiError.is(new Error('x')));
});

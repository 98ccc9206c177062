import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { constants } from 'node:os';
import { errorFromStatus } from '../../src/client/rpc.js';

const E = constants.errno;

function se(code: status, details: string, meta: Record<string, string> = {}): ServiceError {
  const metadata = new Metadata();
  for (const [k, v] of Object.entries(meta)) metadata.set(k, v);
  return Object.assign(new Error(details), { code, details, metadata });
}

test('rpc errors: the node\'s kiseki-errno decides the errno and the kind', () => {
  const cases: [status, string, number, string][] = [
    [status.NOT_FOUND, String(E.ENOENT), E.ENOENT, 'NotFound'],
    [status.FAILED_PRECONDITION, String(E.ENOTEMPTY), E.ENOTEMPTY, 'NotEmpty'],
    [status.FAILED_PRECONDITION, String(E.EPERM), E.EPERM, 'PermissionDenied'],
    [status.FAILED_PRECONDITION, String(E.EXDEV), E.EXDEV, 'CrossDevice'],
    [status.FAILED_PRECONDITION, String(E.ENODATA), E.ENODATA, 'NoData'],
    [status.INVALID_ARGUMENT, String(E.ENAMETOOLONG), E.ENAMETOOLONG, 'InvalidArgument'],
    [status.RESOURCE_EXHAUSTED, String(E.ENOSPC), E.ENOSPC, 'NoSpace'],
    [status.ABORTED, String(E.EAGAIN), E.EAGAIN, 'StaleGeneration'],
  ];
  for (const [code, errno, want, kind] of cases) {
    const err = errorFromStatus(se(code, 'x', { 'kiseki-errno': errno }), '127.0.0.1:9100', '/kiseki.v1.NamespaceService/RmDir');
    assert.equal(err.errno, want, `${status[code]} ${errno}`);
    assert.equal(err.kind, kind);
    assert.match(err.message, /^RmDir at 127\.0\.0\.1:9100: /);
  }
});

test('rpc errors: without errno the status decides; transport failures are EIO, never ENOENT', () => {
  assert.equal(errorFromStatus(se(status.UNAVAILABLE, 'connect refused'), 'a:1', '/p/X').errno, E.EIO);
  assert.equal(errorFromStatus(se(status.UNAVAILABLE, 'connect refused'), 'a:1', '/p/X').kind, 'Unavailable');
  assert.equal(errorFromStatus(se(status.DEADLINE_EXCEEDED, 'late'), 'a:1', '/p/X').kind, 'Unavailable');
  assert.equal(errorFromStatus(se(status.INTERNAL, 'boom'), 'a:1', '/p/X').errno, E.EIO);
  assert.equal(errorFromStatus(se(status.NOT_FOUND, 'gone'), 'a:1', '/p/X').errno, E.ENOENT);
  assert.equal(errorFromStatus(se(status.UNIMPLEMENTED, 'no'), 'a:1', '/p/X').kind, 'NotSupported');
  assert.equal(errorFromStatus(se(status.NOT_FOUND, 'x', { 'kiseki-errno': 'garbage' }), 'a:1', '/p/X').errno, E.ENOENT);
});

test('I-CC12 rpc errors: FAILED_PRECONDITION "KEK_DESTROYED" is KeyDestroyed (EIO)', () => {
  const err = errorFromStatus(se(status.FAILED_PRECONDITION, 'KEK_DESTROYED'), 'a:1', '/kiseki.v1.TenantKeyAccessService/FetchTenantKeys');
  assert.equal(err.kind, 'KeyDestroyed');
  assert.equal(err.errno, E.EIO);
  assert.match(err.message, /crypto-shred/);
});

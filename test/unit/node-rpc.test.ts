import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { test } from 'node:test';
import { KisekiError, kerr } from '../../src/errors.js';
import { RedirectToLeader, statusOf, toServiceError, tolerantDefinition } from '../../src/node/rpc.js';
import { DiscoveryServiceService } from '../../src/gen/kiseki/v1/discovery.js';

const E = constants.errno;

test('every POSIX refusal maps to the status namespace.proto promises, with its errno', () => {
  const cases: [KisekiError, grpc.status, number][] = [
    [kerr('NotFound', 'x'), grpc.status.NOT_FOUND, E.ENOENT],
    [kerr('AlreadyExists', 'x'), grpc.status.ALREADY_EXISTS, E.EEXIST],
    [kerr('NotEmpty', 'x'), grpc.status.FAILED_PRECONDITION, E.ENOTEMPTY],
    [kerr('NotDirectory', 'x'), grpc.status.FAILED_PRECONDITION, E.ENOTDIR],
    [kerr('IsDirectory', 'x'), grpc.status.FAILED_PRECONDITION, E.EISDIR],
    [kerr('CrossDevice', 'x'), grpc.status.FAILED_PRECONDITION, E.EXDEV],
    [kerr('ReadOnly', 'x'), grpc.status.FAILED_PRECONDITION, E.EROFS],
    [kerr('NoData', 'x'), grpc.status.FAILED_PRECONDITION, E.ENODATA],
    [new KisekiError('PermissionDenied', 'x', { errno: E.EPERM }), grpc.status.FAILED_PRECONDITION, E.EPERM],
    [kerr('PermissionDenied', 'x'), grpc.status.PERMISSION_DENIED, E.EACCES],
    [kerr('StaleGeneration', 'x'), grpc.status.ABORTED, E.EAGAIN],
    [kerr('NoSpace', 'x'), grpc.status.RESOURCE_EXHAUSTED, E.ENOSPC],
    [kerr('InvalidArgument', 'x'), grpc.status.INVALID_ARGUMENT, E.EINVAL],
    [new KisekiError('InvalidArgument', 'x', { errno: E.ENAMETOOLONG }), grpc.status.INVALID_ARGUMENT, E.ENAMETOOLONG],
    [kerr('Integrity', 'x'), grpc.status.DATA_LOSS, E.EIO],
  ];
  for (const [err, code, errno] of cases) {
    const s = statusOf(err);
    assert.equal(s.code, code, err.kind);
    assert.equal(s.errno, errno, err.kind);
  }
});

test('a non-Kiseki error is INTERNAL/EIO, never ENOENT; a full SQLite disk is ENOSPC', () => {
  assert.deepEqual([statusOf(new Error('boom')).code, statusOf(new Error('boom')).errno], [grpc.status.INTERNAL, E.EIO]);
  const full = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
  assert.deepEqual([statusOf(full).code, statusOf(full).errno], [grpc.status.RESOURCE_EXHAUSTED, E.ENOSPC]);
});

test('toServiceError carries kiseki-errno and, for a redirect, kiseki-leader', () => {
  const se = toServiceError(new RedirectToLeader('127.0.0.1:9100'));
  assert.equal(se.code, grpc.status.UNAVAILABLE);
  assert.deepEqual(se.metadata!.get('kiseki-leader'), ['127.0.0.1:9100']);
  assert.deepEqual(se.metadata!.get('kiseki-errno'), [String(E.EIO)]);
});

test('tolerantDefinition never lets a decoder throw', () => {
  const def = tolerantDefinition(DiscoveryServiceService);
  assert.throws(() => DiscoveryServiceService.heartbeat.requestDeserialize(Buffer.from([0x0a, 0x7f])));
  const v = def.heartbeat.requestDeserialize(Buffer.from([0x0a, 0x7f]));
  assert.ok(v && typeof v === 'object' && 'reason' in v);
  assert.deepEqual(def.heartbeat.requestDeserialize(Buffer.alloc(0)), { clientId: Buffer.alloc(0) });
});

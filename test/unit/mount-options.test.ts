import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMountOptions, parseSize, readAheadKbOf } from '../../src/client/mount-options.js';
import { KisekiError } from '../../src/errors.js';

const rejects = (args: string[], pattern: RegExp) =>
  assert.throws(() => parseMountOptions(args), (e) => KisekiError.is(e, 'InvalidArgument') && pattern.test(e.message));

test('sizes accept K/M/G/T suffixes', () => {
  assert.equal(parseSize('4M', 'x'), 4 << 20);
  assert.equal(parseSize('512k', 'x'), 512 << 10);
  assert.equal(parseSize('100G', 'x'), 100 * 2 ** 30);
  assert.equal(parseSize('1GiB', 'x'), 2 ** 30);
  assert.equal(parseSize('4096', 'x'), 4096);
  assert.throws(() => parseSize('4X', 'x'), /not a size/);
});

test('the -o table parses every documented option across several -o arguments', () => {
  const o = parseMountOptions([
    'cache_mode=pinned,cache_dir=/var/cache/k,cache_l1_max=1G', 'cache_l2_max=100G,meta_ttl_ms=500',
    'chunk_size=8M,allow_other,ro,default_permissions,metrics_addr=127.0.0.1:9464,fsname=scratch', 'reply_threads=2,cache_large_write,read_ahead_kb=8192',
  ]);
  assert.deepEqual(o, {
    cacheMode: 'pinned', cacheDir: '/var/cache/k', cacheL1Max: 2 ** 30, cacheL2Max: 100 * 2 ** 30,
    metaTtlMs: 500, chunkSize: 8 << 20, allowOther: true, readOnly: true, defaultPermissions: true,
    metricsAddr: '127.0.0.1:9464', fsname: 'scratch', replyThreads: 2, cacheLargeWrite: true, readAheadKb: 8192,
    cacheOptions: { cache_mode: 'pinned', cache_dir: '/var/cache/k', cache_l1_max: '1G', cache_l2_max: '100G', meta_ttl_ms: '500' },
  });
  assert.equal(parseMountOptions(['ro,rw']).readOnly, false);
  assert.equal(parseMountOptions([]).readOnly, false);
  assert.equal(parseMountOptions([]).cacheLargeWrite, false);
});

test('unknown, removed and malformed options are named in the error', () => {
  rejects(['cache_mod=pinned'], /unknown mount option 'cache_mod'/);
  rejects(['big_writes'], /-o big_writes is not supported/);
  rejects(['writeback_cache'], /O_APPEND/);
  rejects(['cache_mode=fast'], /'fast' is not one of organic, pinned, bypass/);
  rejects(['meta_ttl_ms=5s'], /meta_ttl_ms/);
  rejects(['cache_l1_max=lots'], /cache_l1_max.*is not a size/);
  rejects(['chunk_size=512K'], /chunk_size 524288 is invalid/);
  rejects(['chunk_size=128M'], /chunk_size 134217728 is invalid/);
  rejects(['ro=1'], /takes no value/);
  rejects(['cache_dir'], /needs a value/);
  rejects(['metrics_addr=9464'], /not host:port/);
  rejects(['reply_threads=65'], /reply_threads: '65' is not a whole number from 0 to 64/);
  rejects(['reply_threads=-1'], /reply_threads/);
  rejects(['read_ahead_kb=4M'], /read_ahead_kb: '4M' is not a whole number of KiB from 0 to 65536/);
  rejects(['read_ahead_kb=65537'], /read_ahead_kb/);
});

test('ADR 0099: read-ahead defaults to one chunk of new files; the option wins, 0 included', () => {
  assert.equal(readAheadKbOf(parseMountOptions([])), 4096);
  assert.equal(readAheadKbOf(parseMountOptions(['chunk_size=16M'])), 16384);
  assert.equal(readAheadKbOf(parseMountOptions(['chunk_size=16M,read_ahead_kb=128'])), 128);
  assert.equal(readAheadKbOf(parseMountOptions(['read_ahead_kb=0'])), 0);
});

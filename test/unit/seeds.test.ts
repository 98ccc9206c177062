import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_PORT, configuredSeeds, formatSeed, parseSeed, parseSeeds } from '../../src/client/seeds.js';
import { KisekiError } from '../../src/errors.js';

test('seeds: host:port, bare host, IPv4, [v6]:port, [v6], unix: forms', () => {
  assert.deepEqual(parseSeed('node1:9200', 't'), { kind: 'tcp', host: 'node1', port: 9200 });
  assert.deepEqual(parseSeed('node1.cluster.local', 't'), { kind: 'tcp', host: 'node1.cluster.local', port: DEFAULT_PORT });
  assert.deepEqual(parseSeed(' 10.0.0.7:1 ', 't'), { kind: 'tcp', host: '10.0.0.7', port: 1 });
  assert.deepEqual(parseSeed('[::1]:9101', 't'), { kind: 'tcp', host: '::1', port: 9101 });
  assert.deepEqual(parseSeed('[fe80::1]', 't'), { kind: 'tcp', host: 'fe80::1', port: 9100 });
  assert.deepEqual(parseSeed('unix:/run/kiseki/node.sock', 't'), { kind: 'unix', path: '/run/kiseki/node.sock' });
  assert.deepEqual(parseSeed('unix:///run/k.sock', 't'), { kind: 'unix', path: '/run/k.sock' });
});

test('seeds: a list keeps order and drops duplicates; formatSeed round-trips', () => {
  const list = parseSeeds('a:1,[::1]:2,unix:/s,a:1,b', 'KISEKI_SEEDS');
  assert.deepEqual(list.map(formatSeed), ['a:1', '[::1]:2', 'unix:/s', 'b:9100']);
  for (const s of list) assert.deepEqual(parseSeed(formatSeed(s), 'x'), s);
});

test('seeds: bad entries are InvalidArgument errors naming the entry and the source', () => {
  const cases: [string, RegExp][] = [
    ['node1:0', /bad port in 'node1:0'/],
    ['node1:65536', /bad port/],
    ['node1:http', /bad port/],
    ['::1', /need brackets: '\[::1\]:9100'/],
    ['[::1', /not \[ipv6\]:port/],
    ['[node1]:9', /not \[ipv6\]:port/],
    ['unix:relative.sock', /absolute socket path/],
    ['bad host:1', /no valid host name/],
    ['a,,b', /empty address/],
    ['-x:1', /no valid host/],
  ];
  for (const [input, msg] of cases) {
    assert.throws(() => parseSeeds(input, '--data-addr'), (err: unknown) => {
      assert.ok(KisekiError.is(err, 'InvalidArgument'), `${input}: ${String(err)}`);
      assert.match(err.message, /^--data-addr: /);
      assert.match(err.message, msg);
      assert.equal(err.errno, 22);
      return true;
    });
  }
});

test('seeds: --data-addr wins over KISEKI_SEEDS, which wins over KISEKI_DATA_ADDR; none → null', () => {
  const env = { KISEKI_SEEDS: 's:1', KISEKI_DATA_ADDR: 'd:2' };
  assert.deepEqual(configuredSeeds('c:3', env), { seeds: [{ kind: 'tcp', host: 'c', port: 3 }], source: '--data-addr' });
  assert.equal(configuredSeeds(undefined, env)?.source, 'KISEKI_SEEDS');
  assert.deepEqual(configuredSeeds('', { KISEKI_DATA_ADDR: 'd:2' })?.seeds, [{ kind: 'tcp', host: 'd', port: 2 }]);
  assert.equal(configuredSeeds(undefined, { KISEKI_SEEDS: '  ' }), null);
  assert.throws(() => configuredSeeds(undefined, { KISEKI_SEEDS: 'x:99999' }), /KISEKI_SEEDS: bad port/);
});

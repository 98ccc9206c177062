// GroupCommit on a real SQLite file: concurrent mutations share one transaction, a failing one is
// rolled back alone, and an acknowledged mutation survives kill -9 of the process that made it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { GroupCommit } from '../../src/node/group-commit.js';
import { openMetadataDb } from '../../src/node/metadata-db.js';

function withDb(fn: (db: ReturnType<typeof openMetadataDb>, dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'kiseki-gc-unit-'));
  const db = openMetadataDb(dir);
  db.exec('CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)');
  return fn(db, dir).finally(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
}

test('I-N6 concurrent mutations commit in one transaction; a failing one is rolled back alone and rejected', () =>
  withDb(async (db) => {
    const gc = new GroupCommit(db);
    const ins = db.prepare('INSERT INTO t (k, v) VALUES (?, ?)');
    const results = await Promise.allSettled([
      gc.run(() => ins.run(1, 'a').changes),
      gc.run(() => {
        ins.run(2, 'b');
        ins.run(1, 'duplicate'); // fails after a write of its own: that write must vanish too
      }),
      gc.run(() => ins.run(3, 'c').changes),
    ]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.deepEqual(db.prepare('SELECT k, v FROM t ORDER BY k').all(), [{ k: 1, v: 'a' }, { k: 3, v: 'c' }]);
    assert.deepEqual(gc.stats, { commits: 1, mutations: 3 });
  }));

test('I-N6 a failed COMMIT rejects every mutation of the batch and leaves none visible', () =>
  withDb(async (db) => {
    const gc = new GroupCommit(db);
    const ins = db.prepare('INSERT INTO t (k, v) VALUES (?, ?)');
    // A deferred foreign-key violation is detected only at COMMIT.
    db.exec('CREATE TABLE child (k INTEGER REFERENCES t(k) DEFERRABLE INITIALLY DEFERRED)');
    const results = await Promise.allSettled([
      gc.run(() => ins.run(10, 'x')),
      gc.run(() => db.prepare('INSERT INTO child (k) VALUES (999)').run()),
    ]);
    assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
    assert.deepEqual(db.prepare('SELECT COUNT(*) AS n FROM t').get(), { n: 0 });
  }));

test('I-N6 every acknowledged mutation survives kill -9 of the process right after the acknowledgement', () =>
  withDb(async (_db, dir) => {
    _db.close();
    const script = `
      const { openMetadataDb } = require(${JSON.stringify(join(__dirname, '../../src/node/metadata-db.js'))});
      const { GroupCommit } = require(${JSON.stringify(join(__dirname, '../../src/node/group-commit.js'))});
      const db = openMetadataDb(${JSON.stringify(dir)});
      const gc = new GroupCommit(db);
      const ins = db.prepare('INSERT INTO t (k, v) VALUES (?, ?)');
      let acked = 0;
      for (let i = 0; i < 64; i++) gc.run(() => ins.run(i, 'v' + i)).then(() => {
        acked++;
        if (acked === 64) { process.stdout.write('acked ' + acked + '\\n'); process.kill(process.pid, 'SIGKILL'); }
      });
    `;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    assert.equal(r.signal, 'SIGKILL');
    assert.match(r.stdout, /acked 64/);
    const db = openMetadataDb(dir);
    try {
      assert.deepEqual(db.prepare('SELECT COUNT(*) AS n FROM t').get(), { n: 64 });
    } finally {
      db.close();
    }
  }));

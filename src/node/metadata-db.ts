// The node's metadata database: SQLite through better-sqlite3 (ADR 0050). WAL mode so that the
// offline admin commands can write while the node runs; synchronous=FULL so that a committed
// transaction survives power loss; secure_delete so that a destroyed KEK is overwritten on disk.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export type Db = Database.Database;

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS tenants (
  tenant      TEXT PRIMARY KEY,
  index_key   BLOB NOT NULL,
  dedup       INTEGER NOT NULL,          -- DedupPolicy enum value
  destroyed   INTEGER NOT NULL DEFAULT 0,
  policy      TEXT,                      -- CachePolicy JSON; NULL = DEFAULT_POLICY
  created_ms  INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS keks (
  tenant  TEXT NOT NULL REFERENCES tenants(tenant),
  epoch   INTEGER NOT NULL,
  kek     BLOB NOT NULL,
  PRIMARY KEY (tenant, epoch)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS namespaces (
  ns          INTEGER PRIMARY KEY,       -- internal key, never sent to a client
  tenant      TEXT NOT NULL,
  ns_id       TEXT NOT NULL,
  read_only   INTEGER NOT NULL DEFAULT 0,
  chunk_size  INTEGER NOT NULL,
  next_ino    INTEGER NOT NULL,
  UNIQUE (tenant, ns_id)
) STRICT;
CREATE TABLE IF NOT EXISTS inodes (
  ns          INTEGER NOT NULL,
  ino         INTEGER NOT NULL,
  kind        INTEGER NOT NULL,          -- FileKind enum value
  mode        INTEGER NOT NULL,
  uid         INTEGER NOT NULL,
  gid         INTEGER NOT NULL,
  size        INTEGER NOT NULL,
  nlink       INTEGER NOT NULL,
  atime_s INTEGER NOT NULL, atime_ns INTEGER NOT NULL,
  mtime_s INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
  ctime_s INTEGER NOT NULL, ctime_ns INTEGER NOT NULL,
  generation  INTEGER NOT NULL,
  chunk_size  INTEGER NOT NULL,
  parent      INTEGER NOT NULL,          -- directories: the containing directory (root: itself)
  inline_env  BLOB,                      -- sealed inline content (proto Envelope)
  target_env  BLOB,                      -- symlinks: sealed target (proto Envelope)
  orphaned_ms INTEGER,                   -- set when nlink reached 0; removed by the orphan sweep
  PRIMARY KEY (ns, ino)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dirents (
  ns          INTEGER NOT NULL,
  parent      INTEGER NOT NULL,
  name_key    BLOB NOT NULL,
  ino         INTEGER NOT NULL,
  sealed_name BLOB NOT NULL,
  PRIMARY KEY (ns, parent, name_key)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dirents_by_ino ON dirents (ns, ino);
-- Listings run in inode order (creation order) and read only this index for the dirent part.
CREATE INDEX IF NOT EXISTS dirents_listing ON dirents (ns, parent, ino, name_key, sealed_name);
CREATE TABLE IF NOT EXISTS chunks (
  ns       INTEGER NOT NULL,
  ino      INTEGER NOT NULL,
  offset   INTEGER NOT NULL,
  chunk_id BLOB NOT NULL,
  length   INTEGER NOT NULL,
  PRIMARY KEY (ns, ino, offset)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS xattrs (
  ns           INTEGER NOT NULL,
  ino          INTEGER NOT NULL,
  name_key     BLOB NOT NULL,
  sealed_name  BLOB NOT NULL,
  sealed_value BLOB NOT NULL,
  PRIMARY KEY (ns, ino, name_key)
) STRICT, WITHOUT ROWID;
`;

/** Opens (creating when absent) <dataDir>/meta.sqlite with the node's pragmas and schema. */
export function openMetadataDb(dataDir: string): Db {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const db = new Database(join(dataDir, 'meta.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('secure_delete = ON');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    db.close();
    throw new Error(`${dataDir}/meta.sqlite has schema ${version}, newer than this kiseki-node (${SCHEMA_VERSION}); upgrade kiseki-node`);
  }
  db.exec(SCHEMA);
  db.pragma(`user_version = ${SCHEMA_VERSION}`);
  return db;
}

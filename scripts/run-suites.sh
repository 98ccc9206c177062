#!/usr/bin/env bash
# External test suites and workloads run inside a real kiseki mount (npm run test:suites).
#   CPython's own test_os, test_shutil, test_tarfile, test_tempfile (Debian libpython3.11-testsuite)
#   with the mount as working and temp directory; fio randwrite with verify=crc32c; dbench;
#   rsync -aHAX round trip compared with rsync --checksum; git clone + git fsck; sqlite3 integrity_check.
# Prints one result line per suite and writes the table to docs/suites.md (SUITES_OUT to change).
# CPython is Debian's /usr/bin/python3.11 with its test package (libpython3.11-testsuite).
# Needs: a built tree (npm run build), fuse3, and scripts/apt-packages-mount.txt installed.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${SUITES_OUT:-$ROOT/docs/suites.md}
WORK=$(mktemp -d /tmp/kiseki-suites-XXXXXX)
MNT=$WORK/mnt
export XDG_RUNTIME_DIR=$WORK/run XDG_DATA_HOME=$WORK/data KISEKI_CACHE_DIR=$WORK/cache
mkdir -p "$MNT" "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
NODE_PID=
RESULTS=()

cleanup() {
  node "$ROOT/dist/src/cli/kiseki-client-fuse.js" unmount "$MNT" >/dev/null 2>&1 || fusermount3 -uz "$MNT" 2>/dev/null
  [ -n "$NODE_PID" ] && kill "$NODE_PID" 2>/dev/null && wait "$NODE_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

record() { # name, result, detail
  RESULTS+=("| $1 | $2 | $3 |")
  printf '%-28s %-10s %s\n' "$1" "$2" "$3"
}

node "$ROOT/dist/src/cli/kiseki-node.js" --data-dir "$WORK/node" --socket "$WORK/node.sock" >"$WORK/node.out" 2>"$WORK/node.log" &
NODE_PID=$!
for _ in $(seq 1 100); do grep -q 'kiseki-node ready' "$WORK/node.out" 2>/dev/null && break; sleep 0.1; done
node "$ROOT/dist/src/cli/kiseki-client-fuse.js" mount "$MNT" --data-addr "unix:$WORK/node.sock" \
  --namespace suites -o "meta_ttl_ms=${SUITES_META_TTL_MS:-1000}" || { echo "mount failed"; exit 1; }

# --- CPython test suites ---------------------------------------------------------------------------
mkdir -p "$MNT/py" "$MNT/tmp"
for t in test_os test_shutil test_tarfile test_tempfile; do
  log=$WORK/$t.log
  (cd "$MNT/py" && TMPDIR=$MNT/tmp timeout "${SUITES_PY_TIMEOUT:-900}" /usr/bin/python3.11 -m unittest -v "test.$t" >"$log" 2>&1)
  rc=$?
  ran=$(grep -Eo '^Ran [0-9]+ tests?' "$log" | grep -Eo '[0-9]+' | tail -1)
  fails=$(grep -Eo 'failures=[0-9]+' "$log" | grep -Eo '[0-9]+' | tail -1)
  errs=$(grep -Eo 'errors=[0-9]+' "$log" | grep -Eo '[0-9]+' | tail -1)
  skips=$(grep -Eo 'skipped=[0-9]+' "$log" | grep -Eo '[0-9]+' | tail -1)
  ran=${ran:-0}; fails=${fails:-0}; errs=${errs:-0}; skips=${skips:-0}
  passed=$((ran - fails - errs - skips))
  detail="$passed passed, $fails failed, $errs errors, $skips skipped of $ran (exit $rc)"
  if [ "$rc" -ne 0 ]; then
    names=$(grep -E '^(FAIL|ERROR): ' "$log" | sed -E 's/^(FAIL|ERROR): ([^ ]+).*/\2/' | sort -u | head -12 | paste -sd ' ' -)
    [ -n "$names" ] && detail="$detail; failing: $names"
    cp "$log" "$WORK/../kiseki-suites-$t.log" 2>/dev/null
  fi
  record "CPython $t" "$([ "$rc" -eq 0 ] && echo pass || echo partial)" "$detail"
done

# --- fio random writes with crc32c verification --------------------------------------------------
if (cd "$WORK" && fio --name=randwrite --directory="$MNT" --verify_state_save=0 --rw=randwrite --bs=4k --size=64m --ioengine=psync --fallocate=none \
     --verify=crc32c --do_verify=1 --verify_fatal=1 --numjobs=2 --group_reporting >"$WORK/fio.log" 2>&1); then
  record "fio randwrite verify=crc32c" pass "2 jobs x 64 MiB, 4 KiB blocks, every block verified"
else
  record "fio randwrite verify=crc32c" fail "$(grep -Ei 'verify|error' "$WORK/fio.log" | head -2 | paste -sd ' ' -)"
fi

# --- dbench --------------------------------------------------------------------------------------
if timeout 300 dbench -D "$MNT" -t "${SUITES_DBENCH_SECONDS:-30}" -c /usr/share/dbench/client.txt 4 >"$WORK/dbench.log" 2>&1; then
  record dbench pass "$(grep -E '^Throughput' "$WORK/dbench.log" | tail -1) (4 clients)"
else
  record dbench fail "$(tail -3 "$WORK/dbench.log" | paste -sd ' ' -)"
fi

# --- rsync -aHAX round trip ----------------------------------------------------------------------
SRC=$WORK/rsync-src
mkdir -p "$SRC/d/e"
cp -a "$ROOT/src" "$SRC/"
for i in $(seq 1 20); do head -c $((i * 7919)) /dev/urandom >"$SRC/d/f$i"; done
ln "$SRC/d/f1" "$SRC/d/e/hard1"; ln -s ../f2 "$SRC/d/e/sym2"; chmod 640 "$SRC/d/f3"
setfattr -n user.origin -v suites "$SRC/d/f4"
touch -d '2001-02-03 04:05:06' "$SRC/d/f5"
if rsync -aHAX "$SRC/" "$MNT/rsync/" >"$WORK/rsync.log" 2>&1 &&
   rsync -aHAX "$MNT/rsync/" "$WORK/rsync-back/" >>"$WORK/rsync.log" 2>&1; then
  diff1=$(rsync -aHAXn --checksum --itemize-changes "$SRC/" "$MNT/rsync/" | grep -v '^\.d' | wc -l)
  diff2=$(rsync -aHAXn --checksum --itemize-changes "$SRC/" "$WORK/rsync-back/" | grep -v '^\.d' | wc -l)
  files=$(find "$SRC" -type f | wc -l)
  if [ "$diff1" -eq 0 ] && [ "$diff2" -eq 0 ]; then record "rsync -aHAX round trip" pass "$files files; --checksum dry run finds 0 differences both ways"
  else record "rsync -aHAX round trip" fail "$diff1 differences into the mount, $diff2 after the way back"; fi
else
  record "rsync -aHAX round trip" fail "$(tail -2 "$WORK/rsync.log" | paste -sd ' ' -)"
fi

# --- git clone + fsck ----------------------------------------------------------------------------
if git clone -q --no-hardlinks "$ROOT" "$MNT/repo" >"$WORK/git.log" 2>&1 && git -C "$MNT/repo" fsck --full --strict >>"$WORK/git.log" 2>&1; then
  record "git clone + git fsck" pass "$(git -C "$MNT/repo" rev-list --all | wc -l) commits, fsck --full --strict clean"
else
  record "git clone + git fsck" fail "$(tail -2 "$WORK/git.log" | paste -sd ' ' -)"
fi

# --- sqlite3 -------------------------------------------------------------------------------------
SQL="PRAGMA journal_mode=DELETE; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<20000) INSERT INTO t(v) SELECT randomblob(200) FROM c;
DELETE FROM t WHERE id % 3 = 0; VACUUM; PRAGMA integrity_check; SELECT count(*) FROM t;"
res=$(sqlite3 "$MNT/db.sqlite" "$SQL" 2>&1 | tail -2 | paste -sd ' ' -)
if [ "$res" = "ok 13334" ]; then record "sqlite3 integrity_check" pass "20,000 inserts, deletes, VACUUM: integrity_check ok"
else record "sqlite3 integrity_check" fail "$res"; fi

{
  echo "# External suites inside a kiseki mount"
  echo
  echo "Produced by \`npm run test:suites\` (scripts/run-suites.sh) on $(date -u +%Y-%m-%d) against a"
  echo "kiseki-node on a unix socket, mount options meta_ttl_ms=${SUITES_META_TTL_MS:-1000}, chunk size 4 MiB,"
  echo "kernel $(uname -r). The mount is the working directory and TMPDIR of every suite."
  echo
  echo "| Suite | Result | Detail |"
  echo "|---|---|---|"
  printf '%s\n' "${RESULTS[@]}"
  echo
  echo "Skips are the suites' own (no FIFOs or device nodes here: mkfifo/mknod answer EPERM; root-only"
  echo "or platform-specific cases). dbench throughput is low because each small random write rewrites"
  echo "its whole 4 MiB chunk at the next flush and every flush commits on the node with fsync."
} >"$OUT"
echo "written to $OUT"

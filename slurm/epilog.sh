#!/bin/bash
# Slurm Epilog: run by slurmd as root on every node of the allocation when the job ends. Releases the
# job's staged datasets, stops a staging daemon whose pool the job never adopted, scrubs orphaned pools
# and removes the job file, so the pool is gone after the job (ADR 0074).
# Always exits 0: a non-zero Epilog exit drains the node (ADR 0072).
set -u
KISEKI_HOOK_NAME=epilog
# shellcheck source=kiseki-slurm-lib.sh
. "$(dirname "$(readlink -f "$0")")/kiseki-slurm-lib.sh"

# True while pid exists and is not a zombie (an orphaned daemon may wait long for init to reap it).
kiseki_running() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ "${stat:0:1}" != Z ]]
}

# Runs one kiseki command with output captured into the log; returns its exit status.
run_logged() {
  local what=$1 out rc; shift
  out=$(mktemp) || { kiseki_log error "$what: cannot create a temporary file"; return 1; }
  "$@" >"$out" 2>&1
  rc=$?
  if ((rc == 0)); then kiseki_log info "$what: ok $(kiseki_excerpt "$out")"
  else kiseki_log error "$what failed (exit $rc): $(kiseki_excerpt "$out")"; fi
  rm -f "$out"
  return "$rc"
}

# A pool the job never adopted is still held by its staging daemon (until KISEKI_ADOPT_TIMEOUT), and
# the scrubber skips held pools. The job's own processes are gone when the Epilog runs, so whatever
# still holds this job's pool.lock is that daemon. Only pools owned by the job's staging uid qualify.
stop_pool_holders() {
  local pool=$1 cache_dir=${KISEKI_CACHE_DIR:-$KISEKI_CACHE_DIR_DEFAULT} lock pattern pid i
  local -a pids alive
  for lock in "$cache_dir"/*/"$pool"/pool.lock; do
    [[ -e "$lock" ]] || continue
    lock=$(readlink -f "$lock")  # /proc/<pid>/fd links name the canonical path
    if [[ "$(stat -c %u "$(dirname "$lock")")" != "$(kiseki_stage_uid)" ]]; then
      kiseki_log warn "pool $pool at $(dirname "$lock") is not owned by uid $(kiseki_stage_uid); left alone"
      continue
    fi
    # Every process with the lock file open: /proc/<pid>/fd/<n> -> $lock, glob characters escaped
    # for -lname.
    pattern=$(printf '%s' "$lock" | sed 's/[][*?\\]/\\&/g')
    mapfile -t pids < <(find /proc/[0-9]*/fd -maxdepth 1 -lname "$pattern" 2>/dev/null | cut -d/ -f3 | sort -u)
    ((${#pids[@]})) || continue
    kiseki_log info "stopping processes still holding $lock: ${pids[*]}"
    kill -TERM "${pids[@]}" 2>/dev/null
    for ((i = 0; i < 50; i++)); do
      alive=()
      for pid in "${pids[@]}"; do kiseki_running "$pid" && alive+=("$pid"); done
      ((${#alive[@]})) || break
      sleep 0.1
    done
    ((${#alive[@]})) && kill -KILL "${alive[@]}" 2>/dev/null
  done
}

main() {
  local pool
  [[ -n "$KISEKI_JOB_ID" && -e "$(kiseki_job_file)" ]] || return 0
  pool=$(kiseki_job_get pool)
  if kiseki_is_pool_id "$pool"; then
    run_logged "release of pool $pool" \
      kiseki_run_as_job_user "$KISEKI_BIN_DIR/kiseki-client" stage --release-all --pool "$pool"
    stop_pool_holders "$pool"
  fi
  run_logged "scrub" kiseki_run_as_root "$KISEKI_BIN_DIR/kiseki-cache-scrub"
  rm -f "$(kiseki_job_file)"
  kiseki_log info "done"
}

main
exit 0

#!/bin/bash
# Slurm Prolog: run by slurmd as root on every node of the allocation (PrologFlags=Alloc) before the
# job starts. Stages the datasets the job declared in its comment ("kiseki:dataset=/ns/path", ADR 0070)
# into a new pinned cache pool and records the pool id for task_prolog.sh.
#
# Fail safe (ADR 0072): this hook always exits 0. A non-zero Prolog exit drains the node and holds the
# job, which a bad dataset path or a storage outage must never do. A failure is logged and recorded;
# task_prolog.sh then fails the job (kiseki:required) or lets it run without a staged pool.
set -u
KISEKI_HOOK_NAME=prolog
# shellcheck source=kiseki-slurm-lib.sh
. "$(dirname "$(readlink -f "$0")")/kiseki-slurm-lib.sh"

# Writes the job file atomically: root-owned, readable by the job's group only, so the job can read
# its pool id but cannot point the root-run epilog at someone else's pool.
write_job_file() {
  local tmp
  tmp=$(mktemp "$KISEKI_SLURM_STATE_DIR/.job.XXXXXX") || return 1
  if printf '%s\n' "$@" >"$tmp" && chown "0:${SLURM_JOB_GID:-0}" "$tmp" && chmod 0640 "$tmp" &&
    mv -f "$tmp" "$(kiseki_job_file)"; then
    return 0
  fi
  rm -f "$tmp"
  return 1
}

record_failure() {
  local message=$1
  local outcome="the job runs without a staged pool"
  [[ "$KISEKI_REQUIRED" == yes ]] && outcome="the job declared kiseki:required and will fail at task start"
  kiseki_log error "$message; $outcome"
  write_job_file "error=$message" "required=$KISEKI_REQUIRED" "datasets=${KISEKI_DATASETS[*]}" ||
    kiseki_log error "cannot write $(kiseki_job_file)"
}

stage() {
  local exe="$KISEKI_BIN_DIR/kiseki-client" out err rc pool d
  local -a args=(stage)
  for d in "${KISEKI_DATASETS[@]}"; do args+=(--dataset "$d"); done
  args+=(--daemon --timeout "$KISEKI_ADOPT_TIMEOUT")

  if [[ ! -x "$exe" ]]; then
    record_failure "kiseki-client not found at $exe (set KISEKI_BIN_DIR in $KISEKI_HOOK_DIR/kiseki-slurm.env)"
    return
  fi
  if ! out=$(mktemp "$KISEKI_SLURM_STATE_DIR/.stage-out.XXXXXX") ||
    ! err=$(mktemp "$KISEKI_SLURM_STATE_DIR/.stage-err.XXXXXX"); then
    record_failure "cannot create temporary files in $KISEKI_SLURM_STATE_DIR"
    return
  fi

  kiseki_log info "running: $exe ${args[*]} (as uid $(kiseki_stage_uid), limit ${KISEKI_STAGE_TIMEOUT}s)"
  # Output goes to files, not pipes: slurmd reads the Prolog's stdout until EOF, so a staging daemon
  # holding an inherited pipe would stall the job start. setsid moves staging and its daemon out of the
  # Prolog's process group, which slurmd kills when the Prolog exits (both verified on Slurm 22.05).
  kiseki_run_as_job_user setsid -w timeout -k 10 "$KISEKI_STAGE_TIMEOUT" "$exe" "${args[@]}" >"$out" 2>"$err"
  rc=$?
  pool=$(tr -d '[:space:]' <"$out")
  if ((rc == 124 || rc == 137)); then
    record_failure "staging did not finish within KISEKI_STAGE_TIMEOUT=${KISEKI_STAGE_TIMEOUT}s: $(kiseki_excerpt "$err")"
  elif ((rc != 0)); then
    record_failure "staging failed (exit $rc): $(kiseki_excerpt "$err")"
  elif ! kiseki_is_pool_id "$pool"; then
    record_failure "staging printed no pool id (expected 32 hex digits, got '$(kiseki_excerpt "$out")')"
  elif write_job_file "pool=$pool" "required=$KISEKI_REQUIRED" "datasets=${KISEKI_DATASETS[*]}"; then
    kiseki_log info "staged into pool $pool"
  else
    record_failure "cannot write $(kiseki_job_file)"
  fi
  rm -f "$out" "$err"
}

main() {
  local e
  if [[ -z "$KISEKI_JOB_ID" ]]; then
    kiseki_log error "SLURM_JOB_ID is not set; install this script as the Slurm Prolog"
    return 0
  fi
  kiseki_parse_comment "${SLURM_JOB_COMMENT:-}"
  for e in "${KISEKI_COMMENT_ERRORS[@]}"; do kiseki_log warn "ignored comment token $e"; done
  if ((${#KISEKI_DATASETS[@]} == 0)) && [[ "$KISEKI_REQUIRED" == no ]]; then
    return 0
  fi
  if ! mkdir -p "$KISEKI_SLURM_STATE_DIR" || ! chmod 0755 "$KISEKI_SLURM_STATE_DIR"; then
    kiseki_log error "cannot create KISEKI_SLURM_STATE_DIR=$KISEKI_SLURM_STATE_DIR; the job runs without a staged pool"
    return 0
  fi
  kiseki_log info "declared datasets=${KISEKI_DATASETS[*]:-none} required=$KISEKI_REQUIRED user=${SLURM_JOB_USER:-?}(${SLURM_JOB_UID:-?})"
  if ((${#KISEKI_DATASETS[@]} == 0)); then
    record_failure "kiseki:required without any kiseki:dataset=/path"
    return 0
  fi
  stage
}

main
exit 0

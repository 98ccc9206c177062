# Shared by prolog.sh, task_prolog.sh and epilog.sh; sourced, never executed.
# shellcheck disable=SC2034  # settings and parse results are read by the sourcing hook
#
# Slurm runs its hooks with no PATH and with only the SLURM_* variables it documents (slurm.conf(5),
# "PROLOG AND EPILOG SCRIPTS"), so the hooks take their settings from kiseki-slurm.env in their own
# directory (ADR 0071) and call every program by an absolute path.

PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
umask 022

KISEKI_HOOK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KISEKI_HOOK_NAME=${KISEKI_HOOK_NAME:-$(basename "$0" .sh)}

# Defaults; kiseki-slurm.env next to the hooks overrides any of them.
KISEKI_SLURM_STATE_DIR=/run/kiseki-slurm
KISEKI_SLURM_LOG=/var/log/kiseki/slurm-hooks.log
KISEKI_BIN_DIR=
KISEKI_STAGE_TIMEOUT=600
KISEKI_ADOPT_TIMEOUT=600
KISEKI_STAGE_AS_USER=yes
KISEKI_CACHE_DIR=
KISEKI_CACHE_DIR_DEFAULT=/var/cache/kiseki

if [[ -r "$KISEKI_HOOK_DIR/kiseki-slurm.env" ]]; then
  # shellcheck source=/dev/null
  . "$KISEKI_HOOK_DIR/kiseki-slurm.env"
fi

if [[ -z "$KISEKI_BIN_DIR" ]]; then
  kiseki_found=$(command -v kiseki-client 2>/dev/null || true)
  KISEKI_BIN_DIR=$(dirname "${kiseki_found:-/usr/local/bin/kiseki-client}")
fi

KISEKI_JOB_ID=${SLURM_JOB_ID:-${SLURM_JOBID:-}}

# One line per event: "<UTC time> <hook> job=<id> <level> <message>". Never fails the hook.
kiseki_log() {
  local level=$1; shift
  local line
  line="$(date -u +%Y-%m-%dT%H:%M:%SZ) $KISEKI_HOOK_NAME job=${KISEKI_JOB_ID:-?} $level $*"
  { mkdir -p "$(dirname "$KISEKI_SLURM_LOG")" && printf '%s\n' "$line" >>"$KISEKI_SLURM_LOG"; } 2>/dev/null ||
    logger -t kiseki-slurm -- "$line" 2>/dev/null || true
}

# The per-job record the prolog writes and the task prolog and epilog read (ADR 0070):
# lines "key=value" with keys pool, error, required, datasets, stage_user.
kiseki_job_file() { printf '%s/job.%s\n' "$KISEKI_SLURM_STATE_DIR" "$KISEKI_JOB_ID"; }

# Reads one key from the job file; prints nothing if the file or the key is missing.
kiseki_job_get() {
  local want=$1 key value
  [[ -r "$(kiseki_job_file)" ]] || return 0
  while IFS='=' read -r key value; do
    if [[ "$key" == "$want" ]]; then printf '%s\n' "$value"; return 0; fi
  done <"$(kiseki_job_file)"
}

kiseki_is_pool_id() { [[ "$1" =~ ^[0-9a-f]{32}$ ]]; }

# Parses the job comment (ADR 0070). Sets KISEKI_DATASETS (array) and KISEKI_REQUIRED (yes|no);
# KISEKI_COMMENT_ERRORS collects tokens that look like ours but are malformed.
kiseki_parse_comment() {
  local comment=$1 token path
  local -a tokens
  read -r -d "" -a tokens <<<"$comment" || true  # splits on blanks and newlines, never globs
  KISEKI_DATASETS=()
  KISEKI_REQUIRED=no
  KISEKI_COMMENT_ERRORS=()
  for token in "${tokens[@]}"; do
    case "$token" in
      kiseki:dataset=*)
        path=${token#kiseki:dataset=}
        if [[ "$path" == /* && ${#path} -le 4096 && ! "$path" =~ [[:cntrl:]] && ! "$path" =~ (^|/)\.\.(/|$) ]]; then
          KISEKI_DATASETS+=("$path")
        else
          KISEKI_COMMENT_ERRORS+=("$token: dataset must be an absolute namespace path without '..'")
        fi
        ;;
      kiseki:required) KISEKI_REQUIRED=yes ;;
      kiseki:*) KISEKI_COMMENT_ERRORS+=("$token: unknown kiseki directive") ;;
    esac
  done
}

# The uid kiseki programs run as for this job (ADR 0073).
kiseki_stage_uid() {
  if [[ "$KISEKI_STAGE_AS_USER" == yes ]]; then echo "${SLURM_JOB_UID:-0}"; else echo 0; fi
}

# Environment for kiseki programs: a clean one, since Slurm's hook environment is not theirs, plus
# KISEKI_CACHE_DIR and every KISEKI_* variable kiseki-slurm.env exports (ADR 0071).
# Arguments: HOME and user name. Sets the array KISEKI_PROGRAM_ENV.
kiseki_program_env() {
  local name
  KISEKI_PROGRAM_ENV=(PATH="$PATH" LANG=C.UTF-8 HOME="$1" USER="$2" LOGNAME="$2")
  [[ -n "$KISEKI_CACHE_DIR" ]] && KISEKI_PROGRAM_ENV+=(KISEKI_CACHE_DIR="$KISEKI_CACHE_DIR")
  for name in $(compgen -e); do
    [[ "$name" == KISEKI_* && "$name" != KISEKI_CACHE_DIR ]] && KISEKI_PROGRAM_ENV+=("$name=${!name}")
  done
}

kiseki_run_as_root() {
  kiseki_program_env /root root
  env -i "${KISEKI_PROGRAM_ENV[@]}" "$@" </dev/null
}

# Runs a kiseki program as the job's owner when staging as the user is enabled (the pool must belong
# to the user whose workload adopts it), else as root. stdin is /dev/null; the caller redirects output.
kiseki_run_as_job_user() {
  local uid home user
  uid=$(kiseki_stage_uid)
  if [[ "$uid" == 0 ]]; then
    kiseki_run_as_root "$@"
    return
  fi
  home=$(getent passwd "$uid" | cut -d: -f6)
  user=${SLURM_JOB_USER:-$uid}
  kiseki_program_env "${home:-/}" "$user"
  env -i "${KISEKI_PROGRAM_ENV[@]}" setpriv --reuid="$uid" --regid="${SLURM_JOB_GID:-$uid}" --init-groups -- "$@" </dev/null
}

# First lines of a file, on one line, for the log.
kiseki_excerpt() { head -c 600 "$1" 2>/dev/null | tr '\n' ' ' | sed 's/  */ /g; s/ $//'; }

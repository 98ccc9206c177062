#!/bin/bash
# Slurm TaskProlog: run by slurmstepd as the job's owner before every task of every step. Its stdout
# is Slurm's TaskProlog protocol: "export NAME=value" sets NAME in the task's environment, "print text"
# writes text to the task's stdout, and a non-zero exit fails the task without draining the node.
# Hands the pool the prolog staged to the workload (ADR 0070); fails the job whose required staging
# failed (ADR 0072).
set -u
KISEKI_HOOK_NAME=task_prolog
# shellcheck source=kiseki-slurm-lib.sh
. "$(dirname "$(readlink -f "$0")")/kiseki-slurm-lib.sh"

main() {
  local pool error
  # No job file: the job declared no dataset, or this node's prolog did not run for it.
  [[ -n "$KISEKI_JOB_ID" && -r "$(kiseki_job_file)" ]] || return 0
  pool=$(kiseki_job_get pool)
  if kiseki_is_pool_id "$pool"; then
    echo "export KISEKI_CACHE_POOL_ID=$pool"
    return 0
  fi
  error=$(kiseki_job_get error)
  if [[ "$(kiseki_job_get required)" == yes ]]; then
    echo "print kiseki: dataset staging failed on $(hostname): ${error:-no pool recorded}; the job declared kiseki:required, so it does not start"
    return 1
  fi
  if [[ "${SLURM_PROCID:-0}" == 0 ]]; then
    echo "print kiseki: dataset staging failed on $(hostname): ${error:-no pool recorded}; running without a staged pool"
  fi
  return 0
}

main

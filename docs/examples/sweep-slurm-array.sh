#!/bin/bash
# A meshsim sweep fanned out over a Slurm job array: task I of N runs `--shard I/N` into its own
# folder; a dependent job merges the folders when every task has succeeded.
#
#   mkdir -p logs results    # meshsim creates no missing parent folder for --out
#   jobid=$(sbatch --parsable docs/examples/sweep-slurm-array.sh)
#   sbatch --dependency=afterok:$jobid --wrap 'meshsim merge results/shard-* --out results/merged'
#
# A task that is requeued or resubmitted with the same arguments skips the runs it already saved.
# Keep N below equal to the number of array tasks (0-7 is 8 tasks).
#SBATCH --job-name=meshsim-sweep
#SBATCH --array=0-7
#SBATCH --cpus-per-task=2
#SBATCH --mem=512M
#SBATCH --time=01:00:00
#SBATCH --requeue
#SBATCH --output=logs/meshsim-sweep-%A_%a.out

set -euo pipefail
N=8
if [ "${SLURM_ARRAY_TASK_COUNT:-$N}" != "$N" ]; then
  echo "the array has ${SLURM_ARRAY_TASK_COUNT} tasks but N=$N" >&2
  exit 2
fi
exec meshsim sweep scenarios/sweeps/consecutive5xx-x-base-ejection.toml \
  --shard "${SLURM_ARRAY_TASK_ID}/${N}" \
  --jobs "${SLURM_CPUS_PER_TASK:-2}" \
  --quiet --no-charts \
  --out "results/shard-${SLURM_ARRAY_TASK_ID}"

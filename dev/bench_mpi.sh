#!/usr/bin/env bash
# One process with 2 threads against 2 MPI ranks with 1 thread each, on the
# same model and global batch (llama-5M B16 T256 by default), then the
# bandwidth of the two collectives a step makes (build/bench_allreduce).
# The README's data-parallel table and its projection come from this.
#
#   make all mpi data && bash dev/bench_mpi.sh        # STEPS=12 (the first step is not timed)
#   PRECISION=auto bash dev/bench_mpi.sh               # the trainers' default precision (fp32 here by default)
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-12}
MODEL=${MODEL:---model llama-5M -b 16 -t 256}
FLAGS="$MODEL -x $STEPS -v 0 -s 0 -g 0 -n 0 --seed 1337 --precision ${PRECISION:-fp32} ${EXTRA:-}"
OUT=$(mktemp -d /tmp/bench_mpi.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
export OMP_WAIT_POLICY=passive
MPIRUN="mpirun --allow-run-as-root --oversubscribe --bind-to none -x OMP_NUM_THREADS -x OMP_WAIT_POLICY"

echo "== 1 process x 2 threads"
OMP_NUM_THREADS=2 ./train_llama $FLAGS -o "$OUT/a" | grep -E '^done'
echo "== 2 processes x 1 thread (MPI, shared memory)"
OMP_NUM_THREADS=1 $MPIRUN -np 2 ./train_llama_mpi $FLAGS -o "$OUT/b" | grep -E '^(done|communication|data parallel)'
echo "== 1 process x 1 thread"
OMP_NUM_THREADS=1 ./train_llama $FLAGS -o "$OUT/c" | grep -E '^done'
echo "== the collectives on a llama-5M-sized blob (2 ranks)"
OMP_NUM_THREADS=1 $MPIRUN -np 2 build/bench_allreduce --params 4980000 --reps 20

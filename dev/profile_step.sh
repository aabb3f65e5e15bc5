#!/usr/bin/env bash
# Where a training step's CPU time goes, by kernel group, from `perf record`
# of steady-state steps (the first SKIP_S seconds, start-up and the first
# steps, are not recorded). Complements `train_llama --profile`, which times
# the trainer's phases but cannot split a phase into its micro-kernel, its
# packers and its softmax: this prints the share of all sampled CPU time of
#   micro-kernels  gemm::*::micro_*           the multiply-adds (GEMM, classifier and attention products;
#                  attn::tile_gemm            fp32 attention's own)
#   packers        gemm::*::pack_*            operands into the micro-kernels' layouts
#   attention      attn_bf16:: / attn::       attention's softmax, bookkeeping, row stores
#   classifier     classifier_*               the fused softmax + cross-entropy rows
#   swiglu, norms (rmsnorm*, residual*), rope, adamw, embedding
#   omp/sync       libgomp                     waiting at barriers (see below)
#   kernel         [k]                         page faults, scheduling
# then the 12 hottest symbols.
#
# Threads run with OMP_WAIT_POLICY=passive here: a thread that waits sleeps
# instead of spinning. In a VM, cpu-clock samples of spinning threads pile up
# on libgomp's pause loop (about half of all samples on the dev Zen 4 with the
# default policy, while --profile shows every phase at 1.9x+ of one thread's
# speed), so that share would say nothing about the work; passive makes the
# omp/sync line the real cost of waiting, at ~5-10% slower steps.
#
#   dev/profile_step.sh                                   # llama-5M B16 T256, default precision
#   dev/profile_step.sh --precision fp32                  # extra flags go to train_llama
#   STEPS=30 SKIP_S=6 dev/profile_step.sh --model llama-1M
# Needs perf (Debian: linux-perf) and permission to use it (perf_event_paranoid <= 1, or root).
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-20}
SKIP_S=${SKIP_S:-4}
command -v perf >/dev/null || { echo "profile_step.sh: perf not found (apt-get install linux-perf)" >&2; exit 1; }
make -s train_llama >/dev/null
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
OMP_WAIT_POLICY=passive perf record -q -D $((SKIP_S * 1000)) -e cpu-clock -F 2000 -o "$out/perf.data" \
    ./train_llama --model llama-5M -b 16 -t 256 -x "$STEPS" -v 0 -s 0 -n 0 -g 0 -o "$out/run" "$@" > "$out/log.txt" 2>&1 ||
    { cat "$out/log.txt" >&2; echo "profile_step.sh: perf record failed (perf_event_paranoid? see above)" >&2; exit 1; }
grep -E '^matmuls:' "$out/log.txt" || true
grep -E '^done:' "$out/log.txt" || true
perf report -i "$out/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null | grep -E '^ +[0-9.]+%' > "$out/syms.txt" ||
    { echo "profile_step.sh: perf report found no samples (a run shorter than SKIP_S=$SKIP_S s?)" >&2; exit 1; }
awk '
{
    share = $1; sub(/%/, "", share); dso = $2; sym = $0; sub(/^ +[0-9.]+% +[^ ]+ +/, "", sym)
    g = "other"
    if (sym ~ /^\[k\]/) g = "kernel"
    else if (dso ~ /libgomp/) g = "omp/sync"
    else if (sym ~ /::micro_|attn::tile_gemm/) g = "micro-kernels"
    else if (sym ~ /::pack_|::pack</) g = "packers"
    else if (sym ~ /attn_bf16::|attn::|attention_/) g = "attention"
    else if (sym ~ /classifier_/) g = "classifier"
    else if (sym ~ /swiglu/) g = "swiglu"
    else if (sym ~ /rmsnorm|residual/) g = "norms"
    else if (sym ~ /rope/) g = "rope"
    else if (sym ~ /adamw|grad_norm/) g = "adamw"
    else if (sym ~ /embedding|encoder/) g = "embedding"
    total[g] += share
}
END {
    n = split("micro-kernels packers attention classifier swiglu norms rope adamw embedding omp/sync kernel other", order, " ")
    printf "share of sampled CPU time, steady-state steps:\n"
    for (i = 1; i <= n; i++) printf "  %-14s %5.1f%%\n", order[i], total[order[i]]
}' "$out/syms.txt"
echo "hottest symbols:"
head -12 "$out/syms.txt" | awk '{ s = $0; sub(/^ +/, "", s); sub(/[ -]+$/, "", s); gsub(/  +/, " ", s); printf "  %s\n", substr(s, 1, 140) }'

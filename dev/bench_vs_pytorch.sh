#!/usr/bin/env bash
# Issue #11's comparison in one sitting: train_llama (default --precision auto,
# then --precision fp32) against the PyTorch eager twin
# (dev/reference/bench_pytorch.py, fp32 and bf16 autocast) on the same model,
# B, T and threads, interleaved rep by rep so a noisy neighbour on the machine
# hits both sides alike. Prints each run's tok/s and, per rep, the ratio of our
# default to PyTorch's best mode in that rep (the target: >= 2x, >= 3x on AMX)
# and to our fp32 (auto must never be the slower), then the median of each
# ratio over the reps (the lower middle one for an even count).
#
#   dev/bench_vs_pytorch.sh                  # llama-5M B16 T256, 3 reps
#   REPS=5 MODEL=llama-1M dev/bench_vs_pytorch.sh
# env: REPS (3), MODEL (llama-5M), B (16), T (256), STEPS (12 of ours; PyTorch times 8 after its warm-up).
# Needs python3 with torch (pip install torch); nothing in CI runs this.
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-3}
MODEL=${MODEL:-llama-5M}
B=${B:-16}
T=${T:-256}
STEPS=${STEPS:-12}
python3 -c 'import torch' 2>/dev/null || { echo "bench_vs_pytorch.sh: python3 cannot import torch (pip install torch)" >&2; exit 1; }
make -s train_llama >/dev/null
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# ours ARGS...: tok/s of a train_llama run (the trainer's average leaves out the first step)
ours() {
    ./train_llama --model "$MODEL" -b "$B" -t "$T" -x "$STEPS" -v 0 -s 0 -n 0 -g 0 -o "$out" "$@" > "$out/log.txt" 2>&1 ||
        { cat "$out/log.txt" >&2; exit 1; }
    grep -o '[0-9]* tok/s$' "$out/log.txt" | tail -1 | tr -dc 0-9
}
# torch ARGS...: tok/s of a bench_pytorch.py run
torch_tok() {
    python3 dev/reference/bench_pytorch.py --model "$MODEL" -b "$B" -t "$T" --steps 8 "$@" > "$out/py.txt" 2>&1 ||
        { cat "$out/py.txt" >&2; exit 1; }
    grep -o '[0-9]* tok/s' "$out/py.txt" | tail -1 | tr -dc 0-9
}

printf "%-4s %-9s %10s %10s %10s %10s %12s %10s\n" rep time "ours auto" "ours fp32" "torch fp32" "torch bf16" "auto/torch" "auto/fp32"
for rep in $(seq 1 "$REPS"); do
    when=$(date +%T)
    a=$(ours)
    [ "$rep" = 1 ] && sed -n 's/^matmuls: /# ours auto: /p' "$out/log.txt"
    tb=$(torch_tok --bf16)
    f=$(ours --precision fp32)
    tf=$(torch_tok)
    best=$((tb > tf ? tb : tf))
    awk -v r="$rep" -v w="$when" -v a="$a" -v f="$f" -v tf="$tf" -v tb="$tb" -v best="$best" 'BEGIN {
        printf "%-4s %-9s %10d %10d %10d %10d %11.2fx %9.2fx\n", r, w, a, f, tf, tb, a / best, a / f }' |
        tee -a "$out/rows.txt"
done
# One rep proves little on a shared machine (our own tok/s moves by a third
# between reps): the medians of the two ratios over the reps.
sort -k7 -g "$out/rows.txt" | awk '{ r[NR] = $7 } END { printf "median over %d reps: auto/torch %s", NR, r[int((NR + 1) / 2)] }'
sort -k8 -g "$out/rows.txt" | awk '{ r[NR] = $8 } END { printf ", auto/fp32 %s\n", r[int((NR + 1) / 2)] }'


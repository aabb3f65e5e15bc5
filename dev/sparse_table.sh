#!/usr/bin/env bash
# The sparsellm comparison at our scale (README, "Sparse training"): dense
# llama-5M; llama-5M pruned to 50% and 80% by gradual magnitude pruning; and
# for each sparse run a smaller dense model whose linear-layer parameter count
# equals the sparse run's average over training. Same data, same tokens
# (-x steps of B·T), same schedule. Prints a markdown table from the logs.
#
#   make all data && bash dev/sparse_table.sh          # STEPS=300 B=8 by default; OUT=runs/sparse
#
# Each run writes OUT/NAME/log.jsonl and OUT/NAME/out.txt; a run whose final
# checkpoint exists is not redone (delete its directory to redo it).
set -euo pipefail
cd "$(dirname "$0")/.."
# Sleep instead of spinning at OpenMP barriers: on a machine doing anything
# else at the same time, spinning threads turn seconds into tens of seconds.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
STEPS=${STEPS:-300}
B=${B:-8}
OUT=${OUT:-runs/sparse}
# Pruning from 10% to 75% of the run, an event every 5%: dense first, then
# the cubic schedule, then a quarter of the run at the final sparsity.
START=$((STEPS / 10)); END=$((STEPS * 3 / 4)); EVERY=$((STEPS / 20))
COMMON="-b $B -t 256 -x $STEPS -u 20 -l 1e-3 -v 0 -m 97 -s 0 -g 120 -n $STEPS --seed 1337 --bf16 ${EXTRA:-}"
PRUNE="--prune-start $START --prune-end $END --prune-every $EVERY"

# PARALLEL=1 runs the five at once with one thread each (the kernels give
# the same bits on any thread count): on a machine busy with other work this
# beats one run after another at 2 threads, whose OpenMP barriers wait on
# whichever thread was descheduled.
run() {  # name, flags...
    local name=$1; shift
    local dir="$OUT/$name"
    if [ -f "$dir/ckpt_$(printf %06d "$STEPS").bin" ]; then echo "== $name: done already ($dir)"; return; fi
    rm -rf "$dir"; mkdir -p "$dir"
    echo "== $name: ./train_llama $COMMON $* -o $dir"
    if [ "${PARALLEL:-0}" = 1 ]; then
        OMP_NUM_THREADS=1 ./train_llama $COMMON "$@" -o "$dir" > "$dir/out.txt" 2>&1 &
        return
    fi
    ./train_llama $COMMON "$@" -o "$dir" > "$dir/out.txt" 2>&1 || { tail -5 "$dir/out.txt"; exit 1; }
    grep -E '^(step [0-9]+ \| val|sparsity:|done:)' "$dir/out.txt" || true
}

# Dense models sized by dim (hidden = 2·dim, 6 layers, 4 heads): linear
# parameters per layer 4·C² + 3·C·H = 10·C², ×6 layers = 60·C². The sparse
# runs' averages (printed as "average linear" at the end) set C; C must be a
# multiple of 8 (even head size of C/4). With this schedule they are 0.64
# (50%) and 0.43 (80%) of llama-5M's 3.93M: C = 208 (2.60M) and 168 (1.69M).
run dense-5M     --model llama-5M
run sparse-50    --model llama-5M --sparsity 0.5 $PRUNE
run sparse-80    --model llama-5M --sparsity 0.8 $PRUNE
run dense-208    --model llama-5M --dim 208 --hidden 416
run dense-168    --model llama-5M --dim 168 --hidden 336
if [ "${PARALLEL:-0}" = 1 ]; then
    wait
    for name in dense-5M sparse-50 sparse-80 dense-208 dense-168; do
        [ -f "$OUT/$name/ckpt_$(printf %06d "$STEPS").bin" ] || { echo "$name failed:"; tail -5 "$OUT/$name/out.txt"; exit 1; }
    done
fi

# The table: parameters, linear (final and average), mean train loss of the
# last 20 steps, final val loss and bits/byte on the whole validation shard.
python3 - "$OUT" "$STEPS" <<'EOF'
import json, sys, os, re
out, steps = sys.argv[1], int(sys.argv[2])
rows = [("dense-5M", "llama-5M, dense"), ("sparse-50", "llama-5M, 50% sparse"), ("sparse-80", "llama-5M, 80% sparse"),
        ("dense-208", "dense, dim 208 (≈ the 50% run's average)"), ("dense-168", "dense, dim 168 (≈ the 80% run's average)")]
print("| model | parameters | linear, final non-zero | linear, average over the run | train loss (last 20 steps) | val loss | val bits/byte |")
print("|---|---|---|---|---|---|---|")
for name, label in rows:
    d = os.path.join(out, name)
    try:
        lines = [json.loads(l) for l in open(os.path.join(d, "log.jsonl"))]
        text = open(os.path.join(d, "out.txt")).read()
    except OSError:
        continue
    losses = [l["loss"] for l in lines if "loss" in l]
    val = [l for l in lines if "val_loss" in l][-1]
    params = float(re.search(r"([0-9.]+)M parameters", text).group(1))
    sp = [l for l in lines if "avg_linear" in l]
    if sp:
        nonzero, avg = sp[-1]["nonzero_linear"], sp[-1]["avg_linear"]
    else:  # dense: linear = 6 layers × 10·C²
        C = int(re.search(r"dim (\d+)", text).group(1))
        nonzero = avg = 60 * C * C
    tail = losses[-20:]
    print(f"| {label} | {params:.2f}M | {nonzero/1e6:.2f}M | {avg/1e6:.2f}M | {sum(tail)/len(tail):.3f} | "
          f"{val['val_loss']:.3f} | {val['val_bpb']:.3f} |")
EOF

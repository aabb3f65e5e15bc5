#!/usr/bin/env bash
# The rest of make quickstart's sweep (README, "Ten minutes on two cores"):
# batch size, weight decay, wsd's decay fraction, warmup and model shape, each run
# differing in one setting from quickstart's. Unlike dev/sweep_10m.sh these
# runs are matched in tokens, not wall clock, so they can share a busy
# machine: every run sees STEPS x 4096 tokens (B8 runs twice the steps, B32
# half), which is the same wall-clock budget wherever tok/s does not depend
# on B at a fixed B*T (README "Performance": step time is flat in B and T at
# 4,096 tokens a step). The two other shapes get the steps of the same FLOPs
# (the banner's GFLOP per step: 122.00 deep, 140.93 wide, 132.07 llama-5M).
# Final val loss and bits/byte are on the whole validation set.
#
#   make all data && bash dev/sweep_steps.sh          # STEPS=600 (about 5 minutes a run on the 2-core Zen 4)
#   RUNS="base b8" OUT=runs/steps bash dev/sweep_steps.sh
#
# A run whose log already ends with its final evaluation is not redone.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/steps}
STEPS=${STEPS:-600}
RUNS=${RUNS:-"base b4 b8 b32 wd0 wd0.3 decay0.5 warmup100 deep wide"}
mkdir -p "$OUT"

for name in $RUNS; do
    if [ -f "$OUT/$name/log.jsonl" ] && grep -q val_bpb "$OUT/$name/log.jsonl"; then echo "== $name: done already"; continue; fi
    rm -rf "${OUT:?}/$name"
    B=16; x=$STEPS; u=30; extra=""
    case $name in
        base) ;;                                              # make quickstart's settings
        b4) B=4; x=$((STEPS * 4)); u=120 ;;                   # the same tokens and warmup tokens
        b8) B=8; x=$((STEPS * 2)); u=60 ;;
        b32) B=32; x=$((STEPS / 2)); u=15 ;;
        wd0) extra="-c 0" ;;
        wd0.3) extra="-c 0.3" ;;
        decay0.5) extra="--decay-frac 0.5" ;;
        warmup100) u=100 ;;
        deep) x=$((STEPS * 13207 / 12200)); extra="--dim 192 --layers 10 --heads 4 --kv-heads 4 --hidden 384" ;;  # 4.48M
        wide) x=$((STEPS * 13207 / 14093)); extra="--dim 320 --layers 4 --heads 5 --kv-heads 5 --hidden 640" ;;   # 5.41M
        *) echo "unknown run $name"; exit 1 ;;
    esac
    flags="--model llama-5M -b $B -t 256 -x $x -u $u -l 2e-3 --schedule wsd --decay-frac 0.3 $extra -v 0 -m 10000 -s 0 -g 120 -n 0 --seed 1337"
    echo "== $name: ./train_llama $flags -o $OUT/$name"
    ./train_llama $flags -o "$OUT/$name" > "$OUT/$name.txt" 2>&1
    grep -E '^(step [0-9]+ \| val|done:)' "$OUT/$name.txt"
done

python3 - "$OUT" $RUNS <<'PY'
import json, sys
out, runs = sys.argv[1], sys.argv[2:]
print("| run | steps | tokens | final train loss (mean of last 20) | val loss | bits/byte |")
print("|---|---|---|---|---|---|")
for name in runs:
    steps, evals, per_step = [], [], 0
    for line in open(f"{out}/{name}/log.jsonl"):
        r = json.loads(line)
        if "config" in r: per_step = int(r["config"]["tokens_per_step"])
        elif "loss" in r: steps.append(r)
        elif "val_loss" in r: evals.append(r)
    tail = [s["loss"] for s in steps[-20:]]
    e = evals[-1]
    print(f"| {name} | {len(steps)} | {len(steps) * per_step / 1e6:.2f}M | {sum(tail) / len(tail):.4f} "
          f"| {e['val_loss']:.4f} | {e.get('val_bpb', float('nan')):.4f} |")
PY

#!/usr/bin/env bash
# "How good a model do I get in 10 minutes on this machine?": train_llama
# --time runs that differ in one setting from make quickstart's, one after
# another on an otherwise idle machine (a --time run is only as good as the
# CPU time it gets), then the PyTorch twin for the same 10 minutes, then a
# table of final val loss and bits/byte (whole validation set) and an
# overlay report of every run. README, "Ten minutes on two cores".
#
#   make all data && bash dev/sweep_10m.sh                 # RUNS="lr2e-3 lr3e-3 ..." to pick; OUT=runs/t10
#
# A run whose log already ends with its final evaluation is not redone.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/t10}
TIME=${TIME:-10m}
BASE="--model llama-5M -b 16 -t 256 --time $TIME -u 30 -v 0 -s 0 -g 150 -n 0 --bf16"
RUNS=${RUNS:-"lr2e-3 lr3e-3 lr1e-3 wsd2e-3 pytorch"}
mkdir -p "$OUT"

for name in $RUNS; do
    if [ -f "$OUT/$name/log.jsonl" ] && grep -q val_bpb "$OUT/$name/log.jsonl"; then echo "== $name: done already"; continue; fi
    rm -rf "${OUT:?}/$name"
    case $name in
        lr1e-3)  flags="-l 1e-3" ;;
        lr2e-3)  flags="-l 2e-3" ;;   # make quickstart's
        lr3e-3)  flags="-l 3e-3" ;;
        wsd2e-3) flags="-l 2e-3 --schedule wsd --decay-frac 0.3" ;;
        pytorch)
            echo "== pytorch: python3 dev/reference/train_pytorch.py --time 600 --bf16 -l 2e-3 -o $OUT/pytorch"
            python3 dev/reference/train_pytorch.py --time 600 --bf16 -l 2e-3 -o "$OUT/pytorch" > "$OUT/pytorch.txt" 2>&1
            tail -2 "$OUT/pytorch.txt"
            continue ;;
        *) echo "unknown run $name"; exit 1 ;;
    esac
    echo "== $name: ./train_llama $BASE $flags -o $OUT/$name"
    ./train_llama $BASE $flags -o "$OUT/$name" > "$OUT/$name.txt" 2>&1
    grep -E '^(step [0-9]+ \| val|done:)' "$OUT/$name.txt"
done

python3 - "$OUT" $RUNS <<'EOF'
import json, sys
out, runs = sys.argv[1], sys.argv[2:]
print("| run | steps | tokens | val loss | val bits/byte |")
print("|---|---|---|---|---|")
for name in runs:
    try:
        lines = [json.loads(l) for l in open(f"{out}/{name}/log.jsonl")]
    except OSError:
        continue
    steps = [l for l in lines if "loss" in l and "step" in l]
    val = [l for l in lines if "val_bpb" in l][-1]
    print(f"| {name} | {len(steps)} | {len(steps) * 4096 / 1e6:.2f}M | {val['val_loss']:.4f} | {val['val_bpb']:.4f} |")
EOF
build/report $(for n in $RUNS; do echo "$OUT/$n/log.jsonl"; done) -o "$OUT/compare.html"

#!/usr/bin/env bash
# dev/cuda/compare_logs.sh REF.jsonl RUN.jsonl [tolerance]: does RUN's loss track
# REF's? Compares the training loss step by step, as a 10-step running mean
# (single steps of two trajectories are noisy), and the val loss of every eval.
# Passes (exit 0) if every mean and every val loss is within tolerance
# (relative, default 0.01) of the reference. Used for bf16 against --fp32.
set -euo pipefail
ref=$1 run=$2 tol=${3:-0.01}
awk -v tol="$tol" -v refname="$ref" -v runname="$run" '
    # {"step": 12, "loss": 3.1, ...} or {"step": 100, "val_loss": 2.9, ...}
    function field(line, key,    m) {
        if (match(line, "\"" key "\": [-0-9.eE+]+")) { m = substr(line, RSTART, RLENGTH); sub(/.*: /, "", m); return m + 0 }
        return ""
    }
    FNR == 1 { file++ }
    {
        s = field($0, "step"); l = field($0, "loss"); v = field($0, "val_loss")
        if (l != "") loss[file, s] = l
        if (v != "") val[file, s] = v
        if (s > last) last = s
    }
    END {
        worst = 0; worst_at = 0; n = 0
        for (s = 1; s <= last; s++) {
            if (!((1, s) in loss) || !((2, s) in loss)) continue
            a[++n] = loss[1, s]; b[n] = loss[2, s]; at[n] = s
            if (n >= 10) {
                ma = 0; mb = 0
                for (i = n - 9; i <= n; i++) { ma += a[i]; mb += b[i] }
                d = (mb - ma) / ma; if (d < 0) d = -d
                if (d > worst) { worst = d; worst_at = s }
            }
        }
        if (n < 10) { printf "fewer than 10 common steps in %s and %s\n", refname, runname; exit 1 }
        printf "train loss, 10-step means: worst relative difference %.4f at step %d (tolerance %g); last step %d: %.4f vs %.4f\n",
               worst, worst_at, tol, at[n], a[n], b[n]
        bad = worst > tol
        for (k in val) {
            split(k, p, SUBSEP)
            if (p[1] != 1 || !((2, p[2]) in val)) continue
            d = (val[2, p[2]] - val[1, p[2]]) / val[1, p[2]]; if (d < 0) d = -d
            printf "val loss at step %d: %.4f vs %.4f (relative %.4f)\n", p[2], val[1, p[2]], val[2, p[2]], d
            if (d > tol) bad = 1
        }
        print bad ? "FAIL: does not track the reference" : "ok: tracks the reference"
        exit bad
    }' "$ref" "$run"

#!/usr/bin/env bash
# Times whole training steps for named configs and prints, per run, the
# median ms/step over the timed steps, tok/s and MFU against the measured
# peak of this machine on the same thread count: build/bench_peak's FMA probe
# for fp32 runs, its bf16 probe (vdpbf16ps, or AMX tiles where the GEMM uses
# them) for --bf16 runs (so a bf16 MFU says how
# much of the bf16 peak the step reaches). The first STEPS_SKIP steps
# (allocation, page faults, caches) are not counted.
#
#   dev/bench_train.sh                 # llama-5M at B=16 T=256, fp32 and bf16 (the headline numbers)
#   dev/bench_train.sh 5m 1m threads tsweep gpt2
# configs:
#   5m       llama-5M, B=16, T=256, fp32 and --bf16
#   1m       llama-1M, B=16, T=256, fp32 and --bf16
#   threads  llama-5M, B=16, T=256 on 1 thread and on all threads (scaling), fp32 and --bf16
#   tsweep   llama-5M at T = 64, 128, 256, 512, 1024 with B·T = 4096 tokens per step, fp32 and --bf16
#   gpt2     GPT-2 124M (random init) at B=4, T=64 on tiny shakespeare in GPT-2 tokens, fp32 and --bf16
#            (the shards are made once under data/shakes_gpt2 from ../shared)
# env: STEPS (default 8), STEPS_SKIP (2), THREADS (all cores), PRECISIONS ("fp32 bf16").
# Other processes on the machine distort the numbers: the script prints the
# load average before each run so a noisy one can be spotted. While other work
# holds a core, OMP_WAIT_POLICY=passive (threads sleep at a barrier instead of
# spinning) measured about 2× faster steps than the default; on a quiet
# machine it costs about 1%.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-8}
STEPS_SKIP=${STEPS_SKIP:-2}
THREADS=${THREADS:-$(nproc)}
PRECISIONS=${PRECISIONS:-fp32 bf16}
make -s train_llama train_gpt2 build/bench_peak build/prepro >/dev/null
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# peak_of PROBE THREADS sets PEAK: the best of three probe runs, measured once per probe and
# thread count (one probe run is short, and a noisy neighbour can halve it)
declare -A PEAKS
peak_of() {
    local key="$1:$2"
    if [ -z "${PEAKS[$key]:-}" ]; then
        local best=0 i p
        for i in 1 2 3; do
            p=$(OMP_NUM_THREADS=$2 build/bench_peak "$1")
            [ "$p" -gt "$best" ] && best=$p
        done
        PEAKS[$key]=$best
    fi
    PEAK=${PEAKS[$key]}
}

# run NAME THREADS BINARY ARGS...: one training run per precision; prints a table row each
run() {
    local name=$1 nth=$2 bin=$3
    shift 3
    local prec
    for prec in $PRECISIONS; do
        local flag="--precision fp32" probe=--gflops  # explicit: the trainers' default is auto
        [ "$prec" = bf16 ] && { flag="--precision bf16"; probe=--gflops-bf16; }
        local peak load
        peak_of $probe "$nth"
        peak=$PEAK
        load=$(cut -d' ' -f1 /proc/loadavg)
        OMP_NUM_THREADS=$nth $bin "$@" $flag -x "$STEPS" -v 0 -s 0 -m 1 -g 1 -n 0 -o "$out" --peak-gflops "$peak" \
            > "$out/log.txt" 2>&1 || { cat "$out/log.txt"; exit 1; }
        # step lines: "step     3/8 | loss ... | 123 ms | 4567 tok/s | MFU 12.3% | ...": the ms of the timed ones
        local ms tokens gflop
        ms=$(awk -v skip="$STEPS_SKIP" '/^step +[0-9]+\/[0-9]+ \|/ {
                split($2, s, "/"); if (s[1] + 0 <= skip) next
                for (i = 2; i <= NF; i++) if ($i == "ms") print $(i - 1) }' "$out/log.txt" | sort -n)
        tokens=$(grep -o '= [0-9]* tokens' "$out/log.txt" | head -1 | tr -dc 0-9)
        gflop=$(grep -o '; [0-9.]* GFLOP per step' "$out/log.txt" | tr -dc 0-9.)
        echo "$ms" | awk -v name="$name" -v prec="$prec" -v nth="$nth" -v peak="$peak" -v load="$load" \
                         -v tokens="$tokens" -v gflop="$gflop" '
            NF { v[n++] = $1 }
            END {
                if (n == 0) { print name ": no timed steps"; exit 1 }
                med = (n % 2) ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2
                printf "%-24s %-5s %3d %10.0f %10.0f %9.1f%% %8.0f %7s\n", name, prec, nth, med, tokens / (med / 1e3),
                       100 * gflop / (med / 1e3) / peak, peak, load
            }'
    done
}

gpt2_data() {
    if [ ! -f data/shakes_gpt2/val_000000.bin ]; then
        local text=../shared/data/tinyshakespeare/input.txt
        [ -f "$text" ] || { echo "gpt2 config: $text not found" >&2; exit 1; }
        mkdir -p data/shakes_gpt2
        # the last ~10% (from a blank line) is val, as in the README's GPT-2 run
        local cut
        cut=$(awk -v n="$(wc -l < "$text")" 'NR > 0.9 * n && /^$/ { print NR; exit }' "$text")
        head -n "$cut" "$text" > "$out/train.txt"
        tail -n +"$((cut + 1))" "$text" > "$out/val.txt"
        build/prepro --gpt2 --train "$out/train.txt" --val "$out/val.txt" --out data/shakes_gpt2 > /dev/null
    fi
}

printf "%-24s %-5s %3s %10s %10s %10s %8s %7s\n" "config" "prec" "thr" "ms/step" "tok/s" "MFU" "peak GF" "load"
configs=("$@")
[ ${#configs[@]} -eq 0 ] && configs=(5m)
for c in "${configs[@]}"; do
    case $c in
        5m) run "llama-5M B16 T256" "$THREADS" ./train_llama --model llama-5M -b 16 -t 256 ;;
        1m) run "llama-1M B16 T256" "$THREADS" ./train_llama --model llama-1M -b 16 -t 256 ;;
        threads)
            run "llama-5M B16 T256" 1 ./train_llama --model llama-5M -b 16 -t 256
            run "llama-5M B16 T256" "$THREADS" ./train_llama --model llama-5M -b 16 -t 256 ;;
        tsweep)
            for T in 64 128 256 512 1024; do
                run "llama-5M B$((4096 / T)) T$T" "$THREADS" ./train_llama --model llama-5M --seq-len "$T" -b $((4096 / T)) -t "$T"
            done ;;
        gpt2)
            gpt2_data
            run "gpt2-124M B4 T64" "$THREADS" ./train_gpt2 --model gpt2-124M -i 'data/shakes_gpt2/train_*.bin' \
                -j 'data/shakes_gpt2/val_*.bin' -b 4 -t 64 ;;
        *) echo "unknown config '$c' (5m, 1m, threads, tsweep, gpt2)" >&2; exit 2 ;;
    esac
done

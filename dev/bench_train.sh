#!/usr/bin/env bash
# Times whole training steps of train_llama for named configs and prints, per
# run, the median ms/step over the timed steps, tok/s and MFU against the
# measured fp32 peak of this machine (build/bench_peak's FMA probe on the same
# thread count). The first STEPS_SKIP steps (allocation, page faults, caches)
# are not counted.
#
#   dev/bench_train.sh                 # llama-5M at B=16 T=256 (the headline number)
#   dev/bench_train.sh 5m 1m threads tsweep
# configs:
#   5m       llama-5M, B=16, T=256
#   1m       llama-1M, B=16, T=256
#   threads  llama-5M, B=16, T=256 on 1 thread and on all threads (scaling)
#   tsweep   llama-5M at T = 64, 128, 256, 512, 1024 with B·T = 4096 tokens per step
# env: STEPS (default 8), STEPS_SKIP (2), THREADS (all cores).
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
make -s train_llama build/bench_peak >/dev/null
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# run NAME THREADS ARGS...: one training run; prints a table row
run() {
    local nth=$2
    local peak
    peak=$(OMP_NUM_THREADS=$nth build/bench_peak --gflops)
    local load
    load=$(cut -d' ' -f1 /proc/loadavg)
    OMP_NUM_THREADS=$nth ./train_llama "${@:3}" -x "$STEPS" -v 0 -s 0 -m 1 -g 1 -n 0 -o "$out" --peak-gflops "$peak" \
        > "$out/log.txt" 2>&1 || { cat "$out/log.txt"; exit 1; }
    # step lines: "step     3/8 | loss ... | 123 ms | 4567 tok/s | MFU 12.3% | ...": the ms of the timed ones
    local ms tokens gflop
    ms=$(awk -v skip="$STEPS_SKIP" '/^step +[0-9]+\/[0-9]+ \|/ {
            split($2, s, "/"); if (s[1] + 0 <= skip) next
            for (i = 2; i <= NF; i++) if ($i == "ms") print $(i - 1) }' "$out/log.txt" | sort -n)
    tokens=$(grep -o '= [0-9]* tokens' "$out/log.txt" | head -1 | tr -dc 0-9)
    gflop=$(grep -o '; [0-9.]* GFLOP per step' "$out/log.txt" | tr -dc 0-9.)
    echo "$ms" | awk -v name="$1" -v nth="$nth" -v peak="$peak" -v load="$load" -v tokens="$tokens" -v gflop="$gflop" '
        NF { v[n++] = $1 }
        END {
            if (n == 0) { print name ": no timed steps"; exit 1 }
            med = (n % 2) ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2
            printf "%-28s %3d %10.0f %10.0f %9.1f%% %8.0f %7s\n", name, nth, med, tokens / (med / 1e3),
                   100 * gflop / (med / 1e3) / peak, peak, load
        }'
}

printf "%-28s %3s %10s %10s %10s %8s %7s\n" "config" "thr" "ms/step" "tok/s" "MFU" "peak GF" "load"
configs=("$@")
[ ${#configs[@]} -eq 0 ] && configs=(5m)
for c in "${configs[@]}"; do
    case $c in
        5m) run "llama-5M B16 T256" "$THREADS" --model llama-5M -b 16 -t 256 ;;
        1m) run "llama-1M B16 T256" "$THREADS" --model llama-1M -b 16 -t 256 ;;
        threads)
            run "llama-5M B16 T256" 1 --model llama-5M -b 16 -t 256
            run "llama-5M B16 T256" "$THREADS" --model llama-5M -b 16 -t 256 ;;
        tsweep)
            for T in 64 128 256 512 1024; do
                run "llama-5M B$((4096 / T)) T$T" "$THREADS" --model llama-5M --seq-len "$T" -b $((4096 / T)) -t "$T"
            done ;;
        *) echo "unknown config '$c' (5m, 1m, threads, tsweep)" >&2; exit 2 ;;
    esac
done

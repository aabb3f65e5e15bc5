#!/usr/bin/env bash
# dev/cuda/gpu_session.sh: everything a session with a GPU runs to verify the
# CUDA work, in one command (see dev/cuda/README.md):
#   1. build the trainer, the harnesses and test_cuda (and the CPU trainer);
#   2. every kernel harness: agreement with its CPU kernel, then timings at the
#      trainer's shapes against the device's peak (make bench_cuda);
#   3. make test_cuda: kernels, the --fp32 step against the CPU trainer,
#      checkpoints crossing between the trainers; then compute-sanitizer
#      (memcheck, and racecheck/synccheck on the attention kernels) over the
#      harnesses' small-shape checks;
#   4. bf16 against --fp32 over 200 steps of llama-5M (must track within 1%);
#   5. throughput and MFU: llama-5M, and a ~124M Llama at T = 1024.
# Arguments pick parts: build harness test sanitize track throughput (default:
# all, in that order); e.g. `gpu_session.sh build harness test sanitize` then
# `gpu_session.sh track throughput` when one call must stay under a time limit.
# Logs go to $OUT (default out/gpu_session). Exit status 1 if any part failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-out/gpu_session}
mkdir -p "$OUT"
parts=${*:-build harness test sanitize track throughput}
status=0
want() { [[ " $parts " == *" $1 "* ]]; }
part() { echo; echo "=== $*"; }
fail() { echo "FAILED: $*"; status=1; }

for p in $parts; do
    case $p in build|harness|test|sanitize|track|throughput) ;;
        *) echo "unknown part '$p' (build harness test sanitize track throughput)"; exit 2 ;; esac
done

if want build; then
part "build"
make -j"$(nproc)" cuda train_llama > "$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; echo "build failed"; exit 1; }
command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv | tee "$OUT/device.txt"
fi

if want harness; then
part "kernel harnesses"
make bench_cuda 2>&1 | tee "$OUT/harnesses.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || fail "a kernel harness (grep FAIL $OUT/harnesses.txt)"
fi

if want test; then
part "test_cuda"
make test_cuda 2>&1 | tee "$OUT/test_cuda.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || fail "test_cuda (grep FAIL $OUT/test_cuda.txt)"
fi

if want sanitize; then
part "compute-sanitizer over the small-shape checks"
san=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
for h in build/cuda/*; do
    "$san" --tool memcheck --error-exitcode 3 "$h" --check > "$OUT/sanitize.txt" 2>&1 \
        || { tail -20 "$OUT/sanitize.txt"; fail "memcheck $h"; }
done
for tool in racecheck synccheck; do
    "$san" --tool $tool --error-exitcode 3 build/cuda/attention --check > "$OUT/sanitize.txt" 2>&1 \
        || { tail -20 "$OUT/sanitize.txt"; fail "$tool attention"; }
done
echo "memcheck: every harness; racecheck, synccheck: attention (failures above, if any)"
fi

if want track || want throughput; then
part "data"
if ! ls data/tinystories/train_*.bin > /dev/null 2>&1; then
    echo "no data/tinystories (carry it from a machine that has it); preparing what make data can"
    make data > "$OUT/data.txt" 2>&1 || fail "make data"
fi
fi

if want track; then
part "bf16 against --fp32, 200 steps of llama-5M"
common="--model llama-5M -b 16 -t 256 -x 200 -v 50 -m 10 -s 0 -n 0 --seed 1337"
rm -rf "$OUT/fp32" "$OUT/bf16"  # the log appends: start clean
./train_llama_cu $common --fp32 -o "$OUT/fp32" > "$OUT/fp32.txt" 2>&1 || fail "fp32 run ($OUT/fp32.txt)"
./train_llama_cu $common -o "$OUT/bf16" > "$OUT/bf16.txt" 2>&1 || fail "bf16 run ($OUT/bf16.txt)"
tail -4 "$OUT/fp32.txt" "$OUT/bf16.txt"
bash dev/cuda/compare_logs.sh "$OUT/fp32/log.jsonl" "$OUT/bf16/log.jsonl" 0.01 || fail "bf16 does not track fp32"
fi

if want throughput; then
part "throughput: llama-5M, B=64 T=256"
rm -rf "$OUT/tp5m" "$OUT/tp124m"
./train_llama_cu --model llama-5M -b 64 -t 256 -x 60 -v 0 -m 1 -s 0 -n 0 -z "" -o "$OUT/tp5m" > "$OUT/tp5m.txt" 2>&1 \
    || fail "llama-5M throughput run ($OUT/tp5m.txt)"
grep -E "^(model|batch|precision|done)" "$OUT/tp5m.txt"

part "throughput: ~124M Llama (C 768, L 12, NH 12, H 2048, V 50304), B=16 T=1024"
big="--vocab 50304 --dim 768 --layers 12 --heads 12 --kv-heads 12 --hidden 2048 --seq-len 1024"
./train_llama_cu $big -b 16 -t 1024 -x 30 -v 0 -m 1 -s 0 -n 0 -z "" -o "$OUT/tp124m" > "$OUT/tp124m.txt" 2>&1 \
    || fail "124M throughput run ($OUT/tp124m.txt)"
grep -E "^(model|batch|precision|done)" "$OUT/tp124m.txt"
fi

echo
[ $status -eq 0 ] && echo "gpu session: all parts passed" || echo "gpu session: some parts FAILED (above)"
exit $status

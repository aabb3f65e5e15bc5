#!/usr/bin/env bash
# Issue #11's checks and figures for a machine with AMX, in one run: what the
# README's "Not yet measured: AMX" block lists, in order, each step's output
# kept. On a CPU without AMX it says so and stops (the AMX path is tested
# there through LLM_ISA=amx_emulated by the ordinary test suite).
#
#   dev/check_amx.sh                     # everything; the output is also in out/check_amx.txt
#   SKIP_TORCH=1 dev/check_amx.sh        # without the PyTorch comparison (no torch installed)
#
# Steps: bench_peak (the AMX probe); the GEMM and attention tests on every
# path including real AMX tiles; the 200-step bf16 loss parity on AMX;
# bench_matmul, bench_pack and bench_attention on AMX and on vdpbf16ps; the llama-5M step
# with --profile and its CPU time by kernel group (perf); our default against PyTorch (dev/bench_vs_pytorch.sh); GPT-2
# 124M B4 T64 (dev/bench_train.sh gpt2). About 15 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! grep -qw amx_bf16 /proc/cpuinfo; then
    echo "check_amx.sh: this CPU has no amx_bf16 (/proc/cpuinfo): nothing to measure here" >&2
    exit 1
fi
mkdir -p out
log=out/check_amx.txt
exec > >(tee "$log") 2>&1
step() { echo; echo "=== $* ($(date +%T), load $(cut -d' ' -f1 /proc/loadavg))"; }

step "build"
make -j2 all build/bench_peak build/bench_matmul build/bench_attention build/bench_pack build/test_kernels_fast build/test_llama >/dev/null
grep -m1 'model name' /proc/cpuinfo
step "bench_peak: the AMX probe"
build/bench_peak
step "test_kernels_fast [matmul]: the GEMM and attention on every path, amx included (no 'skipped: the amx' line)"
build/test_kernels_fast '[matmul]'
step "test_llama [bf16]: bf16 on AMX tiles follows fp32 for 200 steps"
build/test_llama '[bf16]'
step "bench_matmul on AMX (the bf16 column), then on vdpbf16ps"
build/bench_matmul
LLM_ISA=avx512_bf16 build/bench_matmul
step "bench_pack: the AMX packers alone (a larger share of a product than on vdpbf16ps), then the avx512 ones"
build/bench_pack
LLM_ISA=avx512_bf16 build/bench_pack
step "bench_attention on AMX, then on vdpbf16ps"
build/bench_attention
LLM_ISA=avx512_bf16 build/bench_attention
step "a llama-5M step: default (auto = bf16 on AMX) with --profile, then fp32"
./train_llama --model llama-5M -b 16 -t 256 -x 12 -v 0 -s 0 -n 0 -g 0 -o out/check_amx --profile
./train_llama --model llama-5M -b 16 -t 256 -x 12 -v 0 -s 0 -n 0 -g 0 -o out/check_amx --precision fp32 | tail -1
step "where a default step's CPU time goes: micro-kernels, packers, softmax, elementwise (dev/profile_step.sh)"
if command -v perf >/dev/null; then dev/profile_step.sh || true; else echo "skipped: perf is not installed (apt-get install linux-perf)"; fi
if [ -z "${SKIP_TORCH:-}" ]; then
    step "against PyTorch (target: >= 3x its best mode, >= 15,000 tok/s)"
    REPS=3 dev/bench_vs_pytorch.sh
fi
step "GPT-2 124M B4 T64 (target: <= 400 ms/step)"
dev/bench_train.sh gpt2
step "done: the whole output is in $log"

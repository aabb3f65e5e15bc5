#!/usr/bin/env bash
# dev/fuzz/run.sh: what `make fuzz` runs. Builds the libFuzzer targets
# dev/fuzz/fuzz_*.cpp with clang++ -fsanitize=fuzzer,address,undefined into
# build/fuzz_*, writes a fresh seed corpus (dev/fuzz/make_seeds.cpp) into
# build/fuzz_corpus/<target>/, and runs each target for FUZZ_TIME seconds
# (default 20). Inputs that crash land in build/fuzz_artifacts/, logs in
# build/fuzz_logs/. Exit status 1 if any target found a problem.
# A developer tool: not part of `make test` or CI.
#   make fuzz                       # all targets, 20 s each
#   FUZZ_TIME=300 make fuzz         # longer
#   FUZZ_TARGETS="load json" make fuzz
set -u
cd "$(dirname "$0")/../.."
CLANGXX=${CLANGXX:-clang++}
FUZZ_TIME=${FUZZ_TIME:-20}
FUZZ_TARGETS=${FUZZ_TARGETS:-"load decode encode json"}
B=build

if ! command -v "$CLANGXX" >/dev/null 2>&1; then
    echo "make fuzz: '$CLANGXX' not found. The fuzz targets need clang++ with libFuzzer" >&2
    echo "  (Debian/Ubuntu: apt-get install -y clang; or set CLANGXX=/path/to/clang++)." >&2
    exit 2
fi
mkdir -p $B/fuzz_obj $B/fuzz_corpus $B/fuzz_artifacts $B/fuzz_logs
probe=$B/fuzz_obj/probe
printf '#include <cstdint>\n#include <cstddef>\nextern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }\n' > $probe.cpp
if ! "$CLANGXX" -fsanitize=fuzzer,address -o $probe $probe.cpp 2>$probe.log; then
    echo "make fuzz: $CLANGXX cannot link -fsanitize=fuzzer,address (the libFuzzer/ASan runtime is missing;" >&2
    echo "  Debian/Ubuntu: apt-get install -y clang, or libclang-rt-dev on newer releases):" >&2
    cat $probe.log >&2
    exit 2
fi

# No -fopenmp: the tokenizer runs on one thread without it (its pragmas are ignored).
FLAGS="-std=c++17 -O1 -g -Wall -Wextra -Wno-unknown-pragmas -fno-omit-frame-pointer"
SAN="address,undefined -fno-sanitize-recover=undefined"
SRCS=$(ls tokenizer/*.cpp | grep -v tokenizer/main.cpp)
objs=()
for src in $SRCS; do
    obj=$B/fuzz_obj/$(basename "$src" .cpp).o
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find tokenizer common -name '*.h' -newer "$obj")" ]; then
        echo "$CLANGXX ... -c $src"
        "$CLANGXX" $FLAGS -fsanitize=fuzzer-no-link,$SAN -c -o "$obj" "$src" || exit 1
    fi
    objs+=("$obj")
done
for t in $FUZZ_TARGETS; do
    echo "$CLANGXX ... -o $B/fuzz_$t"
    "$CLANGXX" $FLAGS -fsanitize=fuzzer,$SAN -o $B/fuzz_$t dev/fuzz/fuzz_$t.cpp "${objs[@]}" || exit 1
    mkdir -p $B/fuzz_corpus/$t
done
mkdir -p $B/fuzz_corpus/{load,decode,encode,json}
"$CLANGXX" $FLAGS -o $B/fuzz_make_seeds dev/fuzz/make_seeds.cpp $SRCS || exit 1
$B/fuzz_make_seeds $B/fuzz_corpus || exit 1

status=0
for t in $FUZZ_TARGETS; do
    log=$B/fuzz_logs/$t.log
    echo "fuzz_$t: ${FUZZ_TIME} s ..."
    $B/fuzz_$t -max_total_time="$FUZZ_TIME" -timeout=10 -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 \
        -artifact_prefix=$B/fuzz_artifacts/$t- $B/fuzz_corpus/$t >"$log" 2>&1
    rc=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
    cov=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9a-zA-Z]+')
    if [ $rc -eq 0 ]; then
        echo "fuzz_$t: ok, ${runs:-?} runs, ${cov:-no coverage line}"
    else
        status=1
        echo "fuzz_$t: FAILED (exit $rc) after ${runs:-?} runs; log $log:"
        grep -E 'check failed|ERROR: |SUMMARY|Test unit written|fuzz: ' "$log" | head -n 20
    fi
done
exit $status

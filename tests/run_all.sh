#!/usr/bin/env bash
# Runs each Catch2 test binary given on the command line from the repo root,
# then prints the suite's closing line "tests: N passed, N failed".
# Exit status is non-zero if any binary failed.
set -u
# Sleep instead of spinning at OpenMP barriers: with any other load on the
# cores, libgomp's busy-waiting turns a tiny model's millisecond steps into seconds.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
passed=0; failed=0; status=0
for t in "$@"; do
    echo "=== $t"
    out=$("$t" 2>&1); rc=$?
    echo "$out"
    line=$(echo "$out" | grep -E '^[^ ]+: [0-9]+ passed, [0-9]+ failed$' | tail -n 1)
    if [ -n "$line" ]; then
        p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\1/')
        f=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\2/')
        passed=$((passed + p)); failed=$((failed + f))
    else
        echo "$t: crashed or printed no summary (exit $rc)"
        failed=$((failed + 1))
    fi
    [ $rc -eq 0 ] || status=1
done
echo
echo "tests: $passed passed, $failed failed"
exit $status

#!/usr/bin/env bash
# Soak test of the real-time path: the whole suite through the reference adapter
# (`conformance device`), RUNS times for each of new-device and existing-device, at
# --poll-ms 50, while another process keeps one core busy; then RUNS more times each
# with random delays of up to JITTER_MS (default 30) before every request of both the
# simulated peer (`run --jitter-ms`) and the adapter (`device --jitter-ms`), seeded by
# the run's number, which brings out any expectation that holds only by timing. Prints, per role and pass, the runs,
# the failed scenarios and the wall time of a suite run (min / median / max), then the
# time of the in-process suite. Exits 1 if any scenario failed.
#
#   scripts/soak-adapter.sh [RUNS]            (default 50)
#   CONFORMANCE=path/to/conformance scripts/soak-adapter.sh 5
#   JITTER_MS=0 scripts/soak-adapter.sh       (no jittered pass)
#
# Without CONFORMANCE it builds the release binary first. Logs of failing runs are
# kept under $SOAK_LOGS (default: a temporary directory, printed at the end).
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-50}
if [[ -z "${CONFORMANCE:-}" ]]; then
    cargo build --release --quiet -p harness
    CONFORMANCE=target/release/conformance
fi
bin=$(realpath "$CONFORMANCE")
logs=${SOAK_LOGS:-$(mktemp -d)}
mkdir -p "$logs"

# Another process keeps one core busy for the whole soak.
( while :; do :; done ) &
busy=$!
trap 'kill "$busy" 2>/dev/null || true' EXIT

status=0
median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "-"; else if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }
jitter_ms=${JITTER_MS:-30}
passes=(plain)
[[ $jitter_ms -gt 0 ]] && passes+=(jitter)
for pass in "${passes[@]}"; do
    for role in new-device existing-device; do
        failed=0
        times=()
        for ((i = 1; i <= runs; i++)); do
            log="$logs/$role-$pass-$i.txt"
            client="$bin device --role $role"
            extra=()
            if [[ $pass == jitter ]]; then
                client+=" --jitter-ms $jitter_ms --jitter-seed $((i * 7919))"
                extra=(--jitter-ms "$jitter_ms" --jitter-seed "$i")
            fi
            start=$(date +%s.%N)
            if "$bin" run --client "$client" --role "$role" --poll-ms 50 "${extra[@]}" >"$log" 2>&1; then
                rc=0
            else
                rc=$?
            fi
            end=$(date +%s.%N)
            times+=("$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.3f", b - a}')")
            fails=$(grep -c '^FAIL' "$log" || true)
            if [[ $rc -ne 0 || $fails -ne 0 ]]; then
                failed=$((failed + (fails > 0 ? fails : 1)))
                status=1
                echo "run $i of $role ($pass): exit $rc, $fails FAIL (log: $log)"
                grep '^FAIL' "$log" || true
            else
                rm -f "$log"
            fi
        done
        sorted=$(printf '%s\n' "${times[@]}" | sort -n)
        label=$role
        [[ $pass == jitter ]] && label="$role +jitter ${jitter_ms}ms"
        printf '%-30s %3d runs, %d FAIL, suite wall time min %.2f s, median %.2f s, max %.2f s\n' \
            "$label" "$runs" "$failed" "$(echo "$sorted" | head -1)" "$(echo "$sorted" | median)" "$(echo "$sorted" | tail -1)"
    done
done
start=$(date +%s.%N)
"$bin" run >"$logs/in-process.txt" 2>&1 || status=1
end=$(date +%s.%N)
printf '%-30s whole suite in process: %.2f s (%s)\n' "in-process" "$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.3f", b - a}')" \
    "$(tail -1 "$logs/in-process.txt")"
echo "logs of failing runs: $logs"
exit $status

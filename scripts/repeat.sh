#!/usr/bin/env bash
# Run part of the suite N times in a row and stop at the first failure: the proof that a test is not
# flaky (e.g. `bash scripts/repeat.sh 10 tests/reliability`). Each run draws new seeds (see TEST_SEED
# in README "Tests"); a failure names its seed. Logs go to .work/repeat/run-<n>.log.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
if [ $# -lt 2 ] || ! [[ $1 =~ ^[0-9]+$ ]]; then
    echo "usage: scripts/repeat.sh N PYTEST_ARGS…" >&2
    exit 2
fi
runs=$1
shift
bash scripts/setup.sh >/dev/null
mkdir -p .work/repeat
started=$(date +%s)
for n in $(seq 1 "$runs"); do
    t0=$(date +%s)
    if .venv/bin/python -m pytest -p no:cacheprovider -q "$@" >".work/repeat/run-$n.log" 2>&1; then
        echo "run $n of $runs: $(tail -n 1 ".work/repeat/run-$n.log") ($(($(date +%s) - t0)) s)"
    else
        echo "run $n of $runs FAILED after $((n - 1)) green runs; log: .work/repeat/run-$n.log" >&2
        grep -E "^(FAILED|ERROR)|replay it with" ".work/repeat/run-$n.log" >&2 || true
        exit 1
    fi
done
echo "$runs of $runs runs green in a row ($(($(date +%s) - started)) s)"

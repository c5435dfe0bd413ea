#!/usr/bin/env bash
# Set up everything and run the whole test suite against real Kafka, PostgreSQL and Prometheus.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/unit -x).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/setup.sh

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "lint (ruff)"
.venv/bin/ruff check .
.venv/bin/ruff format --check . >/dev/null || { .venv/bin/ruff format --diff . | head -n 50; exit 1; }

step "types (mypy)"
.venv/bin/mypy contracts services tests bench

step "generated contracts are up to date"
.venv/bin/python -m contracts.generate --check

step "tests"
set +e
.venv/bin/python -m pytest -p no:cacheprovider "$@"
status=$?
set -e
# pytest's 5 means "no tests collected": that is a failure of this command, not a pass.
exit $status

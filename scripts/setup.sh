#!/usr/bin/env bash
# Set up everything the project needs on a fresh Debian machine (as root), idempotently:
# system packages that are missing, the Python virtualenv with the project, and the Kafka broker's jars.
# Both README commands run this first; running it again only checks.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
mkdir -p .work

log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# --- system packages (Debian) -------------------------------------------------------------------
missing=()
java_major() { java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1; }
# A JDK, not only a runtime: deploy/kafka/Acls.java is run from source (java's single-file launcher compiles it).
if ! command -v javac >/dev/null 2>&1 || [ "$(java_major)" -lt 17 ]; then missing+=(openjdk-17-jdk-headless); fi
command -v mvn >/dev/null 2>&1 || missing+=(maven)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v runuser >/dev/null 2>&1 || missing+=(util-linux)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v kcat >/dev/null 2>&1 || missing+=(kcat)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)  # the secured Kafka broker's CA and certificate
# The tracking page's browser test drives Debian's Chromium with Playwright (no browser download).
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != "0" ]; then
        echo "setup: missing system packages: ${missing[*]} (run as root, or install them)" >&2
        exit 1
    fi
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # The Debian packages start system services of their own; the project runs its own instances.
    for svc in prometheus postgresql; do
        if command -v systemctl >/dev/null 2>&1; then systemctl stop "$svc" >/dev/null 2>&1 || true; fi
        service "$svc" stop >/dev/null 2>&1 || true
    done
fi

# --- Python ---------------------------------------------------------------------------------------
PY=${PYTHON:-}
if [ -z "$PY" ]; then
    for candidate in python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
            PY=$candidate
            break
        fi
    done
fi
if [ -z "$PY" ]; then
    if [ "$(id -u)" = "0" ] && apt-cache show python3.11 >/dev/null 2>&1; then
        apt-get install -y -qq python3.11 python3.11-venv >/dev/null
        PY=python3.11
    else
        echo "setup: Python 3.11 is required" >&2
        exit 1
    fi
fi
if [ ! -x .venv/bin/python ]; then
    log "creating .venv with $($PY --version)"
    "$PY" -m venv .venv
    rm -f .work/pip.stamp .work/project.stamp # they described the .venv that is gone
fi
# Dependencies come from the dev lock (hashes checked, wheels only), so every clone on every day gets the
# same versions; `bash scripts/lock.sh` refreshes the lock. The project itself goes in without
# dependencies and is built by the locked setuptools (no build isolation, so nothing unlocked is fetched).
# Each step is redone when its input changes: the lock for the dependencies, pyproject.toml for the
# project (its entry points and package data).
deps_stamp=.work/pip.stamp
deps_want=$(sha256sum requirements/dev.lock.txt | cut -d' ' -f1)
if [ ! -f "$deps_stamp" ] || [ "$(cat "$deps_stamp")" != "$deps_want" ]; then
    log "installing the locked dependencies (requirements/dev.lock.txt) into .venv"
    rm -f .work/project.stamp
    .venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes --only-binary :all: \
        -r requirements/dev.lock.txt
    echo "$deps_want" >"$deps_stamp"
fi
project_stamp=.work/project.stamp
project_want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$project_stamp" ] || [ "$(cat "$project_stamp")" != "$project_want" ]; then
    log "installing the project into .venv"
    .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
    echo "$project_want" >"$project_stamp"
fi

# --- Kafka broker jars (Maven Central) -------------------------------------------------------------
bash deploy/kafka/kafka.sh fetch

log "ready"

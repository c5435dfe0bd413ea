#!/usr/bin/env bash
# Run the benchmarks end to end on a throwaway Kafka broker (in .work/bench/) and PostgreSQL cluster,
# print the table, write bench/results/<date>-<host>.{json,md} and latest.md, and rewrite the README's
# <!-- bench:start --> … <!-- bench:end --> section when it has one. Arguments go to `python -m bench`:
#
#   bash bench/run.sh                                  # everything, full sizes (about 22 minutes)
#   bash bench/run.sh --only tracker --events 100000   # one benchmark, smaller
#
# The tracker and intake benchmarks run a second time on a secured broker of their own (kafka.sh
# start-secure: SASL_SSL, SCRAM-SHA-512, the ACLs of deploy/kafka/acls.tsv, each service logged in as its
# own principal), in the same run with the same sizes, so the table shows the security's cost beside
# the figures without it. BENCH_SECURE=0 skips that.
#
# Not part of the test suite: it never fails on a missed target, only when something breaks.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/setup.sh

work=$ROOT/.work/bench
mkdir -p "$work"
# A fresh broker and database every run: the benchmarks pre-fill the event topics.
bash deploy/kafka/kafka.sh stop "$work/kafka" >/dev/null 2>&1 || true
bash deploy/kafka/kafka.sh stop "$work/kafka-secure" >/dev/null 2>&1 || true
rm -rf "$work/kafka" "$work/kafka-secure" "$work/run"
# PostgreSQL runs as the postgres user, who may not traverse the clone's path (a mktemp -d parent is
# mode 700): its cluster lives in a directory of its own under /tmp, as the tests' clusters do.
pg=$(mktemp -d /tmp/dossier-bench-pg-XXXXXX)

# Free ports: the broker needs two in a row (its controller listens on the next one), below the
# kernel's ephemeral range so no client connection takes them meanwhile.
read -r kafka_port pg_port secure_port < <(.venv/bin/python - <<'EOF'
import random, socket
def free(*ports):
    try:
        for p in ports:
            with socket.socket() as s:
                s.bind(("127.0.0.1", p))
    except OSError:
        return False
    return True
rng = random.SystemRandom()
kafka = next(p for p in iter(lambda: rng.randrange(20000, 32000, 2), None) if free(p, p + 1))
pg = next(p for p in iter(lambda: rng.randrange(20000, 32000), None) if p not in (kafka, kafka + 1) and free(p))
secure = next(
    p for p in iter(lambda: rng.randrange(20000, 32000, 2), None)
    if {p, p + 1}.isdisjoint({kafka, kafka + 1, pg}) and free(p, p + 1)
)
print(kafka, pg, secure)
EOF
)

cleanup() {
    bash deploy/kafka/kafka.sh stop "$work/kafka" >/dev/null 2>&1 || true
    bash deploy/kafka/kafka.sh stop "$work/kafka-secure" >/dev/null 2>&1 || true
    bash deploy/postgres/pg.sh stop "$pg" >/dev/null 2>&1 || true
    # The server's log (checkpoints, autovacuum runs, with times) beside the services' logs, to line
    # a slow second of the intake timeline up with what the database did then.
    mkdir -p "$work/run/logs" && cp "$pg/postgres.log" "$work/run/logs/postgres.log" 2>/dev/null || true
    rm -rf "$pg"
}
trap cleanup EXIT

bash deploy/kafka/kafka.sh start "$work/kafka" "$kafka_port"
secure=()
if [[ ${BENCH_SECURE:-1} != 0 ]]; then
    bash deploy/kafka/kafka.sh start-secure "$work/kafka-secure" "$secure_port"
    secure=(--secure-bootstrap-servers "127.0.0.1:$secure_port" --secure-data-dir "$work/kafka-secure")
fi
PG_EXTRA_OPTIONS="-c log_checkpoints=on -c log_autovacuum_min_duration=0" \
    bash deploy/postgres/pg.sh start "$pg" "$pg_port"

BENCH_COMMAND="bash bench/run.sh $*" .venv/bin/python -m bench \
    --bootstrap-servers "127.0.0.1:$kafka_port" \
    --database-url "$(bash deploy/postgres/pg.sh url "$pg" "$pg_port")" \
    --work-dir "$work/run" \
    --kafka-pid-file "$work/kafka/broker.pid" \
    --pg-pid-file "$pg/pgdata/postmaster.pid" \
    --readme README.md \
    "${secure[@]}" \
    "$@"

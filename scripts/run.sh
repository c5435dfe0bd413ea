#!/usr/bin/env bash
# Set up everything and run the stack locally, without Docker: the secured Kafka broker (SASL_SSL with
# SCRAM-SHA-512 and the ACLs of deploy/kafka/acls.tsv; its CA and one password per principal are
# generated under .work/kafka/secure on the first run, scripts/local_kafka.sh), the database (SQLite by
# default, PostgreSQL when DATABASE_URL is set), every service logged in as its own Kafka principal, a
# local Prometheus and the traffic simulator, which drives a working day through the public APIs and
# prints a summary. Ctrl-C stops everything cleanly; running it again continues with the data in .work/.
#
#   bash scripts/run.sh [--dossiers N] [--no-simulator] [--no-prometheus]
#
# Settings: deploy/README.md (e.g. SIM_DOSSIERS=50 for a short day, DATABASE_URL=postgresql://…).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/setup.sh

KAFKA_PORT=${KAFKA_PORT:-9092}
# Not .work/kafka/data: that held the PLAINTEXT broker of earlier runs, which start-secure refuses.
KAFKA_DATA=${KAFKA_DATA:-$ROOT/.work/kafka/secure}
export DATABASE_URL=${DATABASE_URL:-sqlite+aiosqlite:///$ROOT/.work/dossier.db}

stopped=
stop_broker() {
    [[ -n $stopped ]] && return
    stopped=1
    echo "[run] stopping the Kafka broker"
    bash scripts/local_kafka.sh stop "$KAFKA_DATA" || true
    echo "[run] stopped; data kept in .work/ (delete it to start afresh)"
}
trap stop_broker EXIT
# Ctrl-C reaches the supervisor too, which stops the services; then the EXIT trap stops the broker.
trap 'exit 130' INT TERM

bash scripts/local_kafka.sh start "$KAFKA_DATA" "$KAFKA_PORT"
# The protocol, the CA and where the principals' password files are (no secret in it).
# shellcheck source=/dev/null
source "$KAFKA_DATA/client.env"
.venv/bin/python -m services.shared.db.migrate upgrade --url "$DATABASE_URL"
echo "[run] Kafka $KAFKA_BOOTSTRAP_SERVERS (data in ${KAFKA_DATA#"$ROOT"/}), database $DATABASE_URL"

.venv/bin/python -m services.stack "$@"

#!/usr/bin/env bash
# Set up everything and run the stack locally, without Docker: the Kafka broker, the database (SQLite by
# default, PostgreSQL when DATABASE_URL is set), every service, a local Prometheus and the traffic
# simulator, which drives a working day through the public APIs and prints a summary. Ctrl-C stops
# everything cleanly; running it again continues with the data in .work/.
#
#   bash scripts/run.sh [--dossiers N] [--no-simulator] [--no-prometheus]
#
# Settings: deploy/README.md (e.g. SIM_DOSSIERS=50 for a short day, DATABASE_URL=postgresql://…).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/setup.sh

KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_DATA=${KAFKA_DATA:-$ROOT/.work/kafka/data}
export KAFKA_BOOTSTRAP_SERVERS=${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:$KAFKA_PORT}
export DATABASE_URL=${DATABASE_URL:-sqlite+aiosqlite:///$ROOT/.work/dossier.db}

stopped=
stop_broker() {
    [[ -n $stopped ]] && return
    stopped=1
    echo "[run] stopping the Kafka broker"
    bash deploy/kafka/kafka.sh stop "$KAFKA_DATA" || true
    echo "[run] stopped; data kept in .work/ (delete it to start afresh)"
}
trap stop_broker EXIT
# Ctrl-C reaches the supervisor too, which stops the services; then the EXIT trap stops the broker.
trap 'exit 130' INT TERM

bash deploy/kafka/kafka.sh start "$KAFKA_DATA" "$KAFKA_PORT"
.venv/bin/python -m services.shared.kafka_admin create-topics --bootstrap-servers "$KAFKA_BOOTSTRAP_SERVERS"
.venv/bin/python -m services.shared.db.migrate upgrade --url "$DATABASE_URL"
echo "[run] Kafka $KAFKA_BOOTSTRAP_SERVERS (data in ${KAFKA_DATA#"$ROOT"/}), database $DATABASE_URL"

.venv/bin/python -m services.stack "$@"

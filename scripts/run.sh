#!/usr/bin/env bash
# Set up everything and run the stack locally, without Docker: the Kafka broker, the database
# (SQLite by default, PostgreSQL when DATABASE_URL is set), and — as they arrive — every service and the
# traffic simulator. Ctrl-C stops everything cleanly; running it again continues with the data there.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/setup.sh

KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_DATA=${KAFKA_DATA:-$ROOT/.work/kafka/data}
export KAFKA_BOOTSTRAP_SERVERS=${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:$KAFKA_PORT}
export DATABASE_URL=${DATABASE_URL:-sqlite+aiosqlite:///$ROOT/.work/dossier.db}

stop_all() {
    trap - INT TERM EXIT
    echo
    echo "[run] stopping the Kafka broker"
    bash deploy/kafka/kafka.sh stop "$KAFKA_DATA" || true
    echo "[run] stopped; data kept in .work/ (delete it to start afresh)"
}
trap stop_all INT TERM EXIT

bash deploy/kafka/kafka.sh start "$KAFKA_DATA" "$KAFKA_PORT"
.venv/bin/python -m services.shared.kafka_admin create-topics --bootstrap-servers "$KAFKA_BOOTSTRAP_SERVERS"
.venv/bin/python -m services.shared.db.migrate upgrade --url "$DATABASE_URL"

cat <<INFO

  Kafka broker   $KAFKA_BOOTSTRAP_SERVERS   (KRaft, single node; data in ${KAFKA_DATA#$ROOT/})
  Database       ${DATABASE_URL}
  Topics         $(.venv/bin/python -c 'from contracts.topics import all_topics; print(", ".join(t.name for t in all_topics()))')
  AsyncAPI       contracts/asyncapi.yaml

  Services and the traffic simulator arrive with the next issues. Ctrl-C stops everything.
INFO

# Stay in the foreground until Ctrl-C; the trap stops the broker.
while bash deploy/kafka/kafka.sh status "$KAFKA_DATA" >/dev/null 2>&1; do sleep 2; done
echo "[run] the Kafka broker exited; see $KAFKA_DATA/broker.log" >&2
exit 1

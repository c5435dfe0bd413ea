#!/usr/bin/env bash
# The local run's Kafka broker (scripts/run.sh): the secured broker of deploy/kafka (SASL_SSL with
# SCRAM-SHA-512, the ACLs of deploy/kafka/acls.tsv, no ACL no access) with the registry's topics, created
# by the admin principal. Its CA, certificates and one password per principal are generated under the
# data dir on its first start (kafka.sh start-secure) and kept there; nothing is printed but paths.
#
#   scripts/local_kafka.sh start <data-dir> <port>   start it, create the topics, write <data-dir>/client.env
#   scripts/local_kafka.sh stop <data-dir>
#
# <data-dir>/client.env holds the clients' settings without any secret (the protocol, the CA file and
# the directory of the password files, STACK_KAFKA_CREDENTIALS_DIR); scripts/run.sh sources it and the
# local run gives each service its own principal's KAFKA_USERNAME and KAFKA_PASSWORD_FILE.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
cmd=${1:-}
data=${2:-}
[[ -n $data ]] || { echo "usage: local_kafka.sh start <data-dir> <port> | stop <data-dir>" >&2; exit 2; }

case $cmd in
start)
    port=${3:?usage: local_kafka.sh start <data-dir> <port>}
    if [[ -f $data/logs/meta.properties && ! -f $data/secured ]]; then
        echo "[run] $data holds a PLAINTEXT broker of an earlier run; the local run is secured now:" \
            "delete it (its topics are replayable from nothing) or set KAFKA_DATA to another directory" >&2
        exit 1
    fi
    bash "$ROOT/deploy/kafka/kafka.sh" start-secure "$data" "$port"
    data=$(cd "$data" && pwd)
    # Topics are created by the admin, the only principal allowed to (every service's may not).
    KAFKA_SECURITY_PROTOCOL=SASL_SSL KAFKA_CA_FILE=$data/tls/ca.pem \
        KAFKA_USERNAME=admin KAFKA_PASSWORD_FILE=$data/credentials/admin \
        "$PYTHON" -m services.shared.kafka_admin create-topics --bootstrap-servers "127.0.0.1:$port"
    (
        umask 077
        cat >"$data/client.env" <<ENV
# Written by scripts/local_kafka.sh: how the local run's clients reach its secured broker (no secret here;
# the passwords are the files of STACK_KAFKA_CREDENTIALS_DIR, one per principal of deploy/kafka/acls.tsv).
export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$port
export KAFKA_SECURITY_PROTOCOL=SASL_SSL
export KAFKA_CA_FILE=$data/tls/ca.pem
export STACK_KAFKA_CREDENTIALS_DIR=$data/credentials
ENV
    )
    echo "[run] Kafka is secured: SASL_SSL (SCRAM-SHA-512) on 127.0.0.1:$port, ACLs of deploy/kafka/acls.tsv;" \
        "passwords per principal in ${data#"$ROOT"/}/credentials/, CA ${data#"$ROOT"/}/tls/ca.pem"
    ;;
stop) bash "$ROOT/deploy/kafka/kafka.sh" stop "$data" ;;
*) echo "usage: local_kafka.sh start <data-dir> <port> | stop <data-dir>" >&2; exit 2 ;;
esac

#!/bin/sh
# docker-compose's one-shot `kafka-acls` step: grants exactly the rows of deploy/kafka/acls.tsv with
# Kafka's own kafka-acls.sh as the admin (the only super user), after the broker is healthy. Granting is
# idempotent, so every `up` applies the table again; a row removed from the table is not revoked here
# (kafka-acls.sh --remove does that; deploy/kafka/kafka.sh replaces the whole set on each start).
set -eu
acls=${1:?usage: acls.sh <acls.tsv>}
config=/secrets/broker/admin.properties
grep -v '^#' "$acls" | while IFS="$(printf '\t')" read -r principal resource pattern name operations; do
    [ -n "$operations" ] || continue
    set --
    for operation in $(echo "$operations" | tr ',' ' '); do set -- "$@" --operation "$operation"; done
    /opt/kafka/bin/kafka-acls.sh --bootstrap-server kafka:9092 --command-config "$config" --add \
        --allow-principal "User:$principal" "--$resource" "$name" --resource-pattern-type "$pattern" "$@" >/dev/null
    echo "kafka-acls: $principal $resource $pattern $name $operations"
done

#!/bin/sh
# docker-compose's one-shot `kafka-acls` step: grants exactly the rows of deploy/kafka/acls.tsv with
# Kafka's own kafka-acls.sh as the admin (the only super user), after the broker is healthy. Granting is
# idempotent, so every `up` applies the table again; a row removed from the table is not revoked here
# (kafka-acls.sh --remove does that; deploy/kafka/kafka.sh replaces the whole set on each start).
# A principal without a SCRAM credential (the users are made when kafka-data is formatted, so a service
# added to the table later has none) gets one with its password from kafka-secrets, through a file:
# never on a command line. An existing credential is never changed.
set -eu
acls=${1:?usage: acls.sh <acls.tsv>}
config=/secrets/broker/admin.properties
for principal in $(awk -F'\t' '!/^#/ && NF == 5 { print $1 }' "$acls" | sort -u); do
    if /opt/kafka/bin/kafka-configs.sh --bootstrap-server kafka:9092 --command-config "$config" --describe \
        --entity-type users --entity-name "$principal" | grep -q SCRAM-SHA-512; then
        continue
    fi
    scram=$(mktemp)
    chmod 600 "$scram"
    printf 'SCRAM-SHA-512=[iterations=4096,password=%s]\n' "$(cat "/secrets/broker/$principal")" >"$scram"
    /opt/kafka/bin/kafka-configs.sh --bootstrap-server kafka:9092 --command-config "$config" --alter \
        --add-config-file "$scram" --entity-type users --entity-name "$principal" >/dev/null
    rm -f "$scram"
    echo "kafka-acls: SCRAM credential made for $principal"
done
grep -v '^#' "$acls" | while IFS="$(printf '\t')" read -r principal resource pattern name operations; do
    [ -n "$operations" ] || continue
    set --
    for operation in $(echo "$operations" | tr ',' ' '); do set -- "$@" --operation "$operation"; done
    /opt/kafka/bin/kafka-acls.sh --bootstrap-server kafka:9092 --command-config "$config" --add \
        --allow-principal "User:$principal" "--$resource" "$name" --resource-pattern-type "$pattern" "$@" >/dev/null
    echo "kafka-acls: $principal $resource $pattern $name $operations"
done

#!/bin/sh
# docker-compose's Kafka broker (apache/kafka image): the same secured setup as deploy/kafka/kafka.sh
# start-secure. SASL_SSL with SCRAM-SHA-512 for clients on kafka:9092 (the only listener other
# containers reach), the controller on 127.0.0.1:9093 with the broker's own PLAIN login, the
# StandardAuthorizer with no access where no ACL exists. The SCRAM credentials of every principal are
# stored when the data dir is formatted (first start), so they exist before any client connects.
# Reads the `kafka-secrets` volume at /secrets (deploy/kafka/compose/secrets.sh); prints no secret.
set -eu
secrets=/secrets/broker
data=/var/lib/kafka/data
config=/tmp/server.properties
pw() { cat "$secrets/$1"; }

umask 077
cat >"$config" <<PROPERTIES
process.roles=broker,controller
node.id=1
listeners=SASL_SSL://:9092,CONTROLLER://127.0.0.1:9093
advertised.listeners=SASL_SSL://kafka:9092
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SASL_PLAINTEXT
inter.broker.listener.name=SASL_SSL
controller.listener.names=CONTROLLER
controller.quorum.voters=1@127.0.0.1:9093
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$(pw admin)";
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="controller" password="$(pw controller)" user_controller="$(pw controller)";
ssl.keystore.type=PEM
ssl.keystore.location=$secrets/broker.pem
ssl.truststore.type=PEM
ssl.truststore.location=$secrets/ca.pem
ssl.client.auth=none
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin;User:controller
log.dirs=$data
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
PROPERTIES

if [ ! -f "$data/meta.properties" ]; then
    set --
    for file in "$secrets"/*; do
        name=${file##*/}
        case $name in broker.pem | ca.pem | controller | admin.properties) continue ;; esac
        set -- "$@" --add-scram "SCRAM-SHA-512=[name=$name,password=$(cat "$file")]"
    done
    /opt/kafka/bin/kafka-storage.sh format --ignore-formatted \
        --cluster-id "$(/opt/kafka/bin/kafka-storage.sh random-uuid)" --config "$config" "$@" >/dev/null
fi
exec /opt/kafka/bin/kafka-server-start.sh "$config"

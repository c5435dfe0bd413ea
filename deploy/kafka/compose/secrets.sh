#!/bin/sh
# docker-compose's one-shot `kafka-secrets` step: the secured broker's CA and certificate and one random
# password per principal, generated with openssl into the `kafka-secrets` volume on the first `up` and
# kept there (nothing of it is in the repository or in an image). Runs as root in the app image (its
# Debian base has openssl) and hands each file to the user that reads it:
#
#   broker/broker.pem, broker/ca.pem        the broker's key and certificate (for the host name `kafka`)
#   broker/<principal>                      every password, for the broker's SCRAM credentials (format)
#   <principal>/password, <principal>/ca.pem
#                                           one directory per principal; each service mounts only its own
#                                           (a volume subpath), readable by the app image's user only
#   admin/admin.properties                  the admin's Java client settings, for Kafka's tools
#
#   sh deploy/kafka/compose/secrets.sh <dir> <acls.tsv>
set -eu
dir=${1:?usage: secrets.sh <dir> <acls.tsv>}
acls=${2:?usage: secrets.sh <dir> <acls.tsv>}
KAFKA_UID=${KAFKA_UID:-1000}     # apache/kafka's appuser
APP_UID=${APP_UID:-65534}        # the app image's nobody

principals=$(awk -F'\t' '!/^#/ && NF == 5 { print $1 }' "$acls" | sort -u)
umask 077
mkdir -p "$dir/broker"

if [ ! -s "$dir/broker/broker.pem" ]; then
    tmp=$(mktemp -d)
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
        -subj "/CN=dossier-kafka-ca" -keyout "$tmp/ca.key" -out "$tmp/ca.pem" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=kafka" \
        -keyout "$tmp/broker.key" -out "$tmp/broker.csr"
    printf '%s\n' "subjectAltName=DNS:kafka,DNS:localhost,IP:127.0.0.1" "basicConstraints=CA:FALSE" \
        "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$tmp/broker.ext"
    openssl x509 -req -in "$tmp/broker.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -CAcreateserial \
        -days 825 -extfile "$tmp/broker.ext" -out "$tmp/broker.crt"
    cat "$tmp/broker.key" "$tmp/broker.crt" >"$dir/broker/broker.pem"
    cp "$tmp/ca.pem" "$dir/broker/ca.pem"
    # The CA's key goes with the temporary dir: nothing else can ever be signed with it.
    rm -rf "$tmp"
fi

for name in admin controller $principals; do
    [ -s "$dir/broker/$name" ] || openssl rand -hex 24 >"$dir/broker/$name"
    [ "$name" = controller ] && continue
    mkdir -p "$dir/$name"
    cp "$dir/broker/$name" "$dir/$name/password"
    cp "$dir/broker/ca.pem" "$dir/$name/ca.pem"
    chown -R "$APP_UID" "$dir/$name"
    chmod 500 "$dir/$name"
    chmod 400 "$dir/$name/password"
    chmod 444 "$dir/$name/ca.pem"
done
cat >"$dir/admin/admin.properties" <<PROPERTIES
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$(cat "$dir/broker/admin")";
ssl.truststore.type=PEM
ssl.truststore.location=/secrets/broker/ca.pem
PROPERTIES
# Kafka's own tools (the broker's health check, the ACL step) read the admin's settings as appuser.
cp "$dir/admin/admin.properties" "$dir/broker/admin.properties"
chown -R "$KAFKA_UID" "$dir/broker"
chmod 500 "$dir/broker"
chmod 400 "$dir/broker"/*
chmod 444 "$dir/broker/ca.pem"
chown "$APP_UID" "$dir/admin/admin.properties"
chmod 400 "$dir/admin/admin.properties"
echo "kafka-secrets: CA, broker certificate and passwords of: admin $principals (values printed nowhere)"

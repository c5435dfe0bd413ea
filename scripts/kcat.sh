#!/usr/bin/env bash
# Debian's kcat, able to log in to the project's Kafka 4 broker (SASL_SSL, SCRAM-SHA-512).
#
#   scripts/kcat.sh -L -b 127.0.0.1:9092                       list topics
#   scripts/kcat.sh -C -b … -t postal.events.v1 -o beginning -e -J   read a topic end to end
#
# Why a wrapper: Debian's kcat links Debian's librdkafka 2.0.2, whose SCRAM client-final message Kafka 4
# refuses (librdkafka#4895, fixed in 2.6.1). The confluent-kafka wheel of the dev extras bundles a recent
# librdkafka (2.16); this script points the dynamic loader at it through a directory under .work/ holding
# one symlink, librdkafka.so.1, and runs Debian's kcat with it.
#
# The login comes from the same settings a service reads (services/shared/settings.py):
# KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_MECHANISM, KAFKA_USERNAME, KAFKA_PASSWORD_FILE (or KAFKA_PASSWORD)
# and KAFKA_CA_FILE. It reaches kcat in a librdkafka properties file (-F) of mode 600, deleted when kcat
# exits: never on the command line, where `ps` shows it to every user of the machine.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KCAT=${KCAT:-$(command -v kcat || true)}
[ -n "$KCAT" ] || { echo "kcat.sh: kcat is not installed (scripts/setup.sh installs the Debian package)" >&2; exit 2; }

shopt -s nullglob
bundled=("$ROOT"/.venv/lib/python3*/site-packages/confluent_kafka.libs/librdkafka-*.so.1)
shopt -u nullglob
[ ${#bundled[@]} -ge 1 ] || {
    echo "kcat.sh: no librdkafka in .venv (confluent-kafka of the dev extras; run bash scripts/setup.sh)" >&2
    exit 2
}
libs="$ROOT/.work/kcat-lib"
mkdir -p "$libs"
# Replaced atomically (a rename), and only when it points elsewhere: several kcat.sh run at once (the
# privacy scan reads topics in parallel), and a kcat started while the link is missing would load
# Debian's librdkafka instead.
if [ "$(readlink "$libs/librdkafka.so.1" 2>/dev/null || true)" != "${bundled[0]}" ]; then
    ln -sfn "${bundled[0]}" "$libs/.librdkafka.so.1.$$"
    mv -Tf "$libs/.librdkafka.so.1.$$" "$libs/librdkafka.so.1"
fi

login=()
protocol=${KAFKA_SECURITY_PROTOCOL:-PLAINTEXT}
if [ "$protocol" != "PLAINTEXT" ]; then
    if [ -n "${KAFKA_PASSWORD_FILE:-}" ]; then
        password=$(<"$KAFKA_PASSWORD_FILE")
    else
        password=${KAFKA_PASSWORD:-}
    fi
    [ -n "${KAFKA_USERNAME:-}" ] && [ -n "$password" ] || {
        echo "kcat.sh: $protocol needs KAFKA_USERNAME and KAFKA_PASSWORD_FILE (or KAFKA_PASSWORD)" >&2
        exit 2
    }
    props=$(umask 077 && mktemp "${TMPDIR:-/tmp}/kcat-login.XXXXXX")
    trap 'rm -f "$props"' EXIT
    {
        echo "security.protocol=$protocol"
        echo "sasl.mechanisms=${KAFKA_SASL_MECHANISM:-SCRAM-SHA-512}"
        echo "sasl.username=$KAFKA_USERNAME"
        echo "sasl.password=$password"
        if [ -n "${KAFKA_CA_FILE:-}" ]; then echo "ssl.ca.location=$KAFKA_CA_FILE"; fi
    } >"$props"
    unset password
    login=(-F "$props")
fi

# Not exec: the trap removes the login file once kcat is done.
LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$KCAT" "${login[@]}" "$@"

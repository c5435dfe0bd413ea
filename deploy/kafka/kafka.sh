#!/usr/bin/env bash
# A real single-node Kafka broker (KRaft, broker and controller in one JVM) without Docker,
# for tests, CI and laptops. The jars come from Maven Central through deploy/kafka/pom.xml.
#
#   kafka.sh fetch                    copy the broker's jars into $KAFKA_HOME/libs (once per pom)
#   kafka.sh start <data-dir> [port]  format the data dir once, start the broker, wait until it serves
#   kafka.sh start-secure <data-dir> [port]
#                                     the same with SASL_SSL (SCRAM-SHA-512) for clients, the
#                                     StandardAuthorizer (no ACL, no access) and the ACLs of acls.tsv;
#                                     a data dir started so stays secured when `start` restarts it
#   kafka.sh stop <data-dir>          SIGTERM, wait for a clean exit, SIGKILL after 30 s
#   kafka.sh kill <data-dir>          SIGKILL at once (fault tests)
#   kafka.sh status <data-dir>        exit 0 when running, 3 when not
#   kafka.sh acls <data-dir> [table]  bring a running secured broker's ACLs in line with acls.tsv (or
#                                     table): prints "<n> ACLs (<a> added, <r> revoked)"
#
# Environment: KAFKA_HOME (default <repo>/.work/kafka), JAVA_HOME, KAFKA_HEAP_OPTS, KAFKA_JVM_OPTS,
# KAFKA_START_TIMEOUT (seconds, default 60), KAFKA_CDS (0 turns the class-data archive off).
# The controller listens on port + 1.
#
# Secured: the first start of a data dir writes, under it and readable by its owner only,
#   tls/ca.pem            the CA clients trust (KAFKA_CA_FILE); its key is deleted once it has signed
#   tls/broker.pem        the broker's key and certificate (127.0.0.1 and localhost)
#   credentials/<name>    a random password per principal of acls.tsv, for `admin` (the super user),
#                         and for `controller` (the broker's own PLAIN login on the controller listener)
#   admin.properties      Java client settings of the admin, for Kafka's tools (--command-config)
# The SCRAM credentials are stored with `kafka-storage format --add-scram`, so they exist before the
# first client connects; every start brings the broker's ACLs in line with acls.tsv (only the
# difference: an ACL that stays is never absent, even for a moment) and gives a principal added to
# acls.tsv since the format its SCRAM credential (its password file is made by that start).
#
# Start-up speed: the first broker that stops cleanly leaves a class-data-sharing archive of the
# classes it loaded (libs/broker.jsa, about 50 MB); later JVMs map it instead of loading and verifying
# those classes again, which takes a start from about 2.5 s to 1.5 s on two cores.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
pom=$here/pom.xml
kafka_home=${KAFKA_HOME:-$repo/.work/kafka}
libs=$kafka_home/libs
java=${JAVA_HOME:+$JAVA_HOME/bin/}java

say() { echo "kafka: $*"; }
now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }
since() {
    local ms=$(($(now_ms) - $1))
    printf '%d.%d s' $((ms / 1000)) $((ms % 1000 / 100))
}
die() { echo "kafka: $*" >&2; exit 1; }

kafka_version() { sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom"; }

# The stamp names the Kafka version and the pom's hash: any change to the pom fetches again.
wanted_stamp() { echo "kafka $(kafka_version) pom $(sha256sum "$pom" | cut -d' ' -f1)"; }

libs_current() { [[ -f $libs/.fetched && $(<"$libs/.fetched") == "$(wanted_stamp)" ]]; }

cmd_fetch() {
    local version tmp started
    started=$(now_ms)
    version=$(kafka_version)
    if libs_current; then
        say "Kafka $version jars already in $libs"
        return
    fi
    command -v mvn >/dev/null || die "mvn not found: install Maven 3 to fetch the broker's jars"
    say "fetching Kafka $version jars into $libs (Maven Central on first use) ..."
    mkdir -p "$kafka_home"
    # Fetch beside the old libs and swap at the end, so an interrupted fetch never leaves half a classpath.
    tmp=$(mktemp -d "$kafka_home/libs.XXXXXX")
    # Maven 3.8 ends even a quiet run with colour codes; the sed drops them.
    if ! mvn -q -B -f "$pom" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$tmp" 2>&1 | sed 's/\x1b\[[0-9;]*m//g' >&2; then
        rm -rf "$tmp"
        die "fetching the jars failed (see Maven's output above)"
    fi
    wanted_stamp >"$tmp/.fetched"
    rm -rf "$libs"
    mv "$tmp" "$libs"
    say "fetched $(find "$libs" -name '*.jar' | wc -l) jars in $(since "$started")"
}

# --- one broker per data dir -------------------------------------------------------------------

data_dir() {
    [[ -n ${1:-} ]] || die "usage: kafka.sh $cmd <data-dir>"
    mkdir -p "$1"
    (cd "$1" && pwd)
}

# The pid of the broker of this data dir, if one runs. The command line must name this data dir's
# server.properties, so a stale pid file never gets an unrelated process signalled.
broker_pid() {
    local data=$1 pid
    [[ -f $data/broker.pid ]] || return 1
    pid=$(<"$data/broker.pid")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    alive "$pid" "$data"
    echo "$pid"
}

alive() {
    local pid=$1 data=$2
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$data/server.properties"
}

# The process this script just launched still runs (not exited, not a zombie awaiting its wait).
# Not `alive`: until the forked shell has exec'd java, the command line is still the shell's.
launched() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != [ZX] ]]
}

# Gone means exited and its listeners closed, so a restart finds the ports free. Neither the command
# line (dropped before the files are closed) nor the main thread's zombie state (reached while other
# threads still exit) says that alone; no listener on the port does.
gone() {
    local pid=$1 port=$2 stat
    if stat=$(cat "/proc/$pid/stat" 2>/dev/null); then
        stat=${stat##*) }
        [[ ${stat:0:1} == [ZX] ]] || return 1
    fi
    ! listening "$port" && ! listening $((port + 1))
}

configured_port() {
    sed -n 's/^advertised.listeners=[A-Z_]*:\/\/127.0.0.1:\([0-9]*\)$/\1/p' "$1/server.properties" 2>/dev/null || true
}

secured() { [[ -f $1/secured ]]; }

# Secured, the client port only speaks TLS: ready means a TLS handshake completes with a certificate
# that the data dir's CA signed for 127.0.0.1 (Kafka accepts TLS only once it serves requests). The ACL
# step that follows is the authenticated check: it needs a working SCRAM login and a live controller.
serving_tls() {
    local data=$1 port=$2
    timeout 3 openssl s_client -connect "127.0.0.1:$port" -CAfile "$data/tls/ca.pem" \
        -verify_ip 127.0.0.1 -verify_return_error -brief </dev/null >/dev/null 2>&1
}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Ready means the broker answers a Metadata request and lists itself as an (unfenced) broker: an open
# port alone is not enough, since the kernel accepts connections before Kafka serves them.
serving() {
    local port=$1 bytes b
    # Metadata v4 (the oldest Kafka 4.x accepts; a later major release may refuse it): header v1 with correlation id 1 and a null client id,
    # null topic list (all topics), no auto-creation. The reply starts with size, correlation id,
    # throttle time and the number of brokers, four bytes each.
    # shellcheck disable=SC2016 # $0 is the port, expanded by the inner bash
    bytes=$(timeout 2 bash -c '
        exec 3<>"/dev/tcp/127.0.0.1/$0"
        printf "\x00\x00\x00\x0f\x00\x03\x00\x04\x00\x00\x00\x01\xff\xff\xff\xff\xff\xff\x00" >&3
        head -c 16 <&3 | od -An -tu1' "$port" 2>/dev/null) || return 1
    read -r -a b <<<"$bytes"
    ((${#b[@]} == 16)) || return 1
    ((b[4] == 0 && b[5] == 0 && b[6] == 0 && b[7] == 1)) || return 1
    ((b[12] + b[13] + b[14] + b[15] > 0))
}

write_config() {
    local data=$1 port=$2
    cat >"$data/server.properties" <<EOF
# Written by deploy/kafka/kafka.sh; rewritten on every start.
process.roles=broker,controller
node.id=1
$(if secured "$data"; then secure_listeners "$data" "$port"; else plain_listeners "$port"; fi)
controller.listener.names=CONTROLLER
controller.quorum.voters=1@127.0.0.1:$((port + 1))
log.dirs=$data/logs

# One node: every internal topic has one replica.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=12
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
min.insync.replicas=1
default.replication.factor=1

# Topics come from contracts/topics.py (dossier-kafka create-topics), never from a typo.
auto.create.topics.enable=false
num.partitions=1

# Fast start and fast group joins for tests.
group.initial.rebalance.delay.ms=0
broker.heartbeat.interval.ms=500
# After a SIGKILL the restarted controller waits out the dead broker's session before the broker can
# register again: 3 s instead of 9 s, still six missed heartbeats.
broker.session.timeout.ms=3000
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=2
EOF
}

plain_listeners() {
    local port=$1
    cat <<EOF
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$((port + 1))
advertised.listeners=PLAINTEXT://127.0.0.1:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
EOF
}

# Clients (and the broker to itself) on SASL_SSL with SCRAM-SHA-512. The controller listener cannot use
# SCRAM (its credentials live in the metadata the controller serves), so it takes PLAIN with one user,
# the broker itself; it listens on loopback only, like the client port.
secure_listeners() {
    local data=$1 port=$2 admin controller
    admin=$(<"$data/credentials/admin")
    controller=$(<"$data/credentials/controller")
    cat <<EOF
listeners=SASL_SSL://127.0.0.1:$port,CONTROLLER://127.0.0.1:$((port + 1))
advertised.listeners=SASL_SSL://127.0.0.1:$port
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SASL_PLAINTEXT
inter.broker.listener.name=SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$admin";
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="controller" password="$controller" user_controller="$controller";
ssl.keystore.type=PEM
ssl.keystore.location=$data/tls/broker.pem
# The broker is its own client on SASL_SSL (inter-broker), so it trusts its CA too.
ssl.truststore.type=PEM
ssl.truststore.location=$data/tls/ca.pem
ssl.client.auth=none
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin;User:controller
EOF
}

# --- secured mode: certificates, credentials, ACLs ---------------------------------------------------

principals() { awk -F'\t' '!/^#/ && NF == 5 { print $1 }' "$here/acls.tsv" | sort -u; }

# Once per data dir, before formatting: a CA, the broker's certificate, a password per principal.
prepare_secure() {
    local data=$1 port=$2 name
    [[ -f $data/tls/ca.pem && -f $data/tls/broker.pem ]] || make_certificates "$data"
    mkdir -p "$data/credentials"
    chmod 700 "$data/credentials"
    for name in admin controller $(principals); do
        [[ -s $data/credentials/$name ]] || (umask 077 && openssl rand -hex 24 >"$data/credentials/$name")
    done
    (
        umask 077
        cat >"$data/admin.properties" <<EOF
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$(<"$data/credentials/admin")";
ssl.truststore.type=PEM
ssl.truststore.location=$data/tls/ca.pem
bootstrap.servers=127.0.0.1:$port
EOF
    )
}

make_certificates() {
    local data=$1 tls=$1/tls
    command -v openssl >/dev/null || die "openssl not found: the secured broker needs it for its certificates"
    rm -rf "$tls"
    mkdir -p "$tls"
    chmod 755 "$tls"  # the CA certificate is public; broker.pem is the owner's only
    (
        umask 077
        # P-256 keys: quick to make and to handshake; PKCS#8 PEM, as Kafka's PEM key store reads it.
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
            -subj "/CN=dossier-kafka-ca" -keyout "$tls/ca.key" -out "$tls/ca.pem" \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
            -keyout "$tls/broker.key" -out "$tls/broker.csr"
        printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=CA:FALSE" \
            "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$tls/broker.ext"
        openssl x509 -req -in "$tls/broker.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial \
            -days 825 -extfile "$tls/broker.ext" -out "$tls/broker.crt"
        cat "$tls/broker.key" "$tls/broker.crt" >"$tls/broker.pem"
    ) >"$data/tls.out" 2>&1 || die "making the certificates failed: $(cat "$data/tls.out")"
    # Nothing more is ever signed with this CA: without its key, no one can mint another broker.
    rm -f "$tls/ca.key" "$tls/ca.srl" "$tls/broker.csr" "$tls/broker.ext" "$tls/broker.key" "$tls/broker.crt"
    chmod 644 "$tls/ca.pem"
}

# SCRAM credentials for `format --add-scram`, two lines (option, value) per principal.
scram_options() {
    local data=$1 name
    for name in admin $(principals); do
        printf -- '--add-scram\nSCRAM-SHA-512=[name=%s,password=%s]\n' "$name" "$(<"$data/credentials/$name")"
    done
}

apply_acls() {
    local data=$1 table=${2:-$here/acls.tsv}
    # shellcheck disable=SC2046 # cds_use prints separate options
    "$java" $(cds_use) -XX:TieredStopAtLevel=1 -Xmx128m \
        -Dlog4j2.configurationFile="$here/log4j2.properties" -Dkafka.logs.dir="$data" \
        -cp "$libs/*" "$here/Acls.java" "$data/admin.properties" "$table" "$data/credentials" 2>"$data/acls.out"
}

cmd_acls() {
    local data=${1:?usage: kafka.sh acls <data-dir> [table]} table=${2:-$here/acls.tsv}
    secured "$data" || die "$data is not a secured broker's data dir"
    if ! apply_acls "$data" "$table"; then
        cat "$data/acls.out" >&2
        die "applying $table failed"
    fi
}

# --- class-data sharing ----------------------------------------------------------------------------
# The archive belongs to the libs dir (a new fetch drops it) and to the JDK that wrote it (another JDK
# warns in broker.out and runs without it).

cds_use() {
    [[ ${KAFKA_CDS:-1} != 0 && -f $libs/broker.jsa ]] && echo "-XX:SharedArchiveFile=$libs/broker.jsa"
    true
}

# For the broker: use the archive, or have this broker write one when it exits. The name of the file
# being written goes to <data-dir>/broker.cds; `stop` promotes it only after a clean exit.
cds_broker_opts() {
    local data=$1 tmp
    rm -f "$data/broker.cds"
    [[ ${KAFKA_CDS:-1} != 0 ]] || return 0
    if [[ -f $libs/broker.jsa ]]; then
        echo "-XX:SharedArchiveFile=$libs/broker.jsa"
    else
        tmp=$libs/broker.jsa.$$
        echo "$tmp" >"$data/broker.cds"
        echo "-XX:ArchiveClassesAtExit=$tmp -Xlog:cds=error"
    fi
}

cds_after_exit() {
    local data=$1 clean=$2 tmp
    [[ -f $data/broker.cds ]] || return 0
    tmp=$(<"$data/broker.cds")
    rm -f "$data/broker.cds"
    if [[ $clean == clean && -s $tmp && ! -f $libs/broker.jsa ]]; then
        mv "$tmp" "$libs/broker.jsa"
    else
        rm -f "$tmp"
    fi
}

format_once() {
    local data=$1 cluster_id
    if [[ -f $data/logs/meta.properties ]]; then
        return
    fi
    # A Kafka Uuid: 16 random bytes in URL-safe base64 without padding; Kafka avoids a leading '-'.
    cluster_id=-
    while [[ $cluster_id == -* ]]; do
        cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
    done
    local scram=()
    if secured "$data"; then
        mapfile -t scram < <(scram_options "$data")
    fi
    # shellcheck disable=SC2046 # cds_use prints separate options
    "$java" $(cds_use) -XX:TieredStopAtLevel=1 -Xmx256m \
        -Dkafka.logs.dir="$data" -Dlog4j2.configurationFile="$here/log4j2.properties" \
        -cp "$libs/*" kafka.tools.StorageTool format --ignore-formatted \
        --cluster-id "$cluster_id" --config "$data/server.properties" "${scram[@]}" >"$data/format.out" 2>&1 ||
        die "formatting $data/logs failed: $(cat "$data/format.out")"
}

cmd_start() {
    local data port pid started timeout=${KAFKA_START_TIMEOUT:-60} secure=${SECURE:-0} scheme=PLAINTEXT
    started=$(now_ms)
    data=$(data_dir "${1:-}")
    if ((secure)) && [[ -f $data/logs/meta.properties ]] && ! secured "$data"; then
        die "$data was formatted for PLAINTEXT; start-secure needs a fresh data dir"
    fi
    if ((secure)); then touch "$data/secured"; fi
    if secured "$data"; then scheme=SASL_SSL; fi
    # A restart without a port keeps the port of the previous start.
    port=${2:-$(configured_port "$data")}
    port=${port:-9092}
    if pid=$(broker_pid "$data"); then
        say "already running (pid $pid), $scheme://127.0.0.1:$(configured_port "$data")"
        return
    fi
    for p in "$port" $((port + 1)); do
        ! listening "$p" || die "port $p on 127.0.0.1 is already in use"
    done
    libs_current || cmd_fetch

    if secured "$data"; then prepare_secure "$data" "$port"; fi
    (umask 077 && write_config "$data" "$port")
    format_once "$data"

    local cds
    cds=$(cds_broker_opts "$data")
    # shellcheck disable=SC2086 # the options hold several words on purpose
    (
        # KAFKA_EXEC_DELAY (tests only) widens the window between this fork and the exec of java.
        [[ -z ${KAFKA_EXEC_DELAY:-} ]] || sleep "$KAFKA_EXEC_DELAY"
        exec "$java" ${KAFKA_HEAP_OPTS:--Xms256m -Xmx768m} \
            ${KAFKA_JVM_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true} \
            $cds \
            -Dkafka.logs.dir="$data" -Dlog4j2.configurationFile="$here/log4j2.properties" \
            -cp "$libs/*" kafka.Kafka "$data/server.properties"
    ) </dev/null >"$data/broker.out" 2>&1 &
    pid=$!
    echo "$pid" >"$data/broker.pid"

    until if secured "$data"; then serving_tls "$data" "$port"; else serving "$port"; fi; do
        if ! launched "$pid"; then
            rm -f "$data/broker.pid"
            cds_after_exit "$data" failed
            show_log "$data"
            die "the broker exited during start-up (logs in $data)"
        fi
        if (($(now_ms) - started >= timeout * 1000)); then
            kill -KILL "$pid" 2>/dev/null || true
            wait_gone "$pid" "$port" 10 || true
            rm -f "$data/broker.pid"
            cds_after_exit "$data" killed
            show_log "$data"
            die "the broker did not serve within $timeout s (logs in $data)"
        fi
        sleep 0.2
    done
    local acls=""
    if secured "$data"; then
        if ! acls=$(apply_acls "$data"); then
            cat "$data/acls.out" >&2
            die "applying $here/acls.tsv failed (the broker runs, pid $pid; logs in $data)"
        fi
        acls=", $acls, CA $data/tls/ca.pem, credentials in $data/credentials"
    fi
    say "broker up in $(since "$started") (pid $pid): $scheme://127.0.0.1:$port," \
        "controller 127.0.0.1:$((port + 1)), data $data$acls"
}

show_log() {
    local data=$1
    echo "--- tail of $data/broker.log ---" >&2
    tail -n 40 "$data/broker.log" >&2 2>/dev/null || true
    echo "--- tail of $data/broker.out ---" >&2
    tail -n 20 "$data/broker.out" >&2 2>/dev/null || true
}

wait_gone() {
    local pid=$1 port=$2 seconds=$3 i
    for ((i = 0; i < seconds * 10; i++)); do
        gone "$pid" "$port" && return 0
        sleep 0.1
    done
    return 1
}

cmd_stop() {
    local data pid port
    data=$(data_dir "${1:-}")
    port=$(configured_port "$data")
    if ! pid=$(broker_pid "$data"); then
        rm -f "$data/broker.pid"
        cds_after_exit "$data" gone
        say "not running ($data)"
        return
    fi
    kill -TERM "$pid" 2>/dev/null || true
    if wait_gone "$pid" "$port" 30; then
        cds_after_exit "$data" clean
        say "stopped (pid $pid)"
    else
        kill -KILL "$pid" 2>/dev/null || true
        wait_gone "$pid" "$port" 10 || die "pid $pid survived SIGKILL"
        cds_after_exit "$data" killed
        say "killed (pid $pid) after 30 s without a clean exit"
    fi
    rm -f "$data/broker.pid"
}

cmd_kill() {
    local data pid port
    data=$(data_dir "${1:-}")
    port=$(configured_port "$data")
    if ! pid=$(broker_pid "$data"); then
        rm -f "$data/broker.pid"
        cds_after_exit "$data" gone
        say "not running ($data)"
        return
    fi
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" "$port" 10 || die "pid $pid survived SIGKILL"
    cds_after_exit "$data" killed
    rm -f "$data/broker.pid"
    say "killed (pid $pid)"
}

cmd_status() {
    local data pid
    data=$(data_dir "${1:-}")
    if pid=$(broker_pid "$data"); then
        say "running (pid $pid), data $data"
    else
        say "not running ($data)"
        exit 3
    fi
}

cmd=${1:-}
shift || true
case $cmd in
fetch) cmd_fetch ;;
start) cmd_start "$@" ;;
start-secure) SECURE=1 cmd_start "$@" ;;
stop) cmd_stop "$@" ;;
kill) cmd_kill "$@" ;;
status) cmd_status "$@" ;;
acls) cmd_acls "$@" ;;
*) die "usage: kafka.sh fetch | start <data-dir> [port] | start-secure <data-dir> [port] | stop <data-dir> | kill <data-dir> | status <data-dir> | acls <data-dir> [table]" ;;
esac

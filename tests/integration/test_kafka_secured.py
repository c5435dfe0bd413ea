"""The secured broker (deploy/kafka/kafka.sh start-secure): TLS with a SCRAM-SHA-512 login, and each
service's principal allowed only what deploy/kafka/acls.tsv grants it.

The session's broker is that secured broker (tests/fixtures/kafka.py starts it with start-secure): these
tests check it, and save a broker start of their own.
"""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    KafkaError,
    TopicAuthorizationFailedError,
)
from faststream.kafka import KafkaBroker
from pydantic import SecretStr

from contracts.topics import AGENCY_EVENTS, POSTAL_EVENTS, Topic
from services.shared.compat.faststream_internals import replace_producer
from services.shared.consumer_lag import consumer_lag
from services.shared.kafka import OutgoingRecord, RecordSender, make_broker
from services.shared.kafka_acls import ACL_TABLE, read_table
from services.shared.kafka_admin import create_topics
from services.shared.kafka_authorisation import KafkaNotAuthorisedError
from services.shared.kafka_security import KafkaSecurity
from services.tracker.rebuild import partition_counts
from tests.fixtures.kafka import KAFKA_SCRIPT
from tests.fixtures.kafka import KafkaBroker as SessionBroker

pytestmark = pytest.mark.kafka


@dataclass(frozen=True)
class SecuredKafka:
    bootstrap: str
    data_dir: Path

    @property
    def ca_file(self) -> Path:
        return self.data_dir / "tls" / "ca.pem"

    def password(self, principal: str) -> SecretStr:
        return SecretStr((self.data_dir / "credentials" / principal).read_text(encoding="utf-8").strip())

    def security(self, principal: str, password: SecretStr | None = None) -> KafkaSecurity:
        return KafkaSecurity(
            protocol="SASL_SSL",
            username=principal,
            password=password or self.password(principal),
            ca_file=self.ca_file,
        )


@pytest.fixture(scope="module")
def secured_kafka(kafka_broker: SessionBroker) -> SecuredKafka:
    if kafka_broker.data_dir is None:
        pytest.skip("KAFKA_BOOTSTRAP_SERVERS points at an external broker with logins of its operator")
    return SecuredKafka(bootstrap=kafka_broker.bootstrap, data_dir=kafka_broker.data_dir)


def test_starting_the_broker_printed_no_secret(
    kafka_broker: SessionBroker, secured_kafka: SecuredKafka
) -> None:
    """Not the admin's password, not any principal's: the script's output goes to logs and CI pages."""
    secrets = [secured_kafka.password(p).get_secret_value() for p in ("admin", "controller", "post-office")]
    assert kafka_broker.outputs and "SASL_SSL://" in kafka_broker.outputs[0]
    assert not [s for s in secrets if any(s in output for output in kafka_broker.outputs)]


async def _produce(bootstrap: str, topic: str, **options: Any) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, request_timeout_ms=10_000, **options
    )
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"{}", key=str(uuid.uuid4()).encode())
    finally:
        await producer.stop()


async def test_a_plaintext_client_is_refused(secured_kafka: SecuredKafka) -> None:
    with pytest.raises(KafkaConnectionError):
        await _produce(secured_kafka.bootstrap, POSTAL_EVENTS.name)


async def test_a_tls_client_without_a_login_is_refused(secured_kafka: SecuredKafka) -> None:
    tls_only = {"security_protocol": "SSL", "ssl_context": secured_kafka.security("admin").ssl_context()}
    with pytest.raises(KafkaConnectionError):
        await _produce(secured_kafka.bootstrap, POSTAL_EVENTS.name, **tls_only)


async def test_an_unknown_principal_is_refused(secured_kafka: SecuredKafka) -> None:
    stranger = secured_kafka.security("stranger", SecretStr("guessed-" + uuid.uuid4().hex))
    with pytest.raises(KafkaConnectionError):
        await _produce(secured_kafka.bootstrap, POSTAL_EVENTS.name, **stranger.client_options())


async def test_a_wrong_password_is_refused(secured_kafka: SecuredKafka) -> None:
    wrong = secured_kafka.security("post-office", SecretStr(uuid.uuid4().hex))
    with pytest.raises(KafkaConnectionError):
        await _produce(secured_kafka.bootstrap, POSTAL_EVENTS.name, **wrong.client_options())


@pytest.fixture
async def post_office_broker(secured_kafka: SecuredKafka) -> AsyncIterator[KafkaBroker]:
    broker = make_broker(
        secured_kafka.bootstrap, client_id="post-office", security=secured_kafka.security("post-office")
    )
    await broker.connect()
    try:
        yield broker
    finally:
        await broker.stop()


@pytest.fixture
def post_office_sender(post_office_broker: KafkaBroker) -> RecordSender:
    return RecordSender(post_office_broker, timeout_s=15)


async def test_the_post_offices_broker_publishes_on_its_topic_and_the_tracker_reads_it(
    secured_kafka: SecuredKafka, post_office_sender: RecordSender
) -> None:
    key, value = str(uuid.uuid4()).encode(), uuid.uuid4().hex.encode()
    await post_office_sender.send([OutgoingRecord(POSTAL_EVENTS.name, key, value, [])])

    consumer = AIOKafkaConsumer(
        bootstrap_servers=secured_kafka.bootstrap,
        enable_auto_commit=False,
        **secured_kafka.security("tracker").client_options(),
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(POSTAL_EVENTS.name, p) for p in range(POSTAL_EVENTS.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        found: list[bytes] = []
        async with asyncio.timeout(30):
            while value not in found:
                batches = await consumer.getmany(timeout_ms=500)
                found.extend(record.value for records in batches.values() for record in records)
    finally:
        await consumer.stop()


async def test_a_renewed_producer_logs_in_as_the_broker_did(
    post_office_broker: KafkaBroker, post_office_sender: RecordSender
) -> None:
    """ProducerRecovery renews a dead producer with the broker's own connection options: on a secured
    broker those include the login, or the services would answer 503 after their first broker restart."""
    await replace_producer(post_office_broker)
    record = OutgoingRecord(POSTAL_EVENTS.name, str(uuid.uuid4()).encode(), b"{}", [])
    await post_office_sender.send([record], what="a scan after the renewal")


async def test_the_post_office_cannot_write_the_agencys_topic(post_office_sender: RecordSender) -> None:
    record = OutgoingRecord(AGENCY_EVENTS.name, str(uuid.uuid4()).encode(), b"{}", [])
    with pytest.raises(KafkaNotAuthorisedError) as refused:
        await post_office_sender.send([record], what="a forged agency event")
    assert str(refused.value) == "not authorised to write topic agency.events.v1 (principal post-office)"
    assert isinstance(refused.value.__cause__, TopicAuthorizationFailedError)


async def _join(kafka: SecuredKafka, principal: str, group: str) -> None:
    """Join `group` on agency.events.v1 (a topic the post office may read) and poll once."""
    consumer = AIOKafkaConsumer(
        AGENCY_EVENTS.name,
        bootstrap_servers=kafka.bootstrap,
        group_id=group,
        enable_auto_commit=False,
        **kafka.security(principal).client_options(),
    )
    try:
        async with asyncio.timeout(30):
            await consumer.start()
            await consumer.getmany(timeout_ms=100)
    finally:
        await consumer.stop()


async def test_the_post_office_cannot_join_another_services_consumer_group(
    secured_kafka: SecuredKafka,
) -> None:
    with pytest.raises(GroupAuthorizationFailedError):
        await _join(secured_kafka, "post-office", "tracker")


async def test_the_post_office_reads_with_a_group_of_its_own(secured_kafka: SecuredKafka) -> None:
    await _join(secured_kafka, "post-office", f"post-office.{uuid.uuid4()}")


async def test_only_the_admin_creates_topics(secured_kafka: SecuredKafka) -> None:
    topic = Topic(name=f"forged.{uuid.uuid4()}", partitions=1, description="not in the registry")
    with pytest.raises(KafkaError, match="TopicAuthorizationFailedError"):
        await create_topics(secured_kafka.bootstrap, [topic], security=secured_kafka.security("agency"))


async def test_the_raw_clients_log_in_too(secured_kafka: SecuredKafka) -> None:
    """The tracker's rebuild counts partitions and the turnaround measures its group's lag as themselves."""
    tracker = secured_kafka.security("tracker")
    counts = await partition_counts(secured_kafka.bootstrap, [POSTAL_EVENTS], tracker)
    assert counts[POSTAL_EVENTS.name] == POSTAL_EVENTS.partitions

    lag = await consumer_lag(
        secured_kafka.bootstrap,
        {"turnaround": [POSTAL_EVENTS.name]},
        "turnaround-lag",
        secured_kafka.security("turnaround"),
    )
    partitions = {TopicPartition(POSTAL_EVENTS.name, p) for p in range(POSTAL_EVENTS.partitions)}
    assert set(lag["turnaround"]) == partitions


async def test_a_restart_keeps_the_broker_secured_with_its_logins_and_acls(
    kafka_broker: SessionBroker, secured_kafka: SecuredKafka
) -> None:
    """`kafka.sh start` of a data dir first started secured (the outage tests restart brokers so)."""
    await asyncio.to_thread(kafka_broker.stop)
    await asyncio.to_thread(kafka_broker.start)
    assert "SASL_SSL://" in kafka_broker.outputs[-1]

    with pytest.raises(KafkaConnectionError):
        await _produce(secured_kafka.bootstrap, POSTAL_EVENTS.name)
    post_office = secured_kafka.security("post-office").client_options()
    await _produce(secured_kafka.bootstrap, POSTAL_EVENTS.name, **post_office)
    with pytest.raises(TopicAuthorizationFailedError):
        await _produce(secured_kafka.bootstrap, AGENCY_EVENTS.name, **post_office)


def _bring_acls_in_line(data_dir: Path, table: Path | None = None) -> str:
    args = ["bash", str(KAFKA_SCRIPT), "acls", str(data_dir), *([str(table)] if table else [])]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def test_a_restart_leaves_every_acl_that_stays_in_place_and_revokes_only_a_removed_row(
    kafka_broker: SessionBroker, tmp_path: Path
) -> None:
    """Every start brings the broker's ACLs in line with acls.tsv. Replacing them all (delete, then
    create) left a moment without any ACL, in which services reconnecting to the restarted broker were
    refused their own topics; only the difference is applied now, so an ACL that stays is never absent."""
    if kafka_broker.data_dir is None:
        pytest.skip("KAFKA_BOOTSTRAP_SERVERS points at an external broker, whose ACLs are its operator's")
    total = len(read_table())
    assert _bring_acls_in_line(kafka_broker.data_dir) == f"{total} ACLs (0 added, 0 revoked)"

    lines = ACL_TABLE.read_text(encoding="utf-8").splitlines()
    removed = [line for line in lines if line.startswith("turnaround\tgroup\tprefixed\tnotifications\t")]
    assert len(removed) == 1
    smaller = tmp_path / "acls.tsv"
    smaller.write_text("\n".join(line for line in lines if line not in removed) + "\n", encoding="utf-8")
    try:
        assert _bring_acls_in_line(kafka_broker.data_dir, smaller) == f"{total - 1} ACLs (0 added, 1 revoked)"
    finally:
        assert _bring_acls_in_line(kafka_broker.data_dir) == f"{total} ACLs (1 added, 0 revoked)"

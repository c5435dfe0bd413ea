"""Helpers of the tracker's tests: settings, records, publishing, polling, credentials, snapshots."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from aiokafka.structs import ConsumerRecord
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.envelope import Envelope, kafka_record
from contracts.events import Event, topic_for
from contracts.topics import Topic
from services.shared.auth import Role, TokenSigner
from services.shared.auth.registry import CredentialRegistry
from services.shared.consuming import RawRecord
from services.tracker.adapters import repository
from services.tracker.adapters.tables import PROJECTION_TABLES
from services.tracker.domain import DossierView
from services.tracker.settings import TrackerSettings
from tests.fixtures.kafka import KafkaLogin, kafka_env_of

SECRET = "tracker-tests-signing-secret-0123456789"
ROOT = Path(__file__).resolve().parents[2]
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else "python"
# No TRACKER_LOOKUP_KEY: every tracker of the tests, in process or not, uses the one generated into this
# file, wherever pytest runs from.
LOOKUP_KEY_FILE = ROOT / ".work" / "lookup_key"

T = TypeVar("T")


def settings_for(database_url: str, kafka: KafkaLogin | None = None, **overrides: Any) -> TrackerSettings:
    """`kafka`: the tracker's own login (kafka_broker.for_service("tracker")); none for a tracker that
    never reaches Kafka (nothing listens on port 9)."""
    values: dict[str, Any] = {
        "DATABASE_URL": database_url,
        **(kafka.env() if kafka else {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9"}),
        "DOSSIER_AUTH_SECRET": SECRET,
        "lookup_key_file": LOOKUP_KEY_FILE,
        "consumer_group": f"tracker-test-{uuid.uuid4().hex[:10]}",
        "session_timeout_ms": 6_000,
        "batch_timeout_ms": 20,
        "outbox_idle_s": 0.1,
        "credential_cache_s": 0,
        **overrides,
    }
    return TrackerSettings.model_validate(values)


def environment_for(settings: TrackerSettings, **extra: str) -> dict[str, str]:
    """The environment of a tracker subprocess with these settings."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("TRACKER_")}
    env.update(
        {
            "DATABASE_URL": settings.database_url,
            **kafka_env_of(settings),
            "DOSSIER_AUTH_SECRET": SECRET,
            "TRACKER_LOOKUP_KEY_FILE": str(settings.lookup_key_file),
            "TRACKER_CONSUMER_GROUP": settings.consumer_group,
            "TRACKER_SESSION_TIMEOUT_MS": str(settings.session_timeout_ms),
            "TRACKER_BATCH_TIMEOUT_MS": str(settings.batch_timeout_ms),
            "TRACKER_OUTBOX_IDLE_S": str(settings.outbox_idle_s),
            "LOG_LEVEL": "WARNING",
            **extra,
        }
    )
    return env


def records_of(envelopes: Iterable[Envelope[Event]], first_offset: int = 0) -> list[RawRecord]:
    """Kafka records as a consumer would see them, for feeding a BatchProcessor without a broker."""
    out = []
    for n, envelope in enumerate(envelopes):
        record = kafka_record(envelope)
        out.append(
            RawRecord(
                topic=topic_for(envelope.type).name,
                partition=0,
                offset=first_offset + n,
                key=record.key,
                value=record.value,
                headers=tuple(record.headers),
            )
        )
    return out


async def publish(kafka: KafkaLogin, envelopes: Sequence[Envelope[Event]]) -> None:
    producer = AIOKafkaProducer(**kafka.options(), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for envelope in envelopes:
            record = kafka_record(envelope)
            await producer.send_and_wait(
                topic_for(envelope.type).name, record.value, key=record.key, headers=record.headers
            )
    finally:
        await producer.stop()


async def forget_earlier_events(kafka: KafkaLogin, topics: Iterable[Topic]) -> None:
    """Move the topics' log start to their current end (the admin's DeleteRecords), as retention does: a
    rebuild then replays only what the test publishes after, not every event the session's earlier tests
    left on the shared broker (a replay whose cost grew with the suite)."""
    admin = AIOKafkaAdminClient(**kafka.options())
    consumer = AIOKafkaConsumer(**kafka.options())
    await admin.start()
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic.name, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic.name) or range(topic.partitions))
        ]
        ends = await consumer.end_offsets(partitions)
        await admin.delete_records({tp: RecordsToDelete(offset) for tp, offset in ends.items() if offset})
    finally:
        await consumer.stop()
        await admin.close()


async def publish_raw(kafka: KafkaLogin, topic: str, value: bytes, key: bytes) -> None:
    producer = AIOKafkaProducer(**kafka.options(), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def eventually(
    check: Callable[[], Awaitable[T | None]], within: float = 30.0, what: str = "", every: float = 0.1
) -> T:
    """Poll until ``check`` returns something truthy, every ``every`` seconds."""
    deadline = time.monotonic() + within
    while True:
        found = await check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:g} s waiting for {what or check}")
        await asyncio.sleep(every)


async def end_offsets(kafka: KafkaLogin, topic: Topic) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(**kafka.options())
    await consumer.start()
    try:
        partitions = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def read_from(
    kafka: KafkaLogin,
    start: dict[TopicPartition, int],
    keep: Callable[[ConsumerRecord[bytes, bytes]], bool],
    count: int,
    within: float = 30.0,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Records from ``start`` that ``keep`` accepts, until ``count`` of them (``read_to_end`` when
    nothing more may follow)."""
    consumer = AIOKafkaConsumer(**kafka.options(), enable_auto_commit=False)
    await consumer.start()
    found: list[ConsumerRecord[bytes, bytes]] = []
    try:
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        async with asyncio.timeout(within):
            while len(found) < count:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    found.extend(r for r in records if keep(r))
    finally:
        await consumer.stop()
    return found


async def read_to_end(
    kafka: KafkaLogin,
    start: dict[TopicPartition, int],
    keep: Callable[[ConsumerRecord[bytes, bytes]], bool],
    within: float = 60.0,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record from ``start`` to the partitions' end as it is now that ``keep`` accepts: call it once
    what is awaited is known to be on the topic (acknowledged), to see all of it and nothing else."""
    consumer = AIOKafkaConsumer(**kafka.options(), enable_auto_commit=False)
    await consumer.start()
    found: list[ConsumerRecord[bytes, bytes]] = []
    try:
        ends = dict(await consumer.end_offsets(list(start)))
        waiting = {tp for tp in start if ends[tp] > start[tp]}
        consumer.assign(list(waiting))
        for tp in waiting:
            consumer.seek(tp, start[tp])
        async with asyncio.timeout(within):
            while waiting:
                for tp, records in (await consumer.getmany(*waiting, timeout_ms=200)).items():
                    found.extend(r for r in records if r.offset < ends[tp] and keep(r))
                for tp in list(waiting):
                    if await consumer.position(tp) >= ends[tp]:
                        waiting.discard(tp)
    finally:
        await consumer.stop()
    return found


async def credential(engine: AsyncEngine, role: Role, scope: str | None = None) -> str:
    """A registered bearer token for this role and scope."""
    now = datetime.now(UTC)
    principal, token = TokenSigner(SECRET).issue(
        subject=f"{role.value}-tester", role=role, scope=scope, now=now, valid_for=timedelta(hours=1)
    )
    await CredentialRegistry(engine).register(principal, issued_at=now, expires_at=now + timedelta(hours=1))
    return token


async def snapshot(engine: AsyncEngine, dossier_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Every projection row of these dossiers, in a stable order (for comparing two databases)."""
    ids = sorted(set(dossier_ids))
    out: dict[str, list[dict[str, Any]]] = {}
    async with engine.connect() as conn:
        for table in PROJECTION_TABLES:
            rows = (await conn.execute(select(table).where(table.c.dossier_id.in_(ids)))).mappings().all()
            out[table.name] = sorted(
                (dict(row) for row in rows), key=lambda row: sorted(map(str, row.items()))
            )
    return out


async def committed_offsets(
    kafka: KafkaLogin, group: str, partitions: Iterable[TopicPartition]
) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(**kafka.options(), group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        return {tp: (await consumer.committed(tp)) or 0 for tp in partitions}
    finally:
        await consumer.stop()


def stored_row(view: DossierView) -> dict[str, Any]:
    """The dossier row the tracker stores for `view`: the projection's columns, and no erasure of the
    applicant's contact (`contact_erased_at` is set only by an erasure event, never by the fold)."""
    return {**repository.dossier_row(view), "contact_erased_at": None}

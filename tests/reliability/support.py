"""Running services as processes that can be killed, and reading what they left in Kafka and PostgreSQL.

Every service runs as `python -m services.<name> …` with its own environment and a log file, started by
the project's one launcher (services/shared/launcher.py). Consumer groups are new for each test and start
at the topics' current end (tests/fixtures/kafka_groups.py), since the session's topics hold the events
of every test before.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.envelope import Envelope
from contracts.events import Event
from contracts.topics import Topic
from services.shared.consumer_lag import partition_lag
from services.shared.db.schema import processed_event
from services.shared.launcher import ManagedProcess, ProcessFailedError
from tests.fixtures.kafka import KafkaLogin
from tests.reliability.workload import records
from tests.tracker import support as tracker_support
from tests.tracker.support import LOOKUP_KEY_FILE, PYTHON, ROOT, SECRET

T = TypeVar("T")
Offsets = dict[TopicPartition, int]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def base_environment(database_url: str, kafka: KafkaLogin, **extra: str) -> dict[str, str]:
    """The environment of a service process: no inherited service settings, only these; `kafka` is the
    service's own login."""
    prefixes = ("TRACKER_", "TURNAROUND_", "AGENCY_", "POST_OFFICE_", "NOTIFICATIONS_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.update(
        {
            "DATABASE_URL": database_url,
            **kafka.env(),
            "DOSSIER_AUTH_SECRET": SECRET,
            "LOG_LEVEL": "WARNING",
            **extra,
        }
    )
    return env


def tracker_environment(database_url: str, kafka: KafkaLogin, group: str, **extra: str) -> dict[str, str]:
    return base_environment(
        database_url,
        kafka,
        TRACKER_CONSUMER_GROUP=group,
        TRACKER_LOOKUP_KEY_FILE=str(LOOKUP_KEY_FILE),
        TRACKER_SESSION_TIMEOUT_MS="6000",
        TRACKER_BATCH_TIMEOUT_MS="20",
        TRACKER_OUTBOX_IDLE_S="0.2",
        **extra,
    )


def turnaround_environment(database_url: str, kafka: KafkaLogin, group: str, **extra: str) -> dict[str, str]:
    return base_environment(
        database_url,
        kafka,
        TURNAROUND_CONSUMER_GROUP=group,
        TURNAROUND_HTTP_HOST="127.0.0.1",
        TURNAROUND_HTTP_PORT=str(free_port()),
        TURNAROUND_TICK_INTERVAL_S="1",
        TURNAROUND_RELAY_INTERVAL_S="0.2",
        **extra,
    )


@dataclass
class Service:
    """One service process started by the project's launcher, restartable; counts the SIGKILLs it
    received and keeps the exit code of each run it ended."""

    name: str
    args: Sequence[str]
    env: dict[str, str]
    log: Path
    ready_url: str | None = None
    kills: int = 0
    exits: list[int] = field(default_factory=list)
    restarts: int = 0
    process: ManagedProcess = field(init=False)

    def __post_init__(self) -> None:
        self.process = ManagedProcess(
            self.name,
            [PYTHON, *self.args],
            log_path=self.log,
            env=self.env,
            ready_url=self.ready_url,
            cwd=ROOT,
        )

    @property
    def starts(self) -> int:
        return self.process.starts

    async def start(self) -> None:
        self.process.start()

    @property
    def running(self) -> bool:
        return self.process.running()

    async def wait_ready(self, timeout_s: float = 90.0) -> None:
        """Until its readiness URL answers 200; a process that died meanwhile fails it at once (unless it
        is one `check` restarts)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            try:
                await self.process.wait_ready(max(deadline - loop.time(), 0.0))
                return
            except ProcessFailedError:
                if not self.crashed():
                    raise
                await self.check()

    async def kill(self) -> None:
        """SIGKILL: no shutdown of any kind, as a crash or the OOM killer."""
        if self.process.running():
            self.kills += 1
        code = await self.process.kill()
        assert code is not None, f"{self.name} was never started"
        self.exits.append(code)

    async def stop(self) -> None:
        """SIGTERM (an orderly stop: a consumer leaves its group at once), SIGKILL after 30 s."""
        if not self.process.running():
            return
        code = await self.process.stop(30)
        assert code is not None
        self.exits.append(code)

    def crashed(self) -> bool:
        """Whether the process ended on its own (not by our signals)."""
        return self.process.returncode not in (None, -9, -15, 0)

    async def check(self) -> None:
        """Fail if the process died on its own — except for what a supervisor restarts: a consumer that
        could not reach Kafka at start (the session's broker may still be starting after another test)
        exits, and is started again, three times at most."""
        if not self.crashed():
            return
        if "Unable to bootstrap" in self.tail(60) and self.restarts < 3:
            self.restarts += 1
            await self.start()
            return
        raise AssertionError(
            f"{self.name} died (exit code {self.process.returncode}, earlier {self.exits}):\n{self.tail()}"
        )

    def tail(self, lines: int = 40) -> str:
        return self.process.tail(lines)


@contextlib.asynccontextmanager
async def running(*services: Service) -> Any:
    """Start the services; stop whatever still runs on the way out, whatever happened."""
    try:
        for service in services:
            await service.start()
        yield services
    finally:
        await asyncio.gather(*(s.stop() for s in services), return_exceptions=True)


# Polled more slowly than the tracker tests do: these checks open Kafka clients, and the machine is
# busy with the services under test.
eventually = functools.partial(tracker_support.eventually, every=0.25)


# --------------------------------------------------------------------------- Kafka


def partitions_of(topics: Iterable[Topic]) -> list[TopicPartition]:
    return [TopicPartition(t.name, p) for t in topics for p in range(t.partitions)]


async def end_offsets(kafka: KafkaLogin, topics: Iterable[Topic]) -> Offsets:
    consumer = AIOKafkaConsumer(**kafka.options())
    await consumer.start()
    try:
        return dict(await consumer.end_offsets(partitions_of(topics)))
    finally:
        await consumer.stop()


async def committed(kafka: KafkaLogin, group: str, partitions: Iterable[TopicPartition]) -> Offsets:
    consumer = AIOKafkaConsumer(**kafka.options(), group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        return {tp: (await consumer.committed(tp)) or 0 for tp in partitions}
    finally:
        await consumer.stop()


async def lag(kafka: KafkaLogin, group: str, ends: Offsets) -> int:
    """How many records up to `ends` the group has yet to read, by the project's one definition of lag."""
    done = await committed(kafka, group, ends)
    consumer = AIOKafkaConsumer(**kafka.options(), enable_auto_commit=False)
    await consumer.start()
    try:
        starts = await consumer.beginning_offsets(list(ends))
    finally:
        await consumer.stop()
    return sum(partition_lag(end, done[tp], starts[tp]) for tp, end in ends.items())


async def publish(
    kafka: KafkaLogin, envelopes: Sequence[Envelope[Event]], *, chunk: int = 1000, pause_s: float = 0.0
) -> None:
    """Publish in order (acks=all, idempotent), `chunk` records at a time with a pause between chunks."""
    producer = AIOKafkaProducer(**kafka.options(), acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        pending: list[Any] = []
        for n, (topic, record) in enumerate(records(list(envelopes)), start=1):
            pending.append(await producer.send(topic, record.value, key=record.key, headers=record.headers))
            if n % chunk == 0:
                await asyncio.gather(*pending)
                pending.clear()
                if pause_s:
                    await asyncio.sleep(pause_s)
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def read_range(
    kafka: KafkaLogin, start: Offsets, end: Offsets, keep: Callable[[ConsumerRecord[bytes, bytes]], bool]
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record from `start` up to (not including) `end`, that `keep` accepts, in partition order."""
    wanted = [tp for tp in start if end.get(tp, 0) > start[tp]]
    if not wanted:
        return []  # (and aiokafka fails to stop a consumer stopped right after its start)
    consumer = AIOKafkaConsumer(**kafka.options(), enable_auto_commit=False, max_poll_records=5000)
    await consumer.start()
    found: list[ConsumerRecord[bytes, bytes]] = []
    try:
        consumer.assign(wanted)
        for tp in wanted:
            consumer.seek(tp, start[tp])
        remaining = set(wanted)
        async with asyncio.timeout(60):
            while remaining:
                for tp, batch in (await consumer.getmany(*remaining, timeout_ms=500)).items():
                    found.extend(r for r in batch if r.offset < end[tp] and keep(r))
                    if batch and batch[-1].offset >= end[tp] - 1:
                        remaining.discard(tp)
    finally:
        await consumer.stop()
    return sorted(found, key=lambda r: (r.topic, r.partition, r.offset))


# --------------------------------------------------------------------------- PostgreSQL


async def inbox_count(engine: AsyncEngine, consumer: str, event_ids: Iterable[str]) -> int:
    """How many of these events the consumer's inbox holds (other tests' events may share the topics)."""
    ids = set(event_ids)
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(processed_event.c.event_id).where(processed_event.c.consumer == consumer)
        )
        return sum(1 for row in rows if row.event_id in ids)


async def table_count(engine: AsyncEngine, table: Any) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)) or 0)

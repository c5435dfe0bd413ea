"""The tracker's throughput against a measured ceiling, and the rebuild of its projection.

Throughput: the event topics are pre-filled with a population of realistic journeys; a bare aiokafka
consumer with the tracker's fetch settings reads them from the beginning and does nothing (the
ceiling: what one Python process on this machine can fetch from this broker); then
``python -m services.tracker consume`` (its own consumer group, an empty migrated database) projects
them, and the time runs from its start until its committed offsets reach the end offsets, and its
outbox of stage changes is published.

Rebuild: ``python -m services.tracker.cli rebuild --database-url <empty database> --processes N``
replays the topics from their beginning; the time runs from its start to its exit.
"""

from __future__ import annotations

import asyncio
import math
import resource
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import func, select

from bench.events import Population, Record, check_sample
from bench.infra import (
    Environment,
    GroupOffsets,
    commit_group_at,
    drop_database,
    end_offsets,
    new_database,
    new_migrated_database,
    new_producer,
    service_env,
    start_service,
)
from contracts.topics import AGENCY_EVENTS, POSTAL_EVENTS
from services.shared.db.engine import make_engine
from services.shared.db.schema import processed_event
from services.shared.kafka_security import PLAINTEXT, KafkaSecurity
from services.tracker.adapters.tables import dossier, event, outbox
from services.tracker.settings import TrackerSettings

TOPICS = (POSTAL_EVENTS, AGENCY_EVENTS)


def members_per_process(replicas: int) -> int:
    """Group members in each of ``replicas`` tracker processes: the default two where the whole group
    still divides the topics' partitions, else the nearest count that does (3 for 4 processes: 12
    members). The round-robin assignor gives partition p of both topics (the same dossiers) to one
    member only then; otherwise most dossiers would be folded by two members in turn, and the scaling
    curve would measure that rather than the processes."""
    default = TrackerSettings.model_fields["consumers"].default
    for members in (default, default + 1, default - 1):
        if members >= 1 and POSTAL_EVENTS.partitions % (replicas * members) == 0:
            return int(members)
    return 1


Say = Callable[[str], None]


# --------------------------------------------------------------------------- filling the topics


@dataclass
class Fill:
    events: int = 0
    dossiers: int = 0
    seconds: float = 0.0
    by_topic: dict[str, int] = field(default_factory=dict)
    bytes: int = 0


_LAST_STAMP = [0]
"""The timestamp (ms) of the last record any fill published: later fills stamp after it."""


async def fill(
    bootstrap: str, population: Population, limit: int, say: Say, security: KafkaSecurity = PLAINTEXT
) -> Fill:
    """Publish the first ``limit`` records of a population in publication order (acks=all).

    Records are stamped one millisecond apart in publication order, ending about now, as live traffic
    is (a dossier's events are hours apart): published in one burst, a dozen records would share each
    millisecond and a consumer catching up could not tell their order across the two topics
    (services.shared.alignment)."""
    started = time.monotonic()
    stamp = max(int(time.time() * 1000) - limit, _LAST_STAMP[0] + 1)
    result = Fill(dossiers=population.count)
    producer = new_producer(bootstrap, security, acks="all", linger_ms=20, enable_idempotence=True)
    await producer.start()
    try:
        pending: list[asyncio.Future[Any]] = []
        sample: list[Record] = []
        for record in population.records(limit):
            pending.append(
                await producer.send(record.topic, record.value, key=record.key, timestamp_ms=stamp)
            )
            _LAST_STAMP[0] = stamp
            stamp += 1
            result.events += 1
            result.bytes += len(record.value)
            result.by_topic[record.topic] = result.by_topic.get(record.topic, 0) + 1
            if result.events % 211 == 0:
                sample.append(record)
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
                say(f"  filled {result.events:,} events")
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    check_sample(sample, every=1)
    result.seconds = time.monotonic() - started
    return result


# --------------------------------------------------------------------------- the ceiling


@dataclass
class Ceiling:
    events: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds


async def ceiling(
    bootstrap: str, starts: dict[TopicPartition, int], expected: int, security: KafkaSecurity = PLAINTEXT
) -> Ceiling:
    """A bare consumer in a group of its own, fetching as the tracker's subscriber does, doing nothing."""
    settings = TrackerSettings()
    ends = await end_offsets(bootstrap, TOPICS, security)
    group = f"bench-ceiling-{uuid.uuid4().hex[:8]}"
    await commit_group_at(bootstrap, group, starts, security)
    consumer = AIOKafkaConsumer(
        *[t.name for t in TOPICS],
        bootstrap_servers=bootstrap,
        **security.client_options(),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.session_timeout_ms,
        max_partition_fetch_bytes=settings.fetch_partition_bytes,
    )
    started = time.monotonic()
    await consumer.start()
    count = 0
    try:
        remaining = {tp for tp, end in ends.items() if end > starts.get(tp, 0)}
        while remaining:
            fetched = await consumer.getmany(
                timeout_ms=settings.batch_timeout_ms, max_records=settings.max_batch
            )
            for records in fetched.values():
                count += len(records)
            for tp in list(remaining):
                if tp in consumer.assignment() and await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        seconds = time.monotonic() - started
    finally:
        await consumer.stop()
    if count < expected:
        raise RuntimeError(f"the ceiling consumer read {count} records, expected at least {expected}")
    return Ceiling(count, seconds)


# --------------------------------------------------------------------------- the tracker


@dataclass
class Throughput:
    events: int
    seconds: float
    """From the start of the process until its committed offsets reached the end."""
    steady_seconds: float
    """From its first committed offset to the end: the rate once running."""
    outbox_seconds: float
    """From the start until every stage change was published as well."""
    peak_rss: int
    """Of the largest process."""
    cpu_seconds: float
    """Of all processes."""
    stored_events: int
    inbox_rows: int
    dossiers: int
    progress: list[tuple[float, int]]

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    @property
    def steady_rate(self) -> float:
        first = next((n for _, n in self.progress if n > 0), 0)
        return (self.events - first) / self.steady_seconds if self.steady_seconds else 0.0


async def tracker_throughput(
    env: Environment,
    starts: dict[TopicPartition, int],
    expected: int,
    say: Say,
    extra_env: dict[str, str] | None = None,
    profile: Path | None = None,
    replicas: int = 1,
) -> Throughput:
    """``python -m services.tracker consume`` from ``starts`` to the end offsets of the event topics;
    with ``replicas``, that many processes in the group share the partitions."""
    database = await new_migrated_database(env.admin_url, "tracker")
    # Within the tracker's own group prefix, which its principal may use on the secured broker.
    group = f"tracker-bench-{uuid.uuid4().hex[:8]}"
    await commit_group_at(env.bootstrap, group, starts, env.security)
    ends = await end_offsets(env.bootstrap, TOPICS, env.security)
    total = sum(end - starts.get(tp, 0) for tp, end in ends.items())
    members = {"TRACKER_CONSUMERS": str(members_per_process(replicas))} if replicas > 1 else {}
    services = [
        start_service(
            f"tracker-consume-{n}" if replicas > 1 else "tracker-consume",
            ["-m", "services.tracker", "consume"],
            service_env(
                env, database, "tracker", TRACKER_CONSUMER_GROUP=group, **members, **(extra_env or {})
            ),
            env.work_dir / "logs",
        )
        for n in range(1, replicas + 1)
    ]
    if profile is not None:
        services[0].profile(profile)
    started = time.monotonic()
    progress: list[tuple[float, int]] = []
    first_commit: float | None = None
    last_report = started
    try:
        async with GroupOffsets(env.bootstrap, env.security) as offsets:
            while True:
                for service in services:
                    service.check_alive()
                committed = await offsets.committed(group)
                done = sum(min(committed.get(tp, 0), end) - starts.get(tp, 0) for tp, end in ends.items())
                now = time.monotonic()
                progress.append((now - started, done))
                if done and first_commit is None:
                    first_commit = now
                if done >= total:
                    break
                if now - last_report >= 10:
                    last_report = now
                    say(f"  tracker: {done:,}/{total:,} events, {done / (now - started):,.0f}/s so far")
                await asyncio.sleep(0.25)
        finished = time.monotonic()
        engine = make_engine(database)
        try:
            while True:
                async with engine.connect() as conn:
                    backlog = await conn.scalar(select(func.count()).select_from(outbox))
                if not backlog:
                    break
                for service in services:
                    service.check_alive()
                await asyncio.sleep(0.1)
            drained = time.monotonic()
            async with engine.connect() as conn:
                stored = await conn.scalar(select(func.count()).select_from(event)) or 0
                dossiers = await conn.scalar(select(func.count()).select_from(dossier)) or 0
                inbox = await conn.scalar(select(func.count()).select_from(processed_event)) or 0
        finally:
            await engine.dispose()
        for service in services:
            service.sample()
    finally:
        await asyncio.gather(*(service.stop() for service in services))
    await drop_database(env.admin_url, database)
    if stored != expected:
        raise RuntimeError(f"the tracker stored {stored} events of the {expected} published")
    return Throughput(
        events=total,
        seconds=finished - started,
        steady_seconds=finished - (first_commit or started),
        outbox_seconds=drained - started,
        peak_rss=max(service.peak_rss for service in services),
        cpu_seconds=sum(service.cpu_s for service in services),
        stored_events=stored,
        inbox_rows=inbox,
        dossiers=dossiers,
        progress=progress,
    )


# --------------------------------------------------------------------------- rebuild


@dataclass
class Rebuild:
    events: int
    seconds: float
    peak_rss: int
    """Of all its processes together (the parent and, with several processes, its children)."""
    largest_rss: int
    """Of its largest process: what each process needs."""
    cpu_seconds: float
    """Of all its processes."""
    stored_events: int
    processes: int = 1

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    @property
    def wall_us_per_event(self) -> float:
        return self.seconds / self.events * 1e6 if self.events else math.nan

    @property
    def cpu_us_per_event(self) -> float:
        return self.cpu_seconds / self.events * 1e6 if self.events else math.nan


def _children_cpu_s() -> float:
    """CPU of every descendant that has exited and been waited for: the rebuild's children exit before
    it does, so sampling the live process tree would miss their last seconds."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


async def rebuild(
    env: Environment,
    expected: int | None,
    say: Say,
    extra_env: dict[str, str] | None = None,
    processes: int = 1,
    profile: Path | None = None,
) -> Rebuild:
    """The rebuild command into an empty database (``--processes``); ``expected`` events stored, when it
    is known. ``profile``: py-spy samples the (first) rebuild process into that file."""
    database = await new_database(env.admin_url, "rebuild")
    ends = await end_offsets(env.bootstrap, TOPICS, env.security)
    total = sum(ends.values())
    cpu_before = _children_cpu_s()
    started = time.monotonic()
    service = start_service(
        "tracker-rebuild" if processes == 1 else f"tracker-rebuild-{processes}",
        [
            "-m",
            "services.tracker.cli",
            "rebuild",
            "--database-url",
            database,
            "--processes",
            str(processes),
        ],
        service_env(env, database, "tracker", **(extra_env or {})),
        env.work_dir / "logs",
    )
    if profile is not None:
        service.profile(profile)
    code = await service.wait()
    seconds = time.monotonic() - started
    # The rebuild and its children, reaped once each has exited (nothing else of the bench exits now);
    # py-spy is reaped after this, so its own CPU is not counted.
    cpu = max(service.cpu_s, _children_cpu_s() - cpu_before)
    await service.profiled()
    if code != 0:
        raise RuntimeError(f"the rebuild exited with {code}:\n{service.log_path.read_text()[-3000:]}")
    engine = make_engine(database)
    try:
        async with engine.connect() as conn:
            stored = await conn.scalar(select(func.count()).select_from(event)) or 0
    finally:
        await engine.dispose()
    await drop_database(env.admin_url, database)
    if expected is not None and stored != expected:
        raise RuntimeError(f"the rebuild stored {stored} events of the {expected} published")
    result = Rebuild(total, seconds, service.peak_rss, service.largest_rss, cpu, stored, processes)
    say(
        f"  rebuild ({processes} process{'es' if processes > 1 else ''}): {total:,} events in "
        f"{seconds:.1f} s, {result.wall_us_per_event:,.0f} µs/event wall, "
        f"{result.cpu_us_per_event:,.0f} µs/event CPU"
    )
    return result

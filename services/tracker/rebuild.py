"""Rebuild the tracker's projection by replaying postal.events.v1 and agency.events.v1 from their
beginning into an empty database, up to the end offsets seen at start. No stage change is published.

A rebuild may be shared by processes (``services.tracker.rebuild_processes``): process i of N replays
the partitions p with p % N == i of every topic. Both topics are keyed by the dossier id and have the
same partition count, so partition p of both holds the same dossiers, and each dossier's events are
replayed, in order, by one process (and inside it, by one lane).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.topics import Topic
from services.shared import heap
from services.shared.alignment import TimeAlignment
from services.shared.consuming import BatchProcessor, DeadLetter, RawRecord
from services.shared.db import migrate
from services.shared.db.engine import make_engine
from services.shared.db.schema import processed_event
from services.shared.kafka_security import PLAINTEXT, KafkaSecurity, kafka_security_of
from services.tracker.adapters import deferred_indexes, repository
from services.tracker.adapters.tables import dossier as dossier_table
from services.tracker.adapters.tables import event as event_table
from services.tracker.app import FULL_COLLECTION_EVERY, agency_due_policy
from services.tracker.consumers import TOPICS, TrackerBatchProcessor
from services.tracker.handlers import PhoneDigest, Projector
from services.tracker.metrics import TrackerMetrics
from services.tracker.settings import TrackerSettings
from services.tracker.write_back import WriteBackViews

Out = Callable[[str], None]


class RebuildRefusedError(Exception):
    """The rebuild cannot start: the target database already holds a tracker projection, or the topics
    cannot be split by partition."""


@dataclass(frozen=True)
class Share:
    """Process ``index`` of ``count``: the partitions p with p % count == index of every topic."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"a share is i/N with 0 <= i < N, not {self}")

    @classmethod
    def parse(cls, text: str) -> Share:
        index, slash, count = text.partition("/")
        try:
            return cls(int(index), int(count)) if slash else cls(-1, 0)
        except ValueError as exc:
            raise ValueError(f"a share is i/N with 0 <= i < N, not {text!r}") from exc

    def partitions(self, partition_count: int) -> list[int]:
        return [p for p in range(partition_count) if p % self.count == self.index]

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


WHOLE = Share(0, 1)


def lanes_of(partitions: Sequence[int], lanes: int) -> list[list[int]]:
    """The partition numbers of each lane, dealt in turn: a process owning every N-th partition keeps
    all its lanes busy (dealing by p % lanes would give process 0 of 2 no odd partition for lane 1)."""
    dealt = [list(partitions[lane::lanes]) for lane in range(lanes)]
    return [mine for mine in dealt if mine]


def common_partition_count(counts: Mapping[str, int]) -> int:
    """The one partition count of every topic; a split by partition number needs it, or one dossier's
    postal and agency events would be replayed by two processes (or lanes) at once."""
    if len(set(counts.values())) != 1:
        described = ", ".join(f"{name} has {n}" for name, n in counts.items())
        raise RebuildRefusedError(
            f"the topics must have the same number of partitions to be replayed by partition: {described}"
        )
    return next(iter(counts.values()))


async def partition_counts(
    bootstrap: str, topics: Sequence[Topic], security: KafkaSecurity = PLAINTEXT
) -> dict[str, int]:
    """How many partitions each topic has on the broker (not in the registry: the split follows the log)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, client_id="tracker-rebuild", **security.client_options()
    )
    await admin.start()
    try:
        # All topics (no list): naming one would let a broker with auto-creation create it.
        described = {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics()}
    finally:
        await admin.close()
    missing = [topic.name for topic in topics if not described.get(topic.name)]
    if missing:
        raise RebuildRefusedError(f"the broker has no topic {', '.join(missing)}")
    return {topic.name: described[topic.name] for topic in topics}


@dataclass
class RebuildSummary:
    records: int = 0
    events: int | None = None
    """Rows in the projection at the end; None for one share of a rebuild (the others still write)."""
    dossiers: int | None = None
    refused: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    processes: int = 1

    def as_dict(self) -> dict[str, Any]:
        counted = {"events": self.events, "dossiers": self.dossiers}
        return {
            "records": self.records,
            **{name: value for name, value in counted.items() if value is not None},
            "refused": dict(self.refused),
            "seconds": round(self.seconds, 3),
            "processes": self.processes,
        }


async def prepare(settings: TrackerSettings, database_url: str) -> None:
    """Migrate the target and refuse it if it already holds tracker events or inbox rows; then drop the
    indexes that only the lookups use, built once at the end (``finish``)."""
    await migrate.upgrade_async(database_url)
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            events = await conn.scalar(select(func.count()).select_from(event_table))
            inbox = await conn.scalar(
                select(func.count())
                .select_from(processed_event)
                .where(processed_event.c.consumer == settings.consumer_group)
            )
        if events or inbox:
            raise RebuildRefusedError(
                f"the database already holds {events} tracker events and {inbox} inbox rows of "
                f"{settings.consumer_group}; rebuild into an empty database"
            )
        await deferred_indexes.drop(engine)
    finally:
        await engine.dispose()


async def finish(database_url: str) -> None:
    """Build the indexes the replay went without (services.tracker.adapters.deferred_indexes)."""
    engine = make_engine(database_url)
    try:
        await deferred_indexes.build(engine)
    finally:
        await engine.dispose()


async def count_projection(database_url: str, summary: RebuildSummary) -> None:
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            summary.events = await conn.scalar(select(func.count()).select_from(event_table)) or 0
            summary.dossiers = await conn.scalar(select(func.count()).select_from(dossier_table)) or 0
    finally:
        await engine.dispose()


async def rebuild(
    settings: TrackerSettings,
    database_url: str,
    *,
    topics: Sequence[Topic] = TOPICS,
    progress: Out | None = None,
    share: Share | None = None,
    capacity: int | None = None,
) -> RebuildSummary:
    """Replay the topics from their beginning into an empty database, up to the end offsets seen at start.

    Records the live consumer dead-lettered are refused again here and only counted (they are on the
    dead-letter topics already); no stage change is published. With ``share``, only that share of the
    partitions, into a database the parent process migrated and found empty (the other shares are
    writing into it meanwhile, so it is neither migrated nor checked here). ``capacity``: the dossier
    views each lane keeps in memory (services.tracker.write_back), by default the setting
    ``rebuild_cache_views``.
    """
    started = time.monotonic()
    counts = await partition_counts(settings.kafka_bootstrap_servers, topics, kafka_security_of(settings))
    count = common_partition_count(counts)
    if share is None:
        await prepare(settings, database_url)
    summary = RebuildSummary()
    engine = repository.tune(make_engine(database_url))
    try:
        heap.settle(full_collection_every=FULL_COLLECTION_EVERY)  # as the live consumer (app.py)
        mine = (share or WHOLE).partitions(count)
        views = settings.rebuild_cache_views if capacity is None else capacity
        lane = functools.partial(_lane_processor, settings, engine, summary, views)
        await _replay(settings, topics, mine, lane, summary, progress)
    finally:
        await engine.dispose()
    if share is None:
        await finish(database_url)
        await count_projection(database_url, summary)
    summary.seconds = time.monotonic() - started
    return summary


@dataclass(frozen=True)
class Lane:
    """One lane's processor and the dossier views it keeps between batches."""

    processor: BatchProcessor
    views: WriteBackViews
    engine: AsyncEngine

    async def write_back(self) -> None:
        """The end of the lane's replay: the rows of the views still in memory, in one transaction."""
        dirty = self.views.everything_dirty()
        if dirty:
            async with self.engine.begin() as conn:
                await repository.upsert_dossiers(conn, dirty)
            self.views.all_written()


def _lane_processor(
    settings: TrackerSettings, engine: AsyncEngine, summary: RebuildSummary, capacity: int
) -> Lane:
    """A processor of its own per lane: its cache of views belongs to the lane's dossiers only, so
    lanes never evict or write each other's. (The fault hook counts one lane's commits.)"""

    async def count_refused(letters: Sequence[DeadLetter], _: str) -> None:
        summary.refused.update(letter.reason for letter in letters)

    metrics = TrackerMetrics(CollectorRegistry())
    projector = Projector(
        due=agency_due_policy(settings),
        digest=PhoneDigest(settings.phone_digest_keys()),
        metrics=metrics,
        publish_stage_changes=False,
        views=(views := WriteBackViews(capacity)),
    )
    # The tracker's processor, for its fault hook (TESTS ONLY, off by default): a test makes one
    # process of a shared rebuild die after a commit, as a crash would.
    processor = TrackerBatchProcessor(
        exit_after_commits=settings.fault_exit_after_commit,
        consumer=settings.consumer_group,
        engine=engine,
        apply=projector,
        dead_letters=count_refused,
        metrics=metrics.consumer,
    )
    return Lane(processor, views, engine)


async def _replay(
    settings: TrackerSettings,
    topics: Sequence[Topic],
    partitions: Sequence[int],
    lane_of: Callable[[], Lane],
    summary: RebuildSummary,
    progress: Out | None,
) -> None:
    """Replay in ``settings.consumers`` lanes at once, as the live consumer's group members share the
    partitions: while one lane waits for PostgreSQL, another decodes and folds. Partition p of every
    topic (the same dossiers) belongs to one lane, so each dossier's events are applied in order."""
    last_report = [time.monotonic()]

    def report(remaining: int) -> None:
        if progress is not None and time.monotonic() - last_report[0] > 5:
            last_report[0] = time.monotonic()
            progress(f"rebuild: {summary.records} records replayed, {remaining} partitions to go in a lane")

    # A lane that fails stops the others, and its error is the rebuild's, as with one lane.
    try:
        async with asyncio.TaskGroup() as lanes_running:
            for lane in lanes_of(partitions, settings.consumers):
                mine = [TopicPartition(topic.name, p) for topic in topics for p in lane]
                lanes_running.create_task(_replay_lane(settings, mine, lane_of(), summary, report))
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None


async def _replay_lane(
    settings: TrackerSettings,
    partitions: Sequence[TopicPartition],
    lane: Lane,
    summary: RebuildSummary,
    report: Callable[[int], None],
) -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_auto_commit=False,
        client_id="tracker-rebuild",
        max_partition_fetch_bytes=settings.fetch_partition_bytes,
        **kafka_security_of(settings).client_options(),
    )
    await consumer.start()
    try:
        consumer.assign(list(partitions))
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, starts[tp])
        remaining = {tp for tp in partitions if ends[tp] > starts[tp]}
        alignment = TimeAlignment()
        # Records held by the alignment are past the consumer's position: replay until none is left.
        while remaining or alignment.holding:
            fetched = (
                await consumer.getmany(*remaining, timeout_ms=1000, max_records=settings.max_batch)
                if remaining
                else {}
            )
            read = [
                record for tp, records in fetched.items() for record in records if record.offset < ends[tp]
            ]
            # Replay the topics merged by time, as they were written (services.shared.alignment).
            batch = [RawRecord.of(record) for record in await alignment.release(consumer, read, ends)]
            if batch:
                await lane.processor.process(batch)
                summary.records += len(batch)
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
            report(len(remaining))
    finally:
        await consumer.stop()
    # Before the summary and the index build (``rebuild``), after every batch of the lane committed.
    await lane.write_back()

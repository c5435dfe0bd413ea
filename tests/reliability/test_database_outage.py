"""PostgreSQL stops while a tracker and a turnaround service consume a stream of events: neither commits an
offset while the database is away (the records wait on Kafka), both retry with growing back-off, and once
the database is back every event is applied exactly once. Stops the session's PostgreSQL and starts it
again before returning."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]  # no stubs
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from contracts.envelope import Envelope
from contracts.events import Event
from contracts.samples import sample_envelope
from contracts.topics import AGENCY_EVENTS, POSTAL_EVENTS
from contracts.values import dossier_id_for_item
from services.shared.consuming import (
    DLT_CONSUMER,
    DLT_DETAIL,
    DLT_REASON,
    Backoff,
    BatchProcessor,
    ConsumerMetrics,
    DeadLetter,
)
from services.shared.db.engine import make_engine
from services.turnaround import domain as clocks
from tests.fixtures.ids import unique_item_id
from tests.fixtures.kafka import KafkaLogin
from tests.fixtures.kafka_groups import start_group_at_end
from tests.fixtures.postgres import PostgresServer
from tests.reliability.expected import compare_tracker, compare_turnaround, events_of
from tests.reliability.support import (
    Service,
    committed,
    end_offsets,
    eventually,
    inbox_count,
    lag,
    publish,
    read_range,
    running,
    tracker_environment,
    turnaround_environment,
)
from tests.reliability.workload import workload
from tests.tracker.support import records_of

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

TOPICS = (POSTAL_EVENTS, AGENCY_EVENTS)
EVENTS = 4000
OUTAGE_S = 8.0
RETRIES = 4  # back-off gaps 0.2, 0.4, 0.8 s: the longest more than twice the shortest


def _retries(log: Path) -> list[datetime]:
    """When the consumer logged that it retries a batch."""
    times = []
    for line in log.read_text(errors="replace").splitlines():
        if '"consumer_retrying"' in line:
            times.append(datetime.fromisoformat(json.loads(line)["time"]))
    return times


async def _restart(server: PostgresServer) -> None:
    try:
        await asyncio.to_thread(server.start)
    except Exception:  # a loaded machine can time a start out; every later test needs the server
        await asyncio.to_thread(server.start)


async def test_while_postgresql_is_down_no_offset_is_committed_and_afterwards_every_event_applies_once(
    migrated_database: str,
    kafka_admin: KafkaLogin,
    turnaround_kafka: KafkaLogin,
    tracker_kafka: KafkaLogin,
    postgres_server: PostgresServer,
    tmp_path: Path,
    seed: int,
) -> None:
    work = workload(seed, EVENTS)
    first, rest = work.events[: EVENTS // 4], work.events[EVENTS // 4 :]
    run = uuid.uuid4().hex[:8]
    groups = {"tracker": f"tracker-pg-{run}", "turnaround": f"turnaround-pg-{run}"}
    dead_letter_topics = [t.dead_letter for t in TOPICS if t.dead_letter is not None]
    dead_letters_start = await end_offsets(kafka_admin, dead_letter_topics)
    start = await start_group_at_end(kafka_admin, groups["tracker"], TOPICS)
    await start_group_at_end(kafka_admin, groups["turnaround"], TOPICS)
    tracker = Service(
        "tracker",
        ["-m", "services.tracker", "consume"],
        tracker_environment(migrated_database, tracker_kafka, groups["tracker"]),
        tmp_path / "tracker.log",
    )
    turnaround = Service(
        "turnaround",
        ["-m", "services.turnaround"],
        turnaround_environment(migrated_database, turnaround_kafka, groups["turnaround"]),
        tmp_path / "turnaround.log",
    )

    async def consumed(group: str) -> int:
        done = await committed(kafka_admin, group, start)
        return sum(done[tp] - start[tp] for tp in start)

    async with running(tracker, turnaround):
        await publish(kafka_admin, first)

        async def both_consumed_the_first_part() -> bool:
            return all([await consumed(g) == len(first) for g in groups.values()])

        await eventually(both_consumed_the_first_part, within=90, what="the first part to be consumed")
        # The rest arrives while the database goes away.
        publishing = asyncio.create_task(publish(kafka_admin, rest, chunk=200, pause_s=0.1))

        async def rest_arriving() -> bool:
            ends = await end_offsets(kafka_admin, TOPICS)
            return sum(ends[tp] - start[tp] for tp in ends) > len(first)

        await eventually(rest_arriving, within=60, what="the rest of the stream to start arriving")
        retried_before = {service.name: len(_retries(service.log)) for service in (tracker, turnaround)}

        def retried_since_stop(service: Service) -> int:
            return len(_retries(service.log)) - retried_before[service.name]

        await asyncio.to_thread(postgres_server.stop)
        try:
            stopped = time.monotonic()
            held: dict[str, int] = {}

            async def both_hold_their_offsets() -> bool:
                # Each consumer has met the outage (it retries a batch), and a batch whose transaction
                # committed just before the stop has had its offsets committed: two reads agree.
                met = all(
                    len(_retries(service.log)) > retried_before[service.name]
                    for service in (tracker, turnaround)
                )
                now = {name: await consumed(group) for name, group in groups.items()}
                steady = now == held
                held.update(now)
                return met and steady

            await eventually(both_hold_their_offsets, within=60, what="both consumers to hold on the outage")

            async def retried_with_back_off() -> bool:
                # Enough retries for the growing gaps to show, and the outage lasts at least OUTAGE_S.
                return time.monotonic() - stopped >= OUTAGE_S and all(
                    retried_since_stop(service) >= RETRIES for service in (tracker, turnaround)
                )

            await eventually(retried_with_back_off, within=120, what="both consumers to retry with back-off")
            still = {name: await consumed(group) for name, group in groups.items()}
            down_s = time.monotonic() - stopped
            ends = await end_offsets(kafka_admin, TOPICS)
            waiting = {name: await lag(kafka_admin, group, ends) for name, group in groups.items()}
        finally:
            await _restart(postgres_server)
        await publishing
        ends = await end_offsets(kafka_admin, TOPICS)
        assert sum(ends[tp] - start[tp] for tp in ends) == EVENTS

        async def caught_up() -> bool:
            for service in (tracker, turnaround):
                await service.check()
            return all([await lag(kafka_admin, g, ends) == 0 for g in groups.values()])

        await eventually(caught_up, within=120, what="both consumers to catch up after the outage")

    assert still == held, "no offset was committed while the database was down"
    assert all(n > 0 for n in waiting.values()), f"records were waiting on Kafka meanwhile: {waiting}"
    for service in (tracker, turnaround):
        retries = _retries(service.log)
        assert len(retries) >= 3, f"{service.name} retried while the database was away:\n{service.tail()}"
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(retries)]
        assert max(gaps) > 2 * min(gaps), f"{service.name} backs off: gaps {gaps}"

    ours = {g.encode() for g in groups.values()}
    dead = await read_range(
        kafka_admin,
        dead_letters_start,
        await end_offsets(kafka_admin, dead_letter_topics),
        lambda r: dict(r.headers).get(DLT_CONSUMER) in ours,
    )
    assert [(dict(r.headers)[DLT_REASON], dict(r.headers)[DLT_DETAIL]) for r in dead][:5] == [], (
        f"seed {seed}: {len(dead)} valid events dead-lettered during the outage"
    )
    log = events_of(
        await read_range(kafka_admin, start, ends, lambda r: r.key is not None and r.key in work.keys)
    )
    engine = make_engine(migrated_database)
    try:
        ids = {str(e.id) for e in work.events}
        lost = {group: EVENTS - await inbox_count(engine, group, ids) for group in groups.values()}
        assert not any(lost.values()), f"seed {seed}: events lost without a dead letter {lost}"
        tracked = await compare_tracker(engine, log)
        assert (tracked.missing, tracked.unexpected, tracked.wrong_rows) == ([], [], []), f"seed {seed}"
        assert tracked.stored_events == EVENTS
        timed = await compare_turnaround(engine, log, clocks.vn_day(datetime.now(UTC)))
        assert (timed.wrong_clocks, timed.wrong_tallies) == ([], {}), f"seed {seed}"
    finally:
        await engine.dispose()
    print(
        f"database outage: {EVENTS} events, PostgreSQL down {down_s:.0f} s with {waiting} records "
        f"waiting, retries {[len(_retries(s.log)) for s in (tracker, turnaround)]}, losses 0"
    )


async def test_a_batch_that_meets_a_database_shutting_down_is_retried_not_dropped(
    migrated_database: str,
) -> None:
    refusals = 2
    url = make_url(migrated_database)

    async def connect() -> asyncpg.Connection:
        nonlocal refusals
        if refusals:
            refusals -= 1
            raise asyncpg.exceptions.CannotConnectNowError("the database system is shutting down")
        return await asyncpg.connect(
            host=url.host, port=url.port, user=url.username, database=url.database, password=url.password
        )

    engine = create_async_engine(migrated_database, async_creator=connect, poolclass=NullPool)
    item_id = unique_item_id("EB")
    events = [sample_envelope("postal.dossier_accepted", dossier_id_for_item(item_id), item_id=item_id)]
    applied: list[str] = []

    async def apply(conn: AsyncConnection, events: Sequence[Envelope[Event]]) -> None:
        applied.extend(str(e.id) for e in events)

    async def dead_letters(letters: Sequence[DeadLetter], consumer: str) -> None:
        raise AssertionError(f"dead-lettered: {[letter.reason for letter in letters]}")

    processor = BatchProcessor(
        consumer="outage-test",
        engine=engine,
        apply=apply,
        dead_letters=dead_letters,
        metrics=ConsumerMetrics(CollectorRegistry()),
        backoff=Backoff(initial_s=0.05, maximum_s=0.2),
    )
    try:
        await processor.process(records_of(events))
    finally:
        await engine.dispose()
    assert applied == [str(events[0].id)]


async def test_a_failure_around_the_handler_of_an_unknown_kind_holds_the_batch_until_it_goes_through(
    migrated_database: str,
) -> None:
    # Publishing the dead letters fails once with an error nobody classified; giving up would let the
    # next batch's offset commit skip this batch, so it is retried instead.
    item_id = unique_item_id("EB")
    events = [sample_envelope("postal.dossier_accepted", dossier_id_for_item(item_id), item_id=item_id)]
    [record] = records_of(events)
    poison = dataclasses.replace(record, offset=record.offset + 1, value=b"{not json")
    applied: list[str] = []
    published: list[str] = []
    failures = 1

    async def apply(conn: AsyncConnection, events: Sequence[Envelope[Event]]) -> None:
        applied.extend(str(e.id) for e in events)

    async def dead_letters(letters: Sequence[DeadLetter], consumer: str) -> None:
        nonlocal failures
        if failures:
            failures -= 1
            raise RuntimeError("something nobody expected")
        published.extend(letter.reason for letter in letters)

    engine = make_engine(migrated_database)
    processor = BatchProcessor(
        consumer=f"unknown-failure-{uuid.uuid4().hex[:8]}",
        engine=engine,
        apply=apply,
        dead_letters=dead_letters,
        metrics=ConsumerMetrics(CollectorRegistry()),
        backoff=Backoff(initial_s=0.05, maximum_s=0.2),
    )
    try:
        await processor.process([record, poison])
    finally:
        await engine.dispose()
    assert applied == [str(events[0].id)]
    assert published == ["malformed_json"]

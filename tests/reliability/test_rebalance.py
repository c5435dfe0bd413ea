"""Tracker replicas join and leave one consumer group while events stream in: every partition changes hands
several times, and still no event is lost or applied twice, and each partition (so each dossier) is applied
in log order — the inbox's first-application times rise with the offsets."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text

from contracts.enums import ServiceForm
from contracts.envelope import decode
from contracts.topics import AGENCY_EVENTS, POSTAL_EVENTS
from services.shared.db.engine import make_engine
from services.shared.db.schema import processed_event
from services.tracker.adapters import repository
from services.tracker.app import build
from tests.reliability.expected import compare_tracker, events_of
from tests.reliability.support import (
    Service,
    end_offsets,
    eventually,
    inbox_count,
    lag,
    publish,
    read_range,
    start_group_at_end,
    tracker_environment,
)
from tests.reliability.workload import workload
from tests.tracker.journeys import journey, new_dossier
from tests.tracker.support import settings_for

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

TOPICS = (POSTAL_EVENTS, AGENCY_EVENTS)
EVENTS = 6000


async def test_replicas_joining_and_leaving_under_load_lose_nothing_and_keep_each_dossiers_order(
    migrated_database: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    seed = random.SystemRandom().randrange(2**31)
    work = workload(seed, EVENTS)
    group = f"tracker-rebalance-{uuid.uuid4().hex[:8]}"
    start = await start_group_at_end(kafka_bootstrap, group, TOPICS)
    env = tracker_environment(migrated_database, kafka_bootstrap, group, TRACKER_MAX_BATCH="200")
    replicas = [
        Service(f"tracker-{n}", ["-m", "services.tracker", "consume"], env, tmp_path / f"{n}.log")
        for n in "abc"
    ]
    a, b, c = replicas
    changes: list[str] = []

    async def step(delay: float, action: str, replica: Service) -> None:
        await asyncio.sleep(delay)
        await (replica.start() if action == "join" else replica.stop())
        changes.append(f"{action} {replica.name}")

    try:
        await a.start()
        publishing = asyncio.create_task(publish(kafka_bootstrap, work.events, chunk=200, pause_s=0.4))
        # Each join and each orderly leave is a rebalance of the group.
        await step(3, "join", b)
        await step(3, "join", c)
        await step(3, "leave", a)
        await step(3, "leave", b)
        await step(2, "join", a)
        await publishing
        ends = await end_offsets(kafka_bootstrap, TOPICS)

        async def caught_up() -> bool:
            for replica in replicas:
                await replica.check()
            return await lag(kafka_bootstrap, group, ends) == 0

        await eventually(caught_up, within=120, what="the group to catch up")
    finally:
        await asyncio.gather(*(r.stop() for r in replicas))

    records = await read_range(
        kafka_bootstrap, start, ends, lambda r: r.key is not None and r.key in work.keys
    )
    assert len(records) == EVENTS
    engine = make_engine(migrated_database)
    try:
        tracked = await compare_tracker(engine, events_of(records))
        assert (tracked.missing, tracked.unexpected) == ([], []), f"seed {seed}: events lost or invented"
        assert tracked.wrong_rows == [], (
            f"seed {seed}: dossier rows lost another replica's update, "
            f"e.g. {list(tracked.differences.items())[:1]}"
        )
        ids = {str(e.id) for e in work.events}
        assert await inbox_count(engine, group, ids) == EVENTS, "each event applied once"

        async with engine.connect() as conn:
            applied_at = {
                row.event_id: row.processed_at
                for row in await conn.execute(
                    select(processed_event.c.event_id, processed_event.c.processed_at).where(
                        processed_event.c.consumer == group
                    )
                )
            }
    finally:
        await engine.dispose()

    by_partition: dict[tuple[str, int], list[datetime]] = defaultdict(list)
    for record in records:  # in offset order
        by_partition[(record.topic, record.partition)].append(
            applied_at[str(decode(record.value, record.key).id)]
        )
    out_of_order = [tp for tp, times in by_partition.items() if times != sorted(times)]
    assert out_of_order == [], f"seed {seed}: records applied before earlier ones of their partition"
    print(f"rebalance: {EVENTS} events, 3 replicas, {len(changes)} membership changes {changes}, losses 0")


async def test_two_replicas_applying_one_dossiers_postal_and_agency_events_at_once_keep_both(
    migrated_database: str,
) -> None:
    tracker = build(settings_for(migrated_database), consume=False)
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    accepted, in_transit, handed_over, received = journey(dossier)[:4]
    try:
        async with tracker.engine.begin() as conn:
            await tracker.projector(conn, [accepted, in_transit])
        postal = await tracker.engine.connect()
        await postal.begin()
        await tracker.projector(postal, [handed_over])  # replica A, not committed yet
        replica_a = await postal.scalar(text("SELECT pg_backend_pid()"))

        async def replica_b() -> None:
            async with tracker.engine.begin() as conn:
                await tracker.projector(conn, [received])

        agency = asyncio.create_task(replica_b())

        async def b_waits_for_a() -> bool:
            # The race only happens if B is blocked on a lock A holds (the dossier's lock) when A commits.
            async with tracker.engine.connect() as conn:
                blocked = await conn.scalar(
                    text("SELECT count(*) FROM pg_stat_activity WHERE :a = ANY(pg_blocking_pids(pid))"),
                    {"a": replica_a},
                )
            assert not agency.done(), "replica B finished without waiting for replica A"
            return bool(blocked)

        await eventually(b_waits_for_a, within=30, what="replica B to wait for replica A's lock")
        await postal.commit()
        await postal.close()
        await asyncio.wait_for(agency, 30)
        async with tracker.engine.connect() as conn:
            row = await repository.get_dossier(conn, dossier.dossier_id)
    finally:
        await tracker.dispose()
    assert row is not None and row.event_count == 4, "the row folds all four events"
    assert row.stage == "RECEIVED"

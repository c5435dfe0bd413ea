"""A tracker and a turnaround service are SIGKILLed at random moments while they consume a stream of
20,000 events of ~2,600 dossiers, and restarted each time. Once they have caught up, their state equals
the one computed from the Kafka log: no event lost, none applied twice, no alert raised twice.

TEST_SEED replays a run (the seed is printed, and named in every failure report); RELIABILITY_EVENTS and
RELIABILITY_KILLS change the size (defaults: 20,000 events, 4 kills of each service).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from contracts.envelope import decode
from contracts.topics import AGENCY_EVENTS, CLOCK_ALERTS, POSTAL_EVENTS, STAGE_CHANGED
from services.shared.db.engine import make_engine
from services.tracker.adapters.tables import dossier as tracker_dossier
from services.tracker.adapters.tables import outbox as tracker_outbox
from services.turnaround import domain as clocks
from services.turnaround.adapters.tables import outbox as turnaround_outbox
from services.turnaround.domain import Threshold
from tests.fixtures.kafka import KafkaLogin
from tests.fixtures.kafka_groups import start_group_at_end
from tests.reliability.expected import (
    alerts_on_topic,
    compare_tracker,
    compare_turnaround,
    events_of,
    raised_alerts,
    stage_entries_published,
)
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
    table_count,
    tracker_environment,
    turnaround_environment,
)
from tests.reliability.workload import workload

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.timeout(420)]

EVENTS = int(os.environ.get("RELIABILITY_EVENTS", "20000"))
KILLS = int(os.environ.get("RELIABILITY_KILLS", "4"))
TOPICS = (POSTAL_EVENTS, AGENCY_EVENTS)


async def _kill_at_random(
    service: Service, rng: random.Random, kills: int, consumed: Callable[[], Awaitable[int]], log: list[str]
) -> None:
    """Once the service has committed progress since its last start (a restarted consumer first rejoins
    its group), let it run 0.2–2 s more, SIGKILL it, and start it again within half a second."""
    for _ in range(kills):

        async def progressed(before: int = await consumed()) -> bool:
            await service.check()
            return await consumed() > before or before == EVENTS

        await eventually(progressed, within=90, what=f"{service.name} to consume", every=0.2)
        await asyncio.sleep(rng.uniform(0.2, 2.0))
        done = await consumed()
        await service.kill()
        log.append(f"SIGKILL {service.name} after {done} records")
        await asyncio.sleep(rng.uniform(0.0, 0.5))
        await service.start()


async def test_consumers_killed_at_random_moments_end_in_the_state_computed_from_the_log(
    migrated_database: str,
    kafka_admin: KafkaLogin,
    turnaround_kafka: KafkaLogin,
    tracker_kafka: KafkaLogin,
    tmp_path: Path,
    seed: int,
) -> None:
    print(f"\nreliability seed {seed}: TEST_SEED={seed} replays this run")
    work = workload(seed, EVENTS)
    run = uuid.uuid4().hex[:8]
    tracker_group, turnaround_group = f"tracker-crash-{run}", f"turnaround-crash-{run}"
    start = await start_group_at_end(kafka_admin, tracker_group, TOPICS)
    await start_group_at_end(kafka_admin, turnaround_group, TOPICS)
    alerts_start = await end_offsets(kafka_admin, [CLOCK_ALERTS])
    changes_start = await end_offsets(kafka_admin, [STAGE_CHANGED])
    tracker = Service(
        "tracker",
        ["-m", "services.tracker", "consume"],
        # Static membership: a restarted tracker takes its partitions back without waiting for a rebalance.
        tracker_environment(
            migrated_database, tracker_kafka, tracker_group, TRACKER_GROUP_INSTANCE_ID=f"crash-{run}"
        ),
        tmp_path / "tracker.log",
    )
    turnaround = Service(
        "turnaround",
        ["-m", "services.turnaround"],
        turnaround_environment(migrated_database, turnaround_kafka, turnaround_group),
        tmp_path / "turnaround.log",
    )
    engine = make_engine(migrated_database)
    faults: list[str] = []
    started = time.monotonic()
    try:
        async with running(tracker, turnaround):
            publishing = asyncio.create_task(publish(kafka_admin, work.events, chunk=250, pause_s=0.4))

            def consumed(group: str) -> Callable[[], Awaitable[int]]:
                async def committed_records() -> int:
                    done = await committed(kafka_admin, group, start)
                    return sum(done[tp] - start[tp] for tp in start)

                return committed_records

            await asyncio.gather(
                _kill_at_random(
                    tracker, random.Random(f"{seed}/tracker"), KILLS, consumed(tracker_group), faults
                ),
                _kill_at_random(
                    turnaround, random.Random(f"{seed}/turnaround"), KILLS, consumed(turnaround_group), faults
                ),
                publishing,
            )
            print(f"crash: published, faults injected after {time.monotonic() - started:.0f} s: {faults}")
            ends = await end_offsets(kafka_admin, TOPICS)
            published = sum(ends[tp] - start[tp] for tp in ends)
            assert published == EVENTS, f"seed {seed}: the stream is on the topics"

            async def caught_up() -> bool:
                for service in (tracker, turnaround):
                    await service.check()
                return (
                    await lag(kafka_admin, tracker_group, ends) == 0
                    and await lag(kafka_admin, turnaround_group, ends) == 0
                    and await table_count(engine, tracker_outbox) == 0
                )

            await eventually(caught_up, within=240, what=f"both groups to catch up (seed {seed})", every=1)
            print(f"crash: caught up after {time.monotonic() - started:.0f} s")
            today = clocks.vn_day(datetime.now(UTC))

            async def alerted() -> bool:
                report = await compare_turnaround(engine, work.by_dossier, today)
                return not report.missing_alerts and await table_count(engine, turnaround_outbox) == 0

            # The turnaround ticks every second: the clocks still open get their alerts, then the relay
            # empties the outbox.
            await eventually(alerted, within=30, what=f"the alerts of the open clocks (seed {seed})", every=1)
        catch_up_s = time.monotonic() - started

        log_records = await read_range(
            kafka_admin, start, ends, lambda r: r.key is not None and r.key in work.keys
        )
        log = events_of(log_records)
        assert sum(map(len, log.values())) == EVENTS

        tracked = await compare_tracker(engine, log)
        assert (tracked.missing, tracked.unexpected) == ([], []), f"seed {seed}: events lost or invented"
        assert tracked.stored_events == tracked.events == EVENTS, f"seed {seed}: each event stored once"
        assert tracked.wrong_rows == [], f"seed {seed}: dossier rows differ from the fold of the log"
        ids = {str(e.id) for e in work.events}
        assert await inbox_count(engine, tracker_group, ids) == EVENTS
        assert await inbox_count(engine, turnaround_group, ids) == EVENTS, f"seed {seed}: each applied once"

        timed = await compare_turnaround(engine, log, today)
        assert timed.wrong_clocks == [], f"seed {seed}: clocks differ from the pure domain's"
        assert timed.wrong_tallies == {}, f"seed {seed}: an event counted twice or not at all"
        assert timed.missing_alerts == [] and timed.wrong_alert_ids == []

        alert_records = await read_range(
            kafka_admin,
            alerts_start,
            await end_offsets(kafka_admin, [CLOCK_ALERTS]),
            lambda r: r.key is not None and r.key in work.keys,
        )
        on_topic = alerts_on_topic(alert_records, await raised_alerts(engine, work.by_dossier))
        assert on_topic.keys_with_two_ids == [], f"seed {seed}: an alert raised twice"
        assert on_topic.unpublished == [], "every alert raised reached Kafka"
        assert on_topic.copies_differ == [], "a re-published alert is the same message"
        # The workload is anchored on today, so its open clocks cross both thresholds while the services run.
        assert on_topic.thresholds[Threshold.DUE_SOON.value] > 0, f"seed {seed}: {on_topic.thresholds}"
        assert on_topic.thresholds[Threshold.OVERDUE.value] > 0, f"seed {seed}: {on_topic.thresholds}"

        # Subscribers of the stage changes end where the tracker ends, for every dossier.
        changes = await read_range(
            kafka_admin,
            changes_start,
            await end_offsets(kafka_admin, [STAGE_CHANGED]),
            lambda r: r.key is not None and r.key in work.keys,
        )
        unannounced, unexpected = stage_entries_published(log, changes)
        assert (unannounced, unexpected) == ([], []), f"seed {seed}: every stage entered announced, once"
        # Subscribers show each message's current stage: the last one heard is where the tracker ends.
        last_heard: dict[str, str] = {}
        for record in changes:  # one partition per dossier, in log order
            change = decode(record.value, record.key)
            last_heard[change.subject] = change.data.current_stage.value  # type: ignore[attr-defined]
        async with engine.connect() as conn:
            final = {
                row.dossier_id: row.stage
                for row in await conn.execute(select(tracker_dossier.c.dossier_id, tracker_dossier.c.stage))
                if row.stage is not None
            }
        assert {d: s for d, s in final.items() if d in work.by_dossier} == last_heard, f"seed {seed}"
    finally:
        await engine.dispose()

    kills = tracker.kills + turnaround.kills
    assert kills == 2 * KILLS
    print(
        f"crash: seed {seed}, {EVENTS} events, {len(work.dossiers)} dossiers, {kills} SIGKILLs "
        f"({tracker.kills} tracker, {turnaround.kills} turnaround), caught up in {catch_up_s:.0f} s; "
        f"losses 0, applied twice 0; {timed.clocks} clocks ({timed.order_dependent} finished before the "
        f"handover arrived, so without its post office), {timed.alerts} alerts, {on_topic.copies} "
        f"re-published alert copies, {len(changes)} stage changes"
    )

"""The rebuild shared by several processes (``rebuild --processes N``), against the real broker and
PostgreSQL: the same projection as one process, a failing child fails the whole rebuild, and a non-empty
target is refused before any child starts."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka.partitioner import DefaultPartitioner
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.enums import ServiceForm
from contracts.envelope import Envelope, kafka_record
from contracts.events import Event
from contracts.topics import POSTAL_EVENTS
from services.shared.db import migrate
from services.shared.db.engine import make_engine
from services.shared.db.schema import processed_event
from services.tracker.adapters import deferred_indexes
from services.tracker.adapters.tables import PROJECTION_TABLES, event, outbox
from services.tracker.rebuild import finish, prepare
from services.tracker.settings import TrackerSettings
from tests.fixtures.kafka import KafkaLogin
from tests.fixtures.postgres import create_database
from tests.tracker.journeys import Dossier, journey, new_dossier
from tests.tracker.support import PYTHON, ROOT, environment_for, publish, publish_raw, settings_for

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.usefixtures("fresh_log")]

PARTITIONS = POSTAL_EVENTS.partitions


@dataclass(frozen=True)
class Run:
    code: int
    out: list[str]
    err: str

    @property
    def summary(self) -> dict[str, Any]:
        return dict(json.loads(self.out[-1]))

    def child_pids(self) -> list[int]:
        return [int(pid) for pid in re.findall(r"started \(pid (\d+)\)", "\n".join(self.out))]


async def rebuild(
    settings: TrackerSettings, target: str, *args: str, within: float = 240.0, **env: str
) -> Run:
    process = await asyncio.create_subprocess_exec(
        PYTHON,
        "-m",
        "services.tracker.cli",
        "rebuild",
        "--database-url",
        target,
        *args,
        cwd=ROOT,
        env=environment_for(settings, **env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), within)
    assert process.returncode is not None
    return Run(process.returncode, out.decode().splitlines(), err.decode())


def partition_of(dossier: Dossier) -> int:
    """Where the producer's default partitioner puts the dossier's events (keyed by its id)."""
    key = kafka_record(journey(dossier)[0]).key
    return int(DefaultPartitioner()(key, list(range(PARTITIONS)), []))


def dossiers_on_every_partition() -> list[Dossier]:
    """New dossiers of every service form until each partition holds at least one."""
    found: list[Dossier] = []
    covered: set[int] = set()
    for form in itertools.cycle(ServiceForm):
        dossier = new_dossier(form)
        found.append(dossier)
        covered.add(partition_of(dossier))
        if len(covered) == PARTITIONS and len(found) >= len(ServiceForm):
            return found
    raise AssertionError("unreachable")


def dossier_on(share: int, of: int) -> Dossier:
    return next(
        d
        for d in (new_dossier(ServiceForm.SEND_AND_RECEIVE) for _ in range(1000))
        if partition_of(d) % of == share
    )


async def table_contents(url: str) -> dict[str, list[tuple[str, ...]]]:
    """Every row of the projection and of the inbox (without the time each event was processed), sorted."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            contents: dict[str, list[tuple[str, ...]]] = {}
            for table in PROJECTION_TABLES:
                rows = (await conn.execute(select(table))).all()
                contents[table.name] = sorted(tuple(map(repr, row)) for row in rows)
            inbox = await conn.execute(select(processed_event.c.consumer, processed_event.c.event_id))
            contents["processed_event"] = sorted(tuple(map(repr, row)) for row in inbox)
            contents["outbox"] = [
                (repr(n),) for n in [await conn.scalar(select(func.count()).select_from(outbox))]
            ]
    finally:
        await engine.dispose()
    return contents


async def index_definitions(url: str) -> dict[str, str]:
    """Every index of the database's public schema, by name: its definition as PostgreSQL prints it."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'")
            )
            return {name: definition for name, definition in rows}
    finally:
        await engine.dispose()


async def count_events(url: str) -> int:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.scalar(select(func.count()).select_from(event)) or 0
    finally:
        await engine.dispose()


def gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "State:\tZ" in state


async def test_a_rebuild_shared_by_two_or_five_processes_equals_the_rebuild_of_one_process(
    kafka_admin: KafkaLogin, tracker_kafka: KafkaLogin, postgres_url: str
) -> None:
    # Five shares of twelve partitions: three of three and two of two, an uneven split.
    dossiers = dossiers_on_every_partition()
    journeys: dict[str, list[Envelope[Event]]] = {d.dossier_id: journey(d) for d in dossiers}
    # A dossier whose events arrive last-first (every one refolds it) and an event the state machine refuses.
    journeys[dossiers[1].dossier_id] = journeys[dossiers[1].dossier_id][::-1]
    anomalous = dossiers[0].envelope("postal.result_delivered", journeys[dossiers[0].dossier_id][-1].time)
    await publish(kafka_admin, [e for events in journeys.values() for e in events] + [anomalous])
    await publish_raw(kafka_admin, POSTAL_EVENTS.name, b"{not json", dossiers[2].dossier_id.encode())
    settings = settings_for(await create_database(postgres_url, "rebuild_one"), tracker_kafka)

    one = await rebuild(settings, settings.database_url)
    targets = {n: await create_database(postgres_url, f"rebuild_{n}") for n in (2, 5)}
    shared = {n: await rebuild(settings, url, "--processes", str(n)) for n, url in targets.items()}

    assert one.code == 0, one.err
    expected = await table_contents(settings.database_url)
    assert {row[0] for row in expected["tracker_dossier"]} >= {repr(i) for i in journeys}, (
        "nothing to compare"
    )
    assert one.summary["processes"] == 1 and one.summary["refused"].get("malformed_json", 0) >= 1
    for n, run in shared.items():
        assert run.code == 0, run.err
        assert len(run.child_pids()) == n
        assert await table_contents(targets[n]) == expected, f"{n} processes"
        for key in ("records", "events", "dossiers", "refused"):
            assert run.summary[key] == one.summary[key], (n, key)
        assert run.summary["rebuild"] == "done" and run.summary["processes"] == n

    # The indexes the replay went without are built at the end, as the migrations define them.
    migrated = await create_database(postgres_url, "rebuild_migrated")
    await migrate.upgrade_async(migrated)
    indexes = await index_definitions(migrated)
    assert {i.name for i in deferred_indexes.deferred()} < set(indexes)
    for url in (settings.database_url, *targets.values()):
        assert await index_definitions(url) == indexes


async def test_the_replay_goes_without_the_listing_indexes_but_keeps_those_the_fold_reads(
    tracker_kafka: KafkaLogin, postgres_url: str
) -> None:
    target = await create_database(postgres_url, "rebuild_prepared")
    settings = settings_for(target, tracker_kafka)
    migrated = await create_database(postgres_url, "rebuild_compared")
    await migrate.upgrade_async(migrated)

    await prepare(settings, target)
    during = await index_definitions(target)
    await finish(target)
    await finish(target)  # building what exists already is harmless

    everything = await index_definitions(migrated)
    left_out = set(everything) - set(during)
    assert left_out == {i.name for i in deferred_indexes.deferred()}
    assert {"ix_tracker_dossier_recent", "ix_tracker_dossier_agency_due", "ix_tracker_party_dossier"} <= (
        left_out
    )
    assert {"ix_tracker_event_dossier", "ix_tracker_anomaly_dossier", "pk_tracker_dossier"} <= set(during)
    assert not any(name.startswith(("ix_post", "ix_agency", "ix_turnaround")) for name in left_out)
    assert await index_definitions(target) == everything


async def test_a_child_that_fails_fails_the_whole_rebuild_and_the_others_are_stopped(
    kafka_admin: KafkaLogin, tracker_kafka: KafkaLogin, postgres_url: str
) -> None:
    # Share 0 of 2 blocks on an event of a dossier the test is inserting and holds uncommitted (a
    # rebuild takes no dossier locks: its COPY of that event's row waits on the key); share 1 exits at
    # its first commit (the tracker's fault hook), so the rebuild can only end by stopping share 0.
    # (Should earlier tests have left enough records on share 0's partitions for a batch without that
    # dossier, share 0 exits at its first commit as well: either way a child failed, and none may
    # outlive the rebuild.)
    held, failing = dossier_on(0, 2), dossier_on(1, 2)
    held_events = journey(held)
    await publish(kafka_admin, held_events + journey(failing))
    target = await create_database(postgres_url, "rebuild_fail")
    await migrate.upgrade_async(target)
    settings = settings_for(target, tracker_kafka)
    engine: AsyncEngine = make_engine(target)
    try:
        async with engine.connect() as conn, conn.begin():
            first = held_events[0]
            await conn.execute(
                insert(event).values(
                    event_id=str(first.id),
                    dossier_id=held.dossier_id,
                    event_type=first.type,
                    version=first.schemaversion,
                    occurred_at=first.time,
                    source=first.source,
                    data={},
                )
            )
            run = await rebuild(
                settings,
                target,
                "--processes",
                "2",
                within=120,
                TRACKER_FAULT_EXIT_AFTER_COMMIT="1",
                TRACKER_CONSUMERS="1",
            )
    finally:
        await engine.dispose()

    assert run.code == 1, run.out
    assert re.search(r"share [01]/2 \(pid \d+\) exited with exit code 75", run.err), run.err
    pids = run.child_pids()
    assert len(pids) == 2 and all(gone(pid) for pid in pids)
    assert not any(line.startswith("{") for line in run.out), "no summary of a failed rebuild"


async def test_a_non_empty_target_is_refused_before_any_child_starts(
    kafka_admin: KafkaLogin, tracker_kafka: KafkaLogin, postgres_url: str
) -> None:
    await publish(kafka_admin, journey(new_dossier(ServiceForm.SEND_DOSSIER)))
    target = await create_database(postgres_url, "rebuild_full")
    await migrate.upgrade_async(target)
    settings = settings_for(target, tracker_kafka)
    engine = make_engine(target)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                insert(processed_event).values(
                    consumer=settings.consumer_group,
                    event_id=str(uuid.uuid4()),
                    processed_at=datetime.now(UTC),
                )
            )
    finally:
        await engine.dispose()

    run = await rebuild(settings, target, "--processes", "2", within=120)

    assert run.code == 1
    assert "rebuild into an empty database" in run.err, run.err
    assert run.child_pids() == []
    assert await count_events(target) == 0, "a child wrote into the refused database"

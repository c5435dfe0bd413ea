"""Operating the tracker as separate processes against the real broker and PostgreSQL: a consumer killed
between its database commit and its offset commit, the dead-letter CLI, and the rebuild CLI."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from contracts.enums import ServiceForm
from contracts.envelope import Envelope, kafka_record
from contracts.events import Event
from contracts.topics import AGENCY_EVENTS, POSTAL_EVENTS, STAGE_CHANGED
from services.shared.db.engine import make_engine
from services.shared.db.schema import processed_event
from services.shared.launcher import ManagedProcess
from services.tracker.adapters import repository
from services.tracker.adapters.tables import event, outbox
from services.tracker.app import Tracker
from services.tracker.consumers import FAULT_EXIT_CODE, TOPICS
from services.tracker.domain import fold
from services.tracker.handlers import to_entry
from services.tracker.settings import TrackerSettings
from tests.fixtures.kafka import KafkaLogin
from tests.fixtures.kafka_groups import start_group_at_end
from tests.fixtures.postgres import create_database
from tests.tracker.journeys import Dossier, journey, new_dossier
from tests.tracker.stages import assert_every_stage_entered_published_once, stage_changes_on_topic
from tests.tracker.support import (
    PYTHON,
    ROOT,
    committed_offsets,
    end_offsets,
    environment_for,
    eventually,
    publish,
    publish_raw,
    read_to_end,
    settings_for,
    snapshot,
    stored_row,
)

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


async def run_cli(
    settings: TrackerSettings, *args: str, within: float = 120.0, login: KafkaLogin | None = None
) -> list[str]:
    """The tracker's CLI with these settings; `login` replaces the tracker's Kafka login (the dead-letter
    commands are the operator's: they run as the admin, who alone reads every dead-letter topic)."""
    process = await asyncio.create_subprocess_exec(
        PYTHON,
        "-m",
        "services.tracker.cli",
        *args,
        cwd=ROOT,
        env={**environment_for(settings), **(login.env() if login else {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), within)
    assert process.returncode == 0, f"cli {args} failed ({process.returncode}): {err.decode()}"
    return out.decode().splitlines()


def start_consumer(settings: TrackerSettings, log: Path, **extra: str) -> ManagedProcess:
    """`python -m services.tracker consume` with these settings, started by the project's launcher."""
    consumer = ManagedProcess(
        "tracker consume",
        [PYTHON, "-m", "services.tracker", "consume"],
        log_path=log,
        env=environment_for(settings, **extra),
        cwd=ROOT,
    )
    consumer.start()
    return consumer


def expected_rows(
    settings_digest: Any, due: Any, journeys: dict[str, list[Envelope[Event]]]
) -> dict[str, Any]:
    return {
        dossier_id: stored_row(fold(dossier_id, [to_entry(e, settings_digest) for e in events], due))
        for dossier_id, events in journeys.items()
    }


async def stored_rows(url: str, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            rows = {i: await repository.get_dossier(conn, i) for i in ids}
    finally:
        await engine.dispose()
    return {i: dict(row._mapping) for i, row in rows.items() if row is not None}


@pytest.fixture
async def reference_tracker(migrated_database: str) -> AsyncIterator[Tracker]:
    """A tracker used only for its fold inputs (digest and due policy), as the subprocesses build them."""
    from services.tracker.app import build

    built = build(settings_for(migrated_database), consume=False)
    yield built
    await built.dispose()


async def test_a_consumer_killed_between_its_database_commit_and_its_offset_commit_ends_in_the_same_state(
    migrated_database: str,
    kafka_admin: KafkaLogin,
    tracker_kafka: KafkaLogin,
    reference_tracker: Tracker,
    tmp_path: Path,
) -> None:
    settings = settings_for(migrated_database, tracker_kafka)
    starts = await start_group_at_end(kafka_admin, settings.consumer_group, TOPICS)
    changes_start = await end_offsets(kafka_admin, STAGE_CHANGED)
    dossiers = [new_dossier(form) for form in ServiceForm]
    journeys = {d.dossier_id: journey(d) for d in dossiers}
    total = sum(map(len, journeys.values()))
    await publish(kafka_admin, [e for events in journeys.values() for e in events])
    # Static membership: the restarted process takes the partitions over at once.
    instance = {"TRACKER_GROUP_INSTANCE_ID": f"tracker-{uuid.uuid4().hex[:8]}"}

    log = tmp_path / "consumer.log"
    crashing = start_consumer(settings, log, TRACKER_FAULT_EXIT_AFTER_COMMIT="1", **instance)
    assert await crashing.wait(90) == FAULT_EXIT_CODE, log.read_text()

    engine = make_engine(migrated_database)
    try:
        async with engine.connect() as conn:
            kept = await conn.scalar(select(func.count()).select_from(event))
        assert kept and kept > 0, "the first batch was committed to the database"
        assert await committed_offsets(kafka_admin, settings.consumer_group, starts) == starts, (
            "and its offsets never reached Kafka"
        )

        restarted = start_consumer(settings, log, **instance)
        try:

            async def caught_up() -> bool:
                async with engine.connect() as conn:
                    stored = await conn.scalar(select(func.count()).select_from(event))
                    pending = await conn.scalar(select(func.count()).select_from(outbox))
                committed = await committed_offsets(kafka_admin, settings.consumer_group, starts)
                ends = {
                    **await end_offsets(kafka_admin, POSTAL_EVENTS),
                    **await end_offsets(kafka_admin, AGENCY_EVENTS),
                }
                return stored == total and pending == 0 and all(committed[tp] >= ends[tp] for tp in starts)

            await eventually(caught_up, within=90, what="the restarted consumer to catch up")
        finally:
            await restarted.stop(30)

        async with engine.connect() as conn:
            inbox = await conn.scalar(
                select(func.count())
                .select_from(processed_event)
                .where(processed_event.c.consumer == settings.consumer_group)
            )
        assert inbox == total, "each event applied once, though the first batch was delivered twice"
    finally:
        await engine.dispose()
    assert await stored_rows(migrated_database, journeys) == expected_rows(
        reference_tracker.digest, reference_tracker.due, journeys
    )
    keys = {d.dossier_id.encode() for d in dossiers}
    # The outbox was empty once caught up: every stage change is on the topic by now.
    published = stage_changes_on_topic(await read_to_end(kafka_admin, changes_start, lambda r: r.key in keys))
    for dossier in dossiers:
        assert_every_stage_entered_published_once(
            reference_tracker, dossier, journeys[dossier.dossier_id], published[dossier.dossier_id]
        )


@pytest.mark.usefixtures("fresh_dead_letters")
async def test_dead_letters_are_listed_without_their_bytes_and_republished_after_a_fix(
    live_tracker: Tracker, kafka_admin: KafkaLogin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    accepted = journey(dossier)[0]
    registered = new_dossier(ServiceForm.RECEIVE_RESULT)
    registration = journey(registered)[0]
    garbled = kafka_record(accepted).value.replace(b'"specversion"', b'"specversion', 1)

    class Broken:
        """A bug in the due-date policy: the projector fails on registrations for return."""

        def agency_due(self, procedure_code: str, filed_at: datetime) -> date | None:
            raise RuntimeError("bug")

    monkeypatch.setattr(live_tracker.projector, "_due", Broken())
    await publish_raw(kafka_admin, POSTAL_EVENTS.name, garbled, dossier.dossier_id.encode())
    await publish(kafka_admin, [registration])

    group = live_tracker.settings.consumer_group

    async def listed() -> list[dict[str, Any]]:
        lines = await run_cli(
            live_tracker.settings,
            "dead-letters",
            "list",
            "--json",
            "--consumer",
            group,
            "--topic",
            POSTAL_EVENTS.name,
            "--topic",
            AGENCY_EVENTS.name,
            login=kafka_admin,
        )
        found = [json.loads(line) for line in lines]
        return found if len(found) >= 2 else []

    letters = {
        letter["key"]: letter for letter in await eventually(listed, within=60, what="two dead letters")
    }
    garbled_letter = letters[dossier.dossier_id]
    assert garbled_letter["reason"] == "malformed_json"
    assert garbled_letter["original_topic"] == POSTAL_EVENTS.name and garbled_letter["bytes"] == len(garbled)
    assert "payload" not in garbled_letter, "the bytes (personal data) are not shown unless asked for"
    failed = letters[registered.dossier_id]
    assert failed["reason"] == "processing_failed" and failed["original_topic"] == AGENCY_EVENTS.name

    # The message is fixed by hand; the projector's bug is fixed by a release.
    fixed = tmp_path / "fixed.json"
    fixed.write_bytes(kafka_record(accepted).value)
    monkeypatch.undo()
    await run_cli(
        live_tracker.settings,
        "dead-letters",
        "republish",
        "--topic",
        POSTAL_EVENTS.name,
        "--offset",
        str(garbled_letter["offset"]),
        "--value-file",
        str(fixed),
        login=kafka_admin,
    )
    await run_cli(
        live_tracker.settings,
        "dead-letters",
        "republish",
        "--topic",
        AGENCY_EVENTS.name,
        "--offset",
        str(failed["offset"]),
        login=kafka_admin,
    )

    async def applied() -> bool:
        async with live_tracker.engine.connect() as conn:
            rows = [await repository.get_dossier(conn, d.dossier_id) for d in (dossier, registered)]
        return all(row is not None and row.stage is not None for row in rows)

    await eventually(applied, what="the re-published events to be applied")


@pytest.mark.usefixtures("fresh_log")
async def test_a_rebuild_from_the_kafka_log_into_an_empty_database_equals_the_live_projection(
    live_tracker: Tracker, kafka_admin: KafkaLogin, postgres_url: str
) -> None:
    dossiers: list[Dossier] = [new_dossier(form) for form in ServiceForm]
    journeys = {d.dossier_id: journey(d) for d in dossiers}
    late = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    shuffled = journey(late)[::-1]
    journeys[late.dossier_id] = shuffled
    anomalous = dossiers[0].envelope("postal.result_delivered", journeys[dossiers[0].dossier_id][-1].time)
    await publish(kafka_admin, [e for events in journeys.values() for e in events] + [anomalous])

    async def live_done() -> bool:
        rows = await stored_rows(live_tracker.settings.database_url, journeys)
        return (
            len(rows) == len(journeys)
            and sum(r["event_count"] for r in rows.values()) == sum(map(len, journeys.values())) + 1
        )

    await eventually(live_done, what="the live projection")
    target = await create_database(postgres_url, "rebuild")

    lines = await run_cli(live_tracker.settings, "rebuild", "--database-url", target, within=240)

    summary = json.loads(lines[-1])
    assert summary["rebuild"] == "done" and summary["events"] >= len(journeys)
    rebuilt = make_engine(target)
    try:
        assert await snapshot(rebuilt, journeys) == await snapshot(live_tracker.engine, journeys)
        async with rebuilt.connect() as conn:
            assert await conn.scalar(select(func.count()).select_from(outbox)) == 0, (
                "a rebuild publishes nothing"
            )
    finally:
        await rebuilt.dispose()

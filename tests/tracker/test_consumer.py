"""The tracker consuming from the real broker into PostgreSQL: journeys, duplicates, out-of-order arrival,
anomalies and poison messages, and the stage changes it publishes."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from contracts.enums import ServiceForm, Stage
from contracts.envelope import Envelope, kafka_record
from contracts.events import Event, StageChanged
from contracts.topics import POSTAL_EVENTS, STAGE_CHANGED
from services.shared.consuming import DLT_REASON, DLT_TOPIC
from services.tracker.adapters import repository
from services.tracker.adapters.tables import event, outbox
from services.tracker.app import Tracker, build
from services.tracker.consumers import TOPICS
from services.tracker.domain import fold
from services.tracker.handlers import to_entry
from tests.fixtures.kafka import KafkaLogin
from tests.fixtures.kafka_groups import start_group_at_end
from tests.tracker.journeys import Dossier, journey, new_dossier
from tests.tracker.stages import assert_every_stage_entered_published_once, stage_changes_on_topic
from tests.tracker.support import (
    end_offsets,
    eventually,
    publish,
    publish_raw,
    read_from,
    read_to_end,
    settings_for,
    stored_row,
)

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


async def settled(tracker: Tracker, dossier: Dossier, events: int) -> Any:
    async def check() -> Any:
        async with tracker.engine.connect() as conn:
            row = await repository.get_dossier(conn, dossier.dossier_id)
        return row if row is not None and row.event_count >= events else None

    return await eventually(check, within=120, what=f"{events} events of {dossier.dossier_id}")


def expected_row(tracker: Tracker, dossier: Dossier, events: list[Envelope[Event]]) -> dict[str, Any]:
    view = fold(dossier.dossier_id, [to_entry(e, tracker.digest) for e in events], tracker.due)
    return stored_row(view)


async def drained(tracker: Tracker, dossiers: list[Dossier]) -> None:
    """Wait until every stage change of these dossiers left the outbox, i.e. Kafka acknowledged it."""
    ids = [d.dossier_id for d in dossiers]

    async def empty() -> bool:
        async with tracker.engine.connect() as conn:
            left = await conn.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.dossier_id.in_(ids))
            )
        return left == 0

    await eventually(empty, what="the outbox relay to publish every stage change")


async def test_each_service_form_is_tracked_to_the_end_of_its_journey_and_every_stage_entered_is_published(
    live_tracker: Tracker, kafka_admin: KafkaLogin
) -> None:
    dossiers = [new_dossier(form) for form in ServiceForm]
    journeys = {d.dossier_id: journey(d) for d in dossiers}
    start = await end_offsets(kafka_admin, STAGE_CHANGED)

    await publish(kafka_admin, [e for d in dossiers for e in journeys[d.dossier_id]])

    for dossier in dossiers:
        row = await settled(live_tracker, dossier, len(journeys[dossier.dossier_id]))
        assert dict(row._mapping) == expected_row(live_tracker, dossier, journeys[dossier.dossier_id])
    await drained(live_tracker, dossiers)
    keys = {d.dossier_id.encode() for d in dossiers}
    records = await read_to_end(kafka_admin, start, lambda r: r.key in keys)
    assert all(dict(r.headers)["ce_type"] == b"tracker.stage_changed" for r in records)
    published = stage_changes_on_topic(records)
    for dossier in dossiers:
        assert_every_stage_entered_published_once(
            live_tracker, dossier, journeys[dossier.dossier_id], published[dossier.dossier_id]
        )
    assert live_tracker.registry.get_sample_value("tracker_outbox_backlog") == 0


async def test_every_event_delivered_twice_is_kept_once_and_publishes_its_stage_change_once(
    live_tracker: Tracker, kafka_admin: KafkaLogin
) -> None:
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    events = journey(dossier)
    start = await end_offsets(kafka_admin, STAGE_CHANGED)

    await publish(kafka_admin, events)
    await publish(kafka_admin, events[::-1])

    row = await settled(live_tracker, dossier, len(events))
    await eventually(
        lambda: _at_least(live_tracker, len(events)), what="every redelivered event to be read as a duplicate"
    )
    await drained(live_tracker, [dossier])
    records = await read_to_end(kafka_admin, start, lambda r: r.key == dossier.dossier_id.encode())
    async with live_tracker.engine.connect() as conn:
        history = await conn.scalar(
            select(func.count()).select_from(event).where(event.c.dossier_id == dossier.dossier_id)
        )
    assert history == len(events) == row.event_count
    assert dict(row._mapping) == expected_row(live_tracker, dossier, events)
    ids = [Envelope[StageChanged].model_validate_json(r.value).id for r in records]
    assert len(ids) == len(set(ids)), "each stage change published once"
    assert_every_stage_entered_published_once(
        live_tracker, dossier, events, stage_changes_on_topic(records)[dossier.dossier_id]
    )


async def _at_least(tracker: Tracker, count: int) -> bool:
    found = tracker.registry.get_sample_value(
        "dossier_consumer_records_total",
        {"consumer": tracker.settings.consumer_group, "outcome": "duplicate"},
    )
    return found is not None and found >= count


async def test_stages_learned_out_of_order_across_a_restart_are_each_announced_once_marked_late(
    migrated_database: str, kafka_admin: KafkaLogin, tracker_kafka: KafkaLogin
) -> None:
    """The worst order across the two topics: each dossier's acceptance and all its agency events are
    folded (and their stages announced) before the postal events that come between them, and the
    tracker is stopped and started again in between."""
    settings = settings_for(migrated_database, tracker_kafka)
    await start_group_at_end(kafka_admin, settings.consumer_group, TOPICS)
    start = await end_offsets(kafka_admin, STAGE_CHANGED)
    dossiers = [new_dossier(form) for form in ServiceForm for _ in range(2)]
    journeys = {d.dossier_id: journey(d) for d in dossiers}
    starts = {"postal.dossier_accepted"}
    first_part = [
        e
        for d in dossiers
        for e in journeys[d.dossier_id]
        if e.type.startswith("agency.") or e.type in starts
    ]
    rest = [e for d in dossiers for e in journeys[d.dossier_id] if e not in first_part]

    first = build(settings)
    try:
        async with first.consuming():
            await publish(kafka_admin, first_part)
            count = len(first_part)
            await eventually(lambda: _applied(first, count), within=120, what=f"{count} events applied")
    finally:
        await first.dispose()
    second = build(settings)
    try:
        async with second.consuming():
            await publish(kafka_admin, rest)
            for dossier in dossiers:
                await settled(second, dossier, len(journeys[dossier.dossier_id]))
            await drained(second, dossiers)
        keys = {d.dossier_id.encode() for d in dossiers}
        published = stage_changes_on_topic(await read_to_end(kafka_admin, start, lambda r: r.key in keys))
        for dossier in dossiers:
            assert_every_stage_entered_published_once(
                second, dossier, journeys[dossier.dossier_id], published[dossier.dossier_id]
            )
            late = {c.data.to_stage for c in published[dossier.dossier_id] if c.data.late}
            if dossier.form is not ServiceForm.RECEIVE_RESULT:
                # Its receipt was announced before the handover that precedes it was learned.
                assert Stage.HANDED_TO_AGENCY in late, (dossier.form, late)
    finally:
        await second.dispose()


async def _applied(tracker: Tracker, count: int) -> bool:
    async with tracker.engine.connect() as conn:
        stored = await conn.scalar(select(func.count()).select_from(event))
    return (stored or 0) >= count


async def test_events_from_offline_scanners_arriving_out_of_order_take_their_place_in_the_history(
    live_tracker: Tracker, kafka_admin: KafkaLogin
) -> None:
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    events = journey(dossier)
    shuffled = events[:]
    random.Random(5).shuffle(shuffled)

    for envelope in shuffled:  # one at a time, so most land in batches of their own
        await publish(kafka_admin, [envelope])

    row = await settled(live_tracker, dossier, len(events))
    assert dict(row._mapping) == expected_row(live_tracker, dossier, events)
    assert row.stage == Stage.DELIVERED.value and row.anomaly_count == 0


async def test_an_event_that_contradicts_the_state_machine_is_kept_flagged_and_counted(
    live_tracker: Tracker, kafka_admin: KafkaLogin
) -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    events = journey(dossier)
    pickup = dossier.envelope("postal.result_picked_up", events[-1].time + timedelta(hours=1))
    after = new_dossier(ServiceForm.SEND_DOSSIER)

    await publish(kafka_admin, [*events, pickup, *journey(after)[:2]])

    row = await settled(live_tracker, dossier, len(events) + 1)
    assert row.stage == Stage.RESULT_READY.value and row.anomaly_count == 1
    await settled(live_tracker, after, 2)
    assert (
        live_tracker.registry.get_sample_value("tracker_anomalies_total", {"reason": "wrong_service_form"})
        == 1
    )


async def test_poison_goes_to_the_dead_letter_topic_with_its_reason_and_bytes_and_the_consumer_goes_on(
    live_tracker: Tracker, kafka_admin: KafkaLogin
) -> None:
    dlt = POSTAL_EVENTS.dead_letter
    assert dlt is not None
    dlt_start = await end_offsets(kafka_admin, dlt)
    malformed = new_dossier(ServiceForm.SEND_DOSSIER)
    invalid = new_dossier(ServiceForm.SEND_DOSSIER)
    follower = new_dossier(ServiceForm.SEND_DOSSIER)
    bad_data = json.loads(kafka_record(journey(invalid)[0]).value)
    bad_data["data"]["inbound_due_date"] = "not a date"

    await publish_raw(
        kafka_admin, POSTAL_EVENTS.name, b'{"specversion": "1.0", "id": ', malformed.dossier_id.encode()
    )
    await publish_raw(
        kafka_admin, POSTAL_EVENTS.name, json.dumps(bad_data).encode(), invalid.dossier_id.encode()
    )
    await publish(kafka_admin, journey(follower)[:1])

    await settled(live_tracker, follower, 1)
    keys = {malformed.dossier_id.encode(), invalid.dossier_id.encode()}
    letters = {r.key: r for r in await read_from(kafka_admin, dlt_start, lambda r: r.key in keys, 2)}
    first = dict(letters[malformed.dossier_id.encode()].headers)
    assert first[DLT_REASON] == b"malformed_json" and first[DLT_TOPIC] == POSTAL_EVENTS.name.encode()
    assert letters[malformed.dossier_id.encode()].value == b'{"specversion": "1.0", "id": '
    assert dict(letters[invalid.dossier_id.encode()].headers)[DLT_REASON] == b"invalid_data"
    for key in keys:
        async with live_tracker.engine.connect() as conn:
            assert await repository.get_dossier(conn, key.decode()) is None

"""The projection in PostgreSQL, fed through the shared batch processor as the consumer feeds it: each
form's journey, redelivery, out-of-order batches, anomalies, stage changes in the outbox, no personal data."""

from __future__ import annotations

import itertools
import json
import random
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text

from contracts.enums import CustodyHolderKind, ServiceForm, Stage
from contracts.envelope import Envelope
from contracts.events import Event, StageChanged
from contracts.samples import SAMPLE_ADDRESS, SAMPLE_AGENCY, SAMPLE_APPLICANT, SAMPLE_POST_OFFICE
from services.shared.db.schema import processed_event
from services.tracker.adapters import repository
from services.tracker.adapters.tables import anomaly, event, outbox
from services.tracker.app import Tracker
from services.tracker.domain import fold
from services.tracker.handlers import to_entry
from tests.tracker.journeys import Dossier, journey, new_dossier
from tests.tracker.stages import assert_every_stage_entered_published_once, published
from tests.tracker.support import records_of, snapshot, stored_row

pytestmark = pytest.mark.postgres

FINAL = {
    ServiceForm.SEND_DOSSIER: (Stage.RESULT_READY, CustodyHolderKind.AGENCY),
    ServiceForm.SEND_AND_RECEIVE: (Stage.DELIVERED, CustodyHolderKind.CITIZEN),
    ServiceForm.RECEIVE_RESULT: (Stage.DELIVERED, CustodyHolderKind.CITIZEN),
}


async def feed(tracker: Tracker, envelopes: list[Envelope[Event]], offset: int = 0) -> None:
    await tracker.processor.process(records_of(envelopes, offset))


async def row_of(tracker: Tracker, dossier_id: str) -> Any:
    async with tracker.engine.connect() as conn:
        return await repository.get_dossier(conn, dossier_id)


async def published_changes(tracker: Tracker, dossier_id: str) -> list[StageChanged]:
    async with tracker.engine.connect() as conn:
        payloads = (
            await conn.execute(
                select(outbox.c.payload).where(outbox.c.dossier_id == dossier_id).order_by(outbox.c.seq)
            )
        ).scalars()
        return [Envelope[StageChanged].model_validate_json(p).data for p in payloads]


async def expected_row(
    tracker: Tracker, dossier: Dossier, envelopes: list[Envelope[Event]]
) -> dict[str, Any]:
    view = fold(dossier.dossier_id, [to_entry(e, tracker.digest) for e in envelopes], tracker.due)
    return stored_row(view)


@pytest.mark.parametrize("form", list(ServiceForm))
async def test_a_journey_is_projected_with_its_stage_custody_history_and_stage_changes(
    tracker: Tracker, form: ServiceForm
) -> None:
    dossier = new_dossier(form)
    events = journey(dossier)

    await feed(tracker, events)

    row = await row_of(tracker, dossier.dossier_id)
    stage, holder = FINAL[form]
    assert (row.stage, row.custody_kind) == (stage.value, holder.value)
    assert row.event_count == len(events) and row.anomaly_count == 0
    assert dict(row._mapping) == await expected_row(tracker, dossier, events)
    changes = await published_changes(tracker, dossier.dossier_id)
    assert changes[0].from_stage is None and changes[-1].to_stage is stage
    assert all(b.from_stage == a.to_stage for a, b in itertools.pairwise(changes))
    assert {c.cause_event_id for c in changes} <= {e.id for e in events}


async def test_a_redelivered_batch_and_duplicates_within_a_batch_change_nothing(tracker: Tracker) -> None:
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    events = journey(dossier)
    await feed(tracker, [*events[:5], events[2], events[4]])
    before = await snapshot(tracker.engine, [dossier.dossier_id])
    changes = await published_changes(tracker, dossier.dossier_id)

    await feed(tracker, events[:5])
    await feed(tracker, [events[3], events[1]])

    assert await snapshot(tracker.engine, [dossier.dossier_id]) == before
    assert await published_changes(tracker, dossier.dossier_id) == changes
    async with tracker.engine.connect() as conn:
        history = await conn.scalar(
            select(func.count()).select_from(event).where(event.c.dossier_id == dossier.dossier_id)
        )
        inbox = await conn.scalar(
            select(func.count())
            .select_from(processed_event)
            .where(processed_event.c.consumer == tracker.settings.consumer_group)
        )
    assert history == inbox == 5


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_events_arriving_out_of_order_one_batch_each_end_as_the_ordered_history_implies(
    tracker: Tracker, seed: int
) -> None:
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    events = journey(dossier)
    shuffled = events[:]
    random.Random(seed).shuffle(shuffled)

    for n, envelope in enumerate(shuffled):
        await feed(tracker, [envelope], n)

    row = await row_of(tracker, dossier.dossier_id)
    assert dict(row._mapping) == await expected_row(tracker, dossier, events)
    assert row.stage == Stage.DELIVERED.value and row.anomaly_count == 0
    async with tracker.engine.connect() as conn:
        left = await conn.scalar(
            select(func.count()).select_from(anomaly).where(anomaly.c.dossier_id == dossier.dossier_id)
        )
    assert left == 0, "anomalies of events that arrived early are cleared once the history is complete"
    messages = await published(tracker, dossier.dossier_id)
    assert messages[-1].data.current_stage is Stage.DELIVERED
    assert_every_stage_entered_published_once(tracker, dossier, events, messages)


async def test_each_dossier_folded_again_for_a_late_event_is_counted_once_per_batch(tracker: Tracker) -> None:
    first, second = new_dossier(ServiceForm.SEND_AND_RECEIVE), new_dossier(ServiceForm.SEND_AND_RECEIVE)
    one, two = journey(first), journey(second)

    def refolds() -> float:
        return tracker.registry.get_sample_value("tracker_refolds_total") or 0.0

    await feed(tracker, [*one[:2], *one[3:5], *two[:3]], 0)
    assert refolds() == 0, "in order: each fold resumes from the stored row"
    await feed(tracker, [one[2], *two[3:5]], 10)  # one[2] sorts before one[3] and one[4]
    assert refolds() == 1
    await feed(tracker, [*one[5:], *two[5:]], 20)
    assert refolds() == 1


async def test_an_anomaly_is_kept_counted_and_cleared_when_the_missing_event_arrives(
    tracker: Tracker,
) -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    events = journey(dossier)
    metric = tracker.registry.get_sample_value

    await feed(tracker, [events[2]])
    row = await row_of(tracker, dossier.dossier_id)
    assert row.stage is None and row.anomaly_count == 1
    assert metric("tracker_anomalies_total", {"reason": "no_start_event"}) == 1

    await feed(tracker, [events[0]], 1)
    row = await row_of(tracker, dossier.dossier_id)
    assert row.stage == Stage.HANDED_TO_AGENCY.value and row.anomaly_count == 0
    assert metric("tracker_anomalies_cleared_total", {"reason": "no_start_event"}) == 1
    assert metric("tracker_events_applied_total", {"type": "postal.dossier_accepted"}) == 1


async def test_an_event_that_contradicts_the_state_machine_is_kept_and_the_batch_goes_on(
    tracker: Tracker,
) -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    events = journey(dossier)
    wrong = dossier.envelope("postal.result_delivered", events[3].time + timedelta(minutes=5))

    await feed(tracker, [*events[:4], wrong, *events[4:]])

    row = await row_of(tracker, dossier.dossier_id)
    assert row.stage == Stage.RESULT_READY.value and row.event_count == len(events) + 1
    async with tracker.engine.connect() as conn:
        flagged = (
            await conn.execute(select(anomaly).where(anomaly.c.dossier_id == dossier.dossier_id))
        ).one()
    assert (flagged.event_id, flagged.reason) == (str(wrong.id), "wrong_service_form")


async def test_a_result_picked_up_before_it_was_ready_is_listed_and_counted_with_its_own_reason(
    tracker: Tracker,
) -> None:
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    events = journey(dossier)
    ready = next(e for e in events if e.type == "agency.result_ready")
    pickup = next(e for e in events if e.type == "postal.result_picked_up")
    early = dossier.envelope(pickup.type, ready.time - timedelta(minutes=30))
    before = [e for e in events if e.time < early.time]

    await feed(tracker, [*before, early])
    await feed(tracker, [ready], len(before) + 1)

    async with tracker.engine.connect() as conn:
        flagged = (
            await conn.execute(select(anomaly).where(anomaly.c.dossier_id == dossier.dossier_id))
        ).all()
    assert [(row.event_id, row.reason) for row in flagged] == [(str(early.id), "picked_up_before_ready")]
    metric = tracker.registry.get_sample_value
    assert metric("tracker_anomalies_total", {"reason": "picked_up_before_ready"}) == 1
    row = await row_of(tracker, dossier.dossier_id)
    assert row.stage == Stage.RESULT_PICKED_UP.value and row.anomaly_count == 1


async def test_staff_scopes_are_recorded_for_every_office_and_agency_that_handled_the_dossier(
    tracker: Tracker,
) -> None:
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)

    await feed(tracker, journey(dossier))

    async with tracker.engine.connect() as conn:
        parties = await repository.parties_of(conn, dossier.dossier_id)
        references = dict(await repository.references_of(conn, dossier.dossier_id))
    assert set(parties) == {
        ("AGENCY", SAMPLE_AGENCY),
        ("POST_OFFICE", SAMPLE_POST_OFFICE),
        ("POST_OFFICE", "100900"),
    }
    assert references[dossier.item_id] == "DOSSIER_ITEM"
    assert references[dossier.result_item_id] == "RESULT_ITEM"
    assert references[dossier.agency_dossier_code] == "AGENCY_DOSSIER_CODE"


async def test_no_personal_data_of_the_applicant_reaches_any_tracker_table(tracker: Tracker) -> None:
    dossiers = [new_dossier(form) for form in ServiceForm]
    await feed(tracker, [e for d in dossiers for e in journey(d)])

    dumped = []
    async with tracker.engine.connect() as conn:
        for name in (
            "tracker_dossier",
            "tracker_event",
            "tracker_anomaly",
            "tracker_party",
            "tracker_reference",
            "tracker_outbox",
        ):
            rows = (await conn.execute(text(f"SELECT * FROM {name}"))).mappings().all()
            dumped.append(json.dumps([dict(r) for r in rows], default=str, ensure_ascii=False))
    everything = "\n".join(dumped)
    assert everything.count(dossiers[0].dossier_id) > 0
    for value in (
        SAMPLE_APPLICANT.name,
        SAMPLE_APPLICANT.phone,
        SAMPLE_APPLICANT.id_number,
        SAMPLE_ADDRESS.line,
    ):
        assert value is not None and value not in everything

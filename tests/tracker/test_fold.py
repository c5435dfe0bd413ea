"""The fold of a dossier's ordered history: stage, custody, dates and anomalies for each service form."""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from contracts.enums import CustodyHolderKind, ItemKind, Leg, ServiceForm, Stage
from contracts.envelope import Envelope, decode, encode
from contracts.events import EVENT_TYPES, CustodyHolder, Event, StageChanged
from contracts.samples import SAMPLE_ADDRESS, SAMPLE_AGENCY, SAMPLE_APPLICANT, sample_envelope
from contracts.sources import TRACKER_SOURCE
from services.tracker.adapters.repository import dossier_row, view_of
from services.tracker.domain import (
    AnomalyReason,
    Custody,
    DossierView,
    HistoryEntry,
    fold,
    history_entry,
    resume,
    stage_changes,
    stage_entries,
    without_personal_data,
)
from services.tracker.handlers import (
    STAGE_CHANGED_NAMESPACE,
    PhoneDigest,
    stage_changed_id,
    stage_changed_payload,
    stage_changed_record,
    to_entry,
)
from tests.tracker.journeys import START, Dossier, journey, new_dossier

DIGEST = PhoneDigest([b"k" * 32])


class FixedDue:
    """Ten calendar days after the filing day: enough to see which filing the due date counts from."""

    def agency_due(self, procedure_code: str, filed_at: datetime) -> date | None:
        return filed_at.date() + timedelta(days=10)


def entries(envelopes: list[Envelope[Event]]) -> list[HistoryEntry]:
    return [to_entry(envelope, DIGEST) for envelope in envelopes]


def fold_of(dossier: Dossier, envelopes: list[Envelope[Event]]) -> DossierView:
    return fold(dossier.dossier_id, entries(envelopes), FixedDue())


def reasons(view: DossierView) -> list[tuple[str, AnomalyReason]]:
    return [(step.entry.event_type, step.anomaly.reason) for step in view.steps if step.anomaly]


def test_send_dossier_journey_ends_with_the_result_ready_at_the_agency_for_collection_in_person() -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)

    view = fold_of(dossier, journey(dossier))

    assert view.stage is Stage.RESULT_READY
    assert view.custody == Custody(CustodyHolderKind.AGENCY, SAMPLE_AGENCY, SAMPLE_AGENCY)
    assert not view.is_open and view.clock is None
    assert view.anomalies == ()
    assert view.service_form is ServiceForm.SEND_DOSSIER
    assert view.item_id == dossier.item_id and view.agency_dossier_code == dossier.agency_dossier_code
    assert view.outcome == "APPROVED"
    assert view.closed_at == START + timedelta(hours=5)


def test_send_and_receive_journey_ends_delivered_to_the_citizen() -> None:
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    events = journey(dossier)

    view = fold_of(dossier, events)

    assert view.stage is Stage.DELIVERED
    assert view.custody == Custody(CustodyHolderKind.CITIZEN, None, None)
    assert view.anomalies == ()
    assert view.result_item_id == dossier.result_item_id
    assert view.delay_notified and view.agency_due_date == date(2025, 4, 3)
    assert view.first_attempt_at == events[11].time and view.failed_attempts == 1
    assert view.delivered_at == events[-1].time and not view.is_open
    assert view.phone_digest == DIGEST.of(dossier.dossier_id, SAMPLE_APPLICANT.phone[-4:])


def test_receive_result_journey_starts_at_the_agency_and_ends_delivered() -> None:
    dossier = new_dossier(ServiceForm.RECEIVE_RESULT)

    view = fold_of(dossier, journey(dossier))

    assert view.stage is Stage.DELIVERED
    assert view.service_form is ServiceForm.RECEIVE_RESULT
    assert view.anomalies == ()
    assert view.item_id is None and view.result_item_id == dossier.result_item_id
    assert view.phone_digest is not None


@pytest.mark.parametrize("form", list(ServiceForm))
def test_every_stage_of_a_journey_names_who_holds_the_dossier(form: ServiceForm) -> None:
    dossier = new_dossier(form)

    view = fold_of(dossier, journey(dossier))

    assert all(step.stage is not None and step.custody is not None for step in view.steps)


def test_each_leg_runs_its_own_clock_with_its_own_due_date() -> None:
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    events = journey(dossier)

    def clock_after(n: int) -> tuple[Leg, date | None] | None:
        return fold_of(dossier, events[:n]).clock

    assert clock_after(1) == (Leg.INBOUND_POSTAL, date(2025, 3, 18))
    # Handed over: the due date counts from the signing time until the agency reports its own.
    assert clock_after(3) == (Leg.AGENCY_PROCESSING, date(2025, 3, 27))
    assert clock_after(4) == (Leg.AGENCY_PROCESSING, date(2025, 3, 27))
    assert clock_after(5) is None, "a supplement request stops the agency clock"
    # The supplement restarts the clock from zero at its arrival (20/3 in the sample): 10 days on.
    assert clock_after(6) == (Leg.AGENCY_PROCESSING, date(2025, 3, 30))
    assert clock_after(8) == (Leg.AGENCY_PROCESSING, date(2025, 4, 3)), "the delay notice moves it"
    assert clock_after(9) is None, "the result waits for pickup"
    assert clock_after(10) == (Leg.RETURN_POSTAL, date(2025, 3, 31))
    assert clock_after(12) is None, "the first delivery attempt ends the return clock"


def test_registration_for_return_counts_the_agency_due_date_from_the_filing() -> None:
    dossier = new_dossier(ServiceForm.RECEIVE_RESULT)

    view = fold_of(dossier, journey(dossier)[:1])

    assert view.stage is Stage.RECEIVED
    assert view.clock == (Leg.AGENCY_PROCESSING, date(2025, 3, 24))
    assert view.expected_date == date(2025, 3, 24)


@pytest.mark.parametrize("form", list(ServiceForm))
def test_any_arrival_order_folds_to_the_same_dossier(form: ServiceForm) -> None:
    dossier = new_dossier(form)
    events = journey(dossier)
    expected = fold_of(dossier, events)
    rng = random.Random(7)

    for _ in range(20):
        shuffled = events[:]
        rng.shuffle(shuffled)
        assert fold_of(dossier, shuffled) == expected


def test_a_handover_and_a_receipt_stamped_with_the_same_instant_keep_their_journey_order() -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    events = journey(dossier)[:4]
    same = events[2].time
    events = [*events[:3], dossier.envelope("agency.dossier_received", same)]

    view = fold_of(dossier, events)

    assert view.stage is Stage.RECEIVED and view.anomalies == ()


def test_an_event_before_the_acceptance_is_an_anomaly_until_the_acceptance_arrives() -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    events = journey(dossier)

    orphan = fold_of(dossier, events[2:3])
    complete = fold_of(dossier, events[:3])

    assert orphan.stage is None and orphan.custody is None
    assert reasons(orphan) == [("postal.dossier_handed_to_agency", AnomalyReason.NO_START_EVENT)]
    assert complete.stage is Stage.HANDED_TO_AGENCY and complete.anomalies == ()


def test_a_missed_scan_is_flagged_but_custody_follows_the_handover_that_happened() -> None:
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    events = journey(dossier)
    without_out_for_delivery = [*events[:10], events[14]]

    view = fold_of(dossier, without_out_for_delivery)

    assert view.stage is Stage.DELIVERED
    assert view.custody is not None and view.custody.kind is CustodyHolderKind.CITIZEN
    assert reasons(view) == [("postal.result_delivered", AnomalyReason.SKIPPED_STAGES)]


def test_an_event_that_would_move_the_dossier_backwards_is_kept_without_moving_it() -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    events = journey(dossier)
    late_scan = dossier.envelope("postal.dossier_in_transit", events[4].time + timedelta(minutes=1), 5)

    view = fold_of(dossier, [*events[:5], late_scan])

    assert view.stage is Stage.PROCESSING
    assert view.custody == Custody(CustodyHolderKind.AGENCY, SAMPLE_AGENCY, SAMPLE_AGENCY)
    assert reasons(view) == [("postal.dossier_in_transit", AnomalyReason.OUT_OF_SEQUENCE)]
    assert view.event_count == 6


def test_events_after_delivery_are_anomalies_and_do_not_reopen_the_journey() -> None:
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    events = journey(dossier)
    after = dossier.envelope("agency.dossier_processing", events[-1].time + timedelta(days=1), 9)

    view = fold_of(dossier, [*events, after])

    assert view.stage is Stage.DELIVERED and not view.is_open
    assert reasons(view) == [("agency.dossier_processing", AnomalyReason.AFTER_CLOSE)]


def test_a_return_leg_event_on_a_send_dossier_form_is_off_the_form() -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    events = journey(dossier)[:5]
    pickup = dossier.envelope("postal.result_picked_up", events[-1].time + timedelta(hours=1))

    view = fold_of(dossier, [*events, pickup])

    assert view.stage is Stage.PROCESSING
    assert reasons(view) == [("postal.result_picked_up", AnomalyReason.WRONG_SERVICE_FORM)]


def test_a_second_delay_notice_is_recorded_but_does_not_move_the_due_date() -> None:
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    events = journey(dossier)[:8]
    second = dossier.envelope(
        "agency.delay_notified",
        events[-1].time + timedelta(hours=1),
        1,
        previous_due_date=date(2025, 4, 3),
        new_due_date=date(2025, 4, 10),
    )

    view = fold_of(dossier, [*events, second])

    assert view.agency_due_date == date(2025, 4, 3)
    assert reasons(view) == [("agency.delay_notified", AnomalyReason.SECOND_DELAY_NOTICE)]


def test_a_second_acceptance_under_another_event_id_does_not_restart_the_dossier() -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    events = journey(dossier)[:3]
    again = dossier.envelope("postal.dossier_accepted", events[-1].time + timedelta(hours=1), 1)

    view = fold_of(dossier, [*events, again])

    assert view.stage is Stage.HANDED_TO_AGENCY
    assert reasons(view) == [("postal.dossier_accepted", AnomalyReason.DUPLICATE_START)]


def test_a_supplement_received_without_a_request_is_out_of_sequence() -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    events = journey(dossier)[:4]
    supplement = dossier.envelope("agency.supplement_received", events[-1].time + timedelta(hours=1))

    view = fold_of(dossier, [*events, supplement])

    assert view.stage is Stage.RECEIVED
    assert reasons(view) == [("agency.supplement_received", AnomalyReason.OUT_OF_SEQUENCE)]


def test_a_supplement_travelling_by_post_moves_nothing_while_the_dossier_waits_at_the_agency() -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    events = journey(dossier)[:4]
    at = events[-1].time
    requested = dossier.envelope("agency.supplement_requested", at + timedelta(hours=1))
    carried = dossier.envelope(
        "postal.dossier_in_transit", at + timedelta(hours=2), 7, item_kind=ItemKind.SUPPLEMENT
    )
    handed = dossier.envelope(
        "postal.dossier_handed_to_agency", at + timedelta(hours=3), 7, item_kind=ItemKind.SUPPLEMENT
    )

    view = fold_of(dossier, [*events, requested, carried, handed])

    assert view.stage is Stage.AWAITING_SUPPLEMENT and view.anomalies == ()
    assert view.custody is not None and view.custody.kind is CustodyHolderKind.AGENCY


def test_a_result_picked_up_before_the_agency_reported_it_ready_is_flagged_once_and_moves_on() -> None:
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    events = journey(dossier)
    ready = next(e for e in events if e.type == "agency.result_ready")
    pickup = next(e for e in events if e.type == "postal.result_picked_up")
    # By occurrence times the post picked the result up an hour before the agency reported it ready.
    early = dossier.envelope(pickup.type, ready.time - timedelta(minutes=30))
    history = [early if e is pickup else e for e in events]

    view = fold_of(dossier, history)

    assert reasons(view) == [("postal.result_picked_up", AnomalyReason.PICKED_UP_BEFORE_READY)]
    assert view.stage is Stage.DELIVERED and view.result_ready_at == ready.time
    assert view.picked_up_at == early.time


def test_a_pickup_after_the_result_ready_is_no_anomaly_whatever_order_the_reports_arrive_in() -> None:
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    events = journey(dossier)

    assert reasons(fold_of(dossier, events[::-1])) == []


def test_a_result_ready_reported_after_a_refused_dossier_was_picked_up_stays_out_of_sequence() -> None:
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    events = journey(dossier)[:4]
    refused = dossier.envelope("agency.dossier_refused", events[-1].time + timedelta(hours=1))
    pickup = dossier.envelope("postal.result_picked_up", refused.time + timedelta(hours=1))
    ready = dossier.envelope("agency.result_ready", pickup.time + timedelta(hours=1))

    view = fold_of(dossier, [*events, refused, pickup, ready])

    assert reasons(view) == [("agency.result_ready", AnomalyReason.OUT_OF_SEQUENCE)]
    assert view.stage is Stage.RESULT_PICKED_UP and view.result_ready_at is None


def test_a_lost_dossier_is_closed_with_the_post_answering_for_it() -> None:
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    events = journey(dossier)[:2]
    lost = dossier.envelope("postal.item_lost", events[-1].time + timedelta(hours=1))

    view = fold_of(dossier, [*events, lost])

    assert view.stage is Stage.LOST and not view.is_open
    assert view.custody is not None and view.custody.kind is CustodyHolderKind.POST_OFFICE


def announced_then_published(
    dossier: Dossier, known: list[HistoryEntry], arrived: list[HistoryEntry]
) -> list[tuple[Stage | None, Stage, str, bool, Stage | None]]:
    """What the tracker publishes when ``arrived`` joins the history it knew: (from, to, cause, late,
    current) of each message."""
    before = fold(dossier.dossier_id, known)
    after = fold(dossier.dossier_id, [*known, *arrived])
    return [
        (c.entry.from_stage, c.entry.to_stage, c.entry.cause.event_type, c.late, c.current_stage)
        for c in stage_changes(stage_entries(before), stage_entries(after), after.stage)
    ]


def test_appended_events_each_publish_their_stage_change() -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    events = entries(journey(dossier))

    assert announced_then_published(dossier, events[:2], events[2:4]) == [
        (Stage.IN_TRANSIT, Stage.HANDED_TO_AGENCY, "postal.dossier_handed_to_agency", False, Stage.RECEIVED),
        (Stage.HANDED_TO_AGENCY, Stage.RECEIVED, "agency.dossier_received", False, Stage.RECEIVED),
    ]


def test_a_late_transit_scan_is_announced_once_marked_late_beside_the_current_stage() -> None:
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    events = entries(journey(dossier))
    # The result's transit scan after pickup: the result stays with the post, now at a facility.
    carried = next(
        e for e in events if e.event_type == "postal.dossier_in_transit" and e.data["item_kind"] == "RESULT"
    )
    known = [e for e in events if e is not carried]

    assert announced_then_published(dossier, known[:10], [carried]) == [
        (
            Stage.RESULT_PICKED_UP,
            Stage.RESULT_IN_TRANSIT,
            "postal.dossier_in_transit",
            False,
            Stage.RESULT_IN_TRANSIT,
        )
    ]
    assert announced_then_published(dossier, known, [carried]) == [
        (Stage.RESULT_PICKED_UP, Stage.RESULT_IN_TRANSIT, "postal.dossier_in_transit", True, Stage.DELIVERED)
    ]
    assert announced_then_published(dossier, events, []) == []


def test_the_agency_receipt_folded_before_the_handover_it_follows_announces_the_handover_late() -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    accepted, carried, handed, received, *_ = entries(journey(dossier))
    known = [accepted, carried, received]

    assert announced_then_published(dossier, [accepted, carried], [received]) == [
        (Stage.IN_TRANSIT, Stage.RECEIVED, "agency.dossier_received", False, Stage.RECEIVED)
    ]
    assert announced_then_published(dossier, known, [handed]) == [
        (Stage.IN_TRANSIT, Stage.HANDED_TO_AGENCY, "postal.dossier_handed_to_agency", True, Stage.RECEIVED)
    ]


def test_a_late_acceptance_announces_every_stage_its_history_entered_once() -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    events = entries(journey(dossier))
    known = events[2:4]

    assert fold(dossier.dossier_id, known).stage is None
    assert announced_then_published(dossier, known, [events[0]]) == [
        (None, Stage.ACCEPTED, "postal.dossier_accepted", False, Stage.RECEIVED),
        (Stage.ACCEPTED, Stage.HANDED_TO_AGENCY, "postal.dossier_handed_to_agency", False, Stage.RECEIVED),
        (Stage.HANDED_TO_AGENCY, Stage.RECEIVED, "agency.dossier_received", False, Stage.RECEIVED),
    ]


def test_a_repeated_report_that_leaves_the_stage_where_it_was_enters_no_stage() -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    events = journey(dossier)
    processing = next(e for e in events if e.type == "agency.dossier_processing")
    again = dossier.envelope(processing.type, processing.time + timedelta(minutes=5), 1)
    known = entries([e for e in events if e.time <= processing.time])

    view = fold(dossier.dossier_id, [*known, *entries([again])])

    assert [(e.to_stage, e.cause.event_type) for e in stage_entries(view)] == [
        (Stage.ACCEPTED, "postal.dossier_accepted"),
        (Stage.IN_TRANSIT, "postal.dossier_in_transit"),
        (Stage.HANDED_TO_AGENCY, "postal.dossier_handed_to_agency"),
        (Stage.RECEIVED, "agency.dossier_received"),
        (Stage.PROCESSING, "agency.dossier_processing"),
    ]
    assert announced_then_published(dossier, known, entries([again])) == []


def test_a_stage_entry_keeps_its_id_whatever_stage_it_was_first_reached_from() -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    accepted, carried, handed, received, *_ = entries(journey(dossier))
    skipped = stage_entries(fold(dossier.dossier_id, [accepted, carried, received]))[-1]
    full = stage_entries(fold(dossier.dossier_id, [accepted, carried, handed, received]))[-1]

    assert (skipped.from_stage, full.from_stage) == (Stage.IN_TRANSIT, Stage.HANDED_TO_AGENCY)
    assert skipped.key == full.key
    assert stage_changed_id(skipped) == stage_changed_id(full)
    assert stage_changed_id(full) != stage_changed_id(replace(full, to_stage=Stage.PROCESSING))
    assert stage_changed_id(full) != stage_changed_id(replace(full, dossier_id=str(uuid.uuid4())))


# The erasure events are kept by no one in the tracker (services.tracker.handlers.ERASURES): not listed.
@pytest.mark.parametrize("key", [key for key in EVENT_TYPES if not key[0].endswith(".personal_data_erased")])
def test_no_personal_data_is_kept_of_any_event(key: tuple[str, int]) -> None:
    kept = json.dumps(without_personal_data(sample_envelope(key).data), ensure_ascii=False)

    for value in (
        SAMPLE_APPLICANT.name,
        SAMPLE_APPLICANT.phone,
        SAMPLE_APPLICANT.id_number,
        SAMPLE_ADDRESS.line,
        "applicant",
        "delivery_address",
    ):
        assert value is not None and value not in kept


@pytest.mark.parametrize("form", list(ServiceForm))
def test_a_fold_resumed_from_the_stored_row_equals_the_fold_of_the_whole_history(form: ServiceForm) -> None:
    dossier = new_dossier(form)
    events = journey(dossier)
    stray = dossier.envelope("agency.dossier_processing", events[-1].time + timedelta(hours=1), 3)
    history = entries([*events, stray])
    whole = fold(dossier.dossier_id, history, FixedDue())

    for split in range(len(history) + 1):
        stored = view_of(dossier_row(fold(dossier.dossier_id, history[:split], FixedDue())))
        resumed = resume(stored, history[split:], FixedDue())
        assert replace(resumed, steps=()) == replace(whole, steps=()), f"split at {split}"
        assert dossier_row(resumed) == dossier_row(whole)


def test_resuming_with_an_event_that_sorts_before_the_last_one_is_refused() -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    history = entries(journey(dossier))

    with pytest.raises(ValueError, match="fold the history"):
        resume(fold(dossier.dossier_id, history[2:]), history[:1])


@pytest.mark.parametrize("form", list(ServiceForm))
def test_every_stage_change_published_is_a_valid_contract_event(form: ServiceForm) -> None:
    dossier = new_dossier(form)
    view = fold(dossier.dossier_id, entries(journey(dossier)), FixedDue())

    changes = stage_changes([], stage_entries(view), view.stage)
    assert changes
    for n, change in enumerate(changes):
        change = replace(change, late=n % 2 == 1)
        entry = change.entry
        event_id, payload = stage_changed_payload(change)
        expected = Envelope.new(
            StageChanged(
                from_stage=entry.from_stage,
                to_stage=entry.to_stage,
                custody=CustodyHolder(kind=entry.custody.kind, code=entry.custody.code),
                cause_event_id=uuid.UUID(entry.cause.event_id),
                cause_event_type=entry.cause.event_type,
                late=change.late,
                current_stage=view.stage,
            ),
            subject=dossier.dossier_id,
            source=TRACKER_SOURCE,
            time=entry.cause.occurred_at,
            id=event_id,
        )
        decoded = decode(payload.encode(), dossier.dossier_id.encode())
        assert decoded == Envelope[StageChanged].model_validate_json(encode(expected))


@pytest.mark.parametrize("form", list(ServiceForm))
def test_the_outbox_record_of_a_stage_change_is_its_payload_under_the_uuid5_of_dossier_cause_and_stage(
    form: ServiceForm,
) -> None:
    # The projector writes stage_changed_record; subscribers deduplicate by the id every earlier
    # version published: uuid5 of the namespace and "dossier/cause/stage".
    dossier = new_dossier(form)
    view = fold(dossier.dossier_id, entries(journey(dossier)), FixedDue())
    changes = stage_changes([], stage_entries(view), view.stage)
    assert changes
    for change in changes:
        entry = change.entry
        expected = uuid.uuid5(
            STAGE_CHANGED_NAMESPACE, f"{entry.dossier_id}/{entry.cause.event_id}/{entry.to_stage.value}"
        )
        assert stage_changed_record(change) == (str(expected), stage_changed_payload(change)[1])
        assert stage_changed_id(entry) == expected


def test_a_history_entry_made_for_the_projection_equals_hashes_and_replaces_as_a_constructed_one() -> None:
    values = {
        "event_id": str(uuid.uuid4()),
        "dossier_id": str(uuid.uuid4()),
        "event_type": "postal.dossier_accepted",
        "version": 2,
        "occurred_at": datetime(2025, 3, 14, 2, 30, tzinfo=UTC),
        "source": "/post-offices/100000",
        "data": {"item_id": "EB000000001VN"},
    }
    made, constructed = history_entry(**values), HistoryEntry(**values)  # type: ignore[arg-type]

    assert made == constructed
    assert hash((made.event_id, made.sort_key)) == hash((constructed.event_id, constructed.sort_key))
    assert made.phone_digest is None
    assert replace(made, version=3) == replace(constructed, version=3)
    with pytest.raises(AttributeError):
        made.version = 3  # type: ignore[misc]  # still frozen

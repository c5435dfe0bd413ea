"""The tracker's rules at their edges: the facts each event brings to a dossier, who holds it after each
event, the anomaly an operator reads, the counts of the stored row, and the references and parties
that lead to a dossier. Pure: no broker, no database (these are the fast tests of the mutation run of
services/tracker/domain.py, beside test_fold.py)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from contracts.enums import CustodyHolderKind, ItemKind, ServiceForm, Stage
from contracts.envelope import Envelope
from contracts.events import Event
from contracts.events.base import PERSONAL_DATA
from contracts.samples import SAMPLE_AGENCY, SAMPLE_POST_OFFICE, SAMPLE_PROCEDURE, VIETNAM
from services.tracker.domain import (
    Anomaly,
    AnomalyReason,
    Custody,
    DossierView,
    HistoryEntry,
    PartyKind,
    ReferenceKind,
    fold,
    parties,
    references,
    resume,
    without_personal_data,
)
from services.tracker.handlers import PhoneDigest, to_entry
from tests.fixtures.ids import unique_item_id
from tests.tracker.journeys import START, Dossier, journey, new_dossier

DIGEST = PhoneDigest([b"k" * 32])
OTHER_PROCEDURE = "2.000111"
SAMPLE_FACILITY = "100900"
SAMPLE_COURIER = "courier-0011"
TARGET_DAYS = {SAMPLE_PROCEDURE: 10, OTHER_PROCEDURE: 3}


class ProcedureDue:
    """The catalog as the handlers back it: the target of the dossier's own procedure, in calendar days
    here; None for a procedure it does not know."""

    def agency_due(self, procedure_code: str, filed_at: datetime) -> date | None:
        days = TARGET_DAYS.get(procedure_code)
        return None if days is None else filed_at.date() + timedelta(days=days)


class AnyProcedureDue:
    """A policy that counts ten days whatever it is asked about, so a fold that asks it without knowing
    the dossier's procedure shows."""

    def agency_due(self, procedure_code: str, filed_at: datetime) -> date | None:
        return filed_at.date() + timedelta(days=10)


def entry(envelope: Envelope[Event], **data: Any) -> HistoryEntry:
    """The history entry of an event; ``data`` changes (or with None, removes) fields of what is kept,
    for data the contracts no longer produce but the history may hold (older or newer producers)."""
    kept = to_entry(envelope, DIGEST)
    if not data:
        return kept
    changed = {**kept.data, **data}
    return replace(kept, data={name: value for name, value in changed.items() if value is not None})


def fold_entries(dossier: Dossier, history: list[HistoryEntry], due: Any = None) -> DossierView:
    return fold(dossier.dossier_id, history, due or ProcedureDue())


def fold_events(dossier: Dossier, events: list[Envelope[Event]], due: Any = None) -> DossierView:
    return fold_entries(dossier, [entry(e) for e in events], due)


def only_anomaly(view: DossierView) -> Anomaly:
    assert len(view.anomalies) == 1, view.anomalies
    return view.anomalies[0]


def at(hours: float) -> datetime:
    return START + timedelta(hours=hours)


# --------------------------------------------------------------------------- facts of each event


def test_an_acceptance_records_the_procedure_the_destination_agency_the_origin_office_and_the_time() -> None:
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    accepted = journey(dossier)[0]

    view = fold_events(dossier, [accepted])

    assert view.stage is Stage.ACCEPTED and view.stage_since == accepted.time
    assert view.service_form is ServiceForm.SEND_AND_RECEIVE
    assert view.procedure_code == SAMPLE_PROCEDURE
    assert view.agency_code == SAMPLE_AGENCY
    assert view.origin_post_office == SAMPLE_POST_OFFICE
    assert view.item_id == dossier.item_id
    assert view.accepted_at == accepted.time
    assert view.inbound_due_date == date(2025, 3, 18)
    assert view.is_open and view.closed_at is None


def test_an_acceptance_naming_a_form_this_tracker_does_not_know_leaves_the_form_unknown() -> None:
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    events = journey(dossier)
    # A newer post office may offer a form this tracker does not know: the dossier is still tracked.
    accepted = entry(events[0], service_form="SEND_BY_DRONE")
    pickup = entry(dossier.envelope("postal.result_picked_up", at(1)))

    view = fold_entries(dossier, [accepted, pickup])

    assert view.service_form is None and view.stage is Stage.ACCEPTED
    anomaly = only_anomaly(view)
    assert anomaly.reason is AnomalyReason.WRONG_SERVICE_FORM and anomaly.event_id == pickup.event_id
    assert "service form unknown has no return leg" in anomaly.detail


def test_a_return_leg_event_off_the_form_says_which_form_the_dossier_has() -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    events = [*journey(dossier)[:1], dossier.envelope("postal.result_picked_up", at(1))]

    anomaly = only_anomaly(fold_events(dossier, events))

    assert anomaly.reason is AnomalyReason.WRONG_SERVICE_FORM
    assert "service form SEND_DOSSIER has no return leg" in anomaly.detail


def test_a_registration_for_return_records_the_filing_the_receipt_and_the_appointment() -> None:
    dossier = new_dossier(ServiceForm.RECEIVE_RESULT)
    filed = datetime(2025, 3, 14, 8, 5, tzinfo=VIETNAM)
    registered = dossier.envelope("agency.dossier_registered_for_return", START, filed_at=filed)

    view = fold_events(dossier, [registered])

    assert view.stage is Stage.RECEIVED and view.start_event_id == str(registered.id)
    assert view.service_form is ServiceForm.RECEIVE_RESULT
    assert view.procedure_code == SAMPLE_PROCEDURE
    assert view.agency_code == SAMPLE_AGENCY
    assert view.agency_dossier_code == dossier.agency_dossier_code
    assert view.filed_at == filed and view.received_at == START
    # Counted from the filing, which the desk may record before it registers the return by post.
    assert view.agency_due_date == view.appointment_date == date(2025, 3, 24)


def test_a_second_registration_does_not_restart_the_dossier_and_names_the_first() -> None:
    dossier = new_dossier(ServiceForm.RECEIVE_RESULT)
    first = dossier.envelope("agency.dossier_registered_for_return", START)
    second = dossier.envelope(
        "agency.dossier_registered_for_return", at(1), 1, procedure_code=OTHER_PROCEDURE
    )

    view = fold_events(dossier, [first, second])

    assert view.procedure_code == SAMPLE_PROCEDURE and view.received_at == START
    anomaly = only_anomaly(view)
    assert anomaly.reason is AnomalyReason.DUPLICATE_START
    assert str(first.id) in anomaly.detail


def test_the_agency_due_date_counts_the_target_of_the_dossiers_own_procedure() -> None:
    registered_dossier = new_dossier(ServiceForm.RECEIVE_RESULT)
    registered = registered_dossier.envelope(
        "agency.dossier_registered_for_return", START, procedure_code=OTHER_PROCEDURE
    )
    posted = new_dossier(ServiceForm.SEND_DOSSIER)
    accepted, _, handed = journey(posted)[:3]
    accepted = posted.envelope(accepted.type, accepted.time, procedure_code=OTHER_PROCEDURE)
    requested = posted.envelope("agency.supplement_requested", at(3))
    supplied = posted.envelope("agency.supplement_received", at(4))

    assert fold_events(registered_dossier, [registered]).agency_due_date == date(2025, 3, 17)
    # Three days from the handover's signing (17/3), then from the supplement's arrival (20/3).
    assert fold_events(posted, [accepted, handed]).agency_due_date == date(2025, 3, 20)
    supplemented = fold_events(posted, [accepted, handed, requested, supplied])
    assert supplemented.agency_due_date == supplemented.appointment_date == date(2025, 3, 23)


def test_no_agency_due_date_is_counted_for_a_dossier_whose_procedure_is_unknown() -> None:
    registered_dossier = new_dossier(ServiceForm.RECEIVE_RESULT)
    registered = entry(
        registered_dossier.envelope("agency.dossier_registered_for_return", START), procedure_code=None
    )
    posted = new_dossier(ServiceForm.SEND_DOSSIER)
    accepted, _, handed = journey(posted)[:3]
    history = [
        entry(accepted, procedure_code=None),
        entry(handed),
        entry(posted.envelope("agency.supplement_requested", at(3))),
        entry(posted.envelope("agency.supplement_received", at(4))),
    ]

    registered_view = fold_entries(registered_dossier, [registered], AnyProcedureDue())
    assert registered_view.agency_due_date is None and registered_view.appointment_date is None
    assert fold_entries(posted, history[:2], AnyProcedureDue()).agency_due_date is None
    supplemented = fold_entries(posted, history, AnyProcedureDue())
    assert supplemented.agency_due_date is None and supplemented.appointment_date is None


def test_the_handover_signing_time_is_the_filing_time() -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    signed = datetime(2025, 3, 17, 10, 15, tzinfo=VIETNAM)
    events = journey(dossier)[:3]

    view = fold_events(dossier, events)

    assert events[2].time != signed, "the handover is reported later than it was signed"
    assert view.filed_at == signed and view.agency_due_date == date(2025, 3, 27)


def test_the_agency_receipt_sets_the_legal_due_date_and_the_date_on_the_appointment_slip() -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    events = journey(dossier)[:3]
    filed = datetime(2025, 3, 17, 10, 40, tzinfo=VIETNAM)
    received = dossier.envelope(
        "agency.dossier_received",
        at(3),
        filed_at=filed,
        legal_due_date=date(2025, 3, 28),
        appointment_date=date(2025, 3, 31),
        appointment_later_than_legal=True,
    )

    view = fold_events(dossier, [*events, received])

    # The agency's own dates replace the ones the tracker counted from the handover (27/3).
    assert view.agency_due_date == date(2025, 3, 28)
    assert view.appointment_date == view.expected_date == date(2025, 3, 31)
    assert view.filed_at == filed and view.received_at == received.time


def test_an_agency_receipt_without_its_dates_keeps_those_counted_from_the_handover() -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    events = journey(dossier)[:4]
    history = [
        *map(entry, events[:3]),
        entry(events[3], filed_at=None, legal_due_date=None, appointment_date=None),
    ]

    view = fold_entries(dossier, history)

    assert view.filed_at == datetime(2025, 3, 17, 10, 15, tzinfo=VIETNAM)
    assert view.agency_due_date == view.expected_date == date(2025, 3, 27)
    assert view.appointment_date is None


def test_the_agency_receipt_names_the_procedure_only_when_the_acceptance_did_not() -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    accepted, _, handed, received = journey(dossier)[:4]
    other = dossier.envelope(received.type, received.time, procedure_code=OTHER_PROCEDURE)

    unnamed = fold_entries(dossier, [entry(accepted, procedure_code=None), entry(handed), entry(other)])
    named = fold_events(dossier, [accepted, handed, other])

    assert unnamed.procedure_code == OTHER_PROCEDURE
    assert named.procedure_code == SAMPLE_PROCEDURE


def test_the_arrival_of_a_supplement_is_the_new_filing_time_and_sets_the_new_appointment() -> None:
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)

    view = fold_events(dossier, journey(dossier)[:6])

    assert view.filed_at == datetime(2025, 3, 20, 14, 0, tzinfo=VIETNAM)
    assert view.agency_due_date == view.appointment_date == date(2025, 3, 30)


def test_a_delay_notice_moves_the_appointment_to_its_new_date() -> None:
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)

    view = fold_events(dossier, journey(dossier)[:8])

    assert view.delay_notified
    assert view.agency_due_date == view.appointment_date == view.expected_date == date(2025, 4, 3)


def test_a_filing_time_stored_without_offset_is_read_as_utc() -> None:
    dossier = new_dossier(ServiceForm.RECEIVE_RESULT)
    registered = entry(
        dossier.envelope("agency.dossier_registered_for_return", START), filed_at="2025-03-14T01:05:00"
    )

    view = fold_entries(dossier, [registered])

    assert view.filed_at == datetime(2025, 3, 14, 1, 5, tzinfo=UTC)


def test_a_result_returned_to_the_agency_and_picked_up_again_runs_the_return_clock_again() -> None:
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    events = journey(dossier)[:13]  # up to the first failed delivery
    returned = dossier.envelope("postal.result_returned_to_agency", events[-1].time + timedelta(days=3))
    again = dossier.envelope(
        "postal.result_picked_up", returned.time + timedelta(days=1), 1, return_due_date=date(2025, 4, 7)
    )

    view = fold_events(dossier, [*events, returned, again])

    assert view.anomalies == ()
    assert view.stage is Stage.RESULT_PICKED_UP and view.first_attempt_at is None
    assert view.due_date == date(2025, 4, 7)


def test_a_pickup_names_the_agency_dossier_code_when_the_agency_receipt_is_missing() -> None:
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    accepted, _, handed = journey(dossier)[:3]
    pickup = dossier.envelope("postal.result_picked_up", at(3))

    view = fold_events(dossier, [accepted, handed, pickup])

    assert view.agency_dossier_code == dossier.agency_dossier_code
    assert view.result_item_id == dossier.result_item_id


@pytest.mark.parametrize(
    "event_type", ["agency.dossier_refused", "agency.supplement_requested", "agency.dossier_withdrawn"]
)
def test_an_agency_report_names_the_agency_dossier_code_when_the_receipt_is_missing(event_type: str) -> None:
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    accepted, _, handed = journey(dossier)[:3]
    report = dossier.envelope(event_type, at(3), agency_dossier_code=dossier.agency_dossier_code)

    view = fold_events(dossier, [accepted, handed, report])

    assert view.agency_dossier_code == dossier.agency_dossier_code


def test_a_withdrawal_that_does_not_repeat_the_code_keeps_the_code_of_the_receipt() -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    events = journey(dossier)[:4]
    withdrawn = dossier.envelope("agency.dossier_withdrawn", at(4), agency_dossier_code=None)

    view = fold_events(dossier, [*events, withdrawn])

    assert view.stage is Stage.WITHDRAWN
    assert view.agency_dossier_code == dossier.agency_dossier_code


def test_a_repeated_report_does_not_move_when_the_dossier_entered_its_stage() -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    events = journey(dossier)[:5]
    again = dossier.envelope("agency.dossier_processing", at(6), 1)

    view = fold_events(dossier, [*events, again])

    assert view.stage is Stage.PROCESSING and view.anomalies == ()
    assert view.stage_since == events[4].time


# --------------------------------------------------------------------------- custody


def test_after_each_event_of_a_journey_the_tracker_names_who_holds_the_dossier_and_its_office() -> None:
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    post_office = Custody(CustodyHolderKind.POST_OFFICE, SAMPLE_POST_OFFICE, SAMPLE_POST_OFFICE)
    facility = Custody(CustodyHolderKind.POSTAL_FACILITY, SAMPLE_FACILITY, SAMPLE_FACILITY)
    agency = Custody(CustodyHolderKind.AGENCY, SAMPLE_AGENCY, SAMPLE_AGENCY)
    courier = Custody(CustodyHolderKind.COURIER, SAMPLE_COURIER, SAMPLE_POST_OFFICE)
    citizen = Custody(CustodyHolderKind.CITIZEN, None, None)

    view = fold_events(dossier, journey(dossier))

    assert [step.custody for step in view.steps] == [
        post_office,  # accepted
        facility,  # in transit
        agency,  # handed over
        agency,  # received
        agency,  # supplement requested
        agency,  # supplement received
        agency,  # processing
        agency,  # delay notified
        agency,  # result ready
        post_office,  # picked up
        facility,  # result in transit
        courier,  # out for delivery
        post_office,  # delivery failed: back at the post office
        courier,  # out again
        citizen,  # delivered
    ]


@pytest.mark.parametrize("facility_code", ["", 100900], ids=["empty", "not-text"])
def test_a_scan_that_names_no_facility_leaves_custody_with_the_previous_holder(facility_code: Any) -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    accepted, carried = journey(dossier)[:2]

    view = fold_entries(dossier, [entry(accepted), entry(carried, facility_code=facility_code)])

    assert view.stage is Stage.IN_TRANSIT
    assert view.custody == Custody(CustodyHolderKind.POST_OFFICE, SAMPLE_POST_OFFICE, SAMPLE_POST_OFFICE)


# --------------------------------------------------------------------------- anomalies an operator reads


def test_an_event_before_any_start_says_no_acceptance_or_registration_precedes_it() -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    handed = journey(dossier)[2]

    anomaly = only_anomaly(fold_events(dossier, [handed]))

    assert anomaly == Anomaly(
        str(handed.id), AnomalyReason.NO_START_EVENT, "no acceptance or registration precedes it"
    )


def test_an_event_after_the_journey_closed_names_the_stage_it_closed_at() -> None:
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    events = journey(dossier)
    after = dossier.envelope("agency.dossier_processing", events[-1].time + timedelta(days=1), 9)

    anomaly = only_anomaly(fold_events(dossier, [*events, after]))

    assert anomaly.reason is AnomalyReason.AFTER_CLOSE
    assert "closed at stage DELIVERED" in anomaly.detail


def test_a_second_delay_notice_says_a_notice_was_already_issued() -> None:
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    events = journey(dossier)[:8]
    second = dossier.envelope("agency.delay_notified", events[-1].time + timedelta(hours=1), 1)

    anomaly = only_anomaly(fold_events(dossier, [*events, second]))

    assert anomaly.reason is AnomalyReason.SECOND_DELAY_NOTICE
    assert "a delay notice was already issued" in anomaly.detail


def test_an_early_pickup_names_the_stage_the_agency_had_the_dossier_at() -> None:
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    events = journey(dossier)[:7]  # up to processing
    pickup = dossier.envelope("postal.result_picked_up", events[-1].time + timedelta(hours=1))

    view = fold_events(dossier, [*events, pickup])

    anomaly = only_anomaly(view)
    assert anomaly.reason is AnomalyReason.PICKED_UP_BEFORE_READY
    assert "stage PROCESSING" in anomaly.detail
    assert view.stage is Stage.RESULT_PICKED_UP


def test_a_skipped_stage_names_where_the_dossier_moved_from_and_to() -> None:
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    events = journey(dossier)

    anomaly = only_anomaly(fold_events(dossier, [*events[:10], events[14]]))

    assert anomaly.reason is AnomalyReason.SKIPPED_STAGES
    assert "from RESULT_PICKED_UP to DELIVERED" in anomaly.detail


def test_an_agency_receipt_without_the_postal_handover_is_flagged_and_the_agency_holds_the_dossier() -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    accepted, _, _, received = journey(dossier)[:4]

    view = fold_events(dossier, [accepted, received])

    assert view.stage is Stage.RECEIVED
    assert view.custody == Custody(CustodyHolderKind.AGENCY, SAMPLE_AGENCY, SAMPLE_AGENCY)
    assert only_anomaly(view).reason is AnomalyReason.SKIPPED_STAGES


def test_a_second_agency_receipt_is_out_of_sequence_unless_it_confirms_a_registration() -> None:
    posted = new_dossier(ServiceForm.SEND_DOSSIER)
    events = journey(posted)[:4]
    again = posted.envelope("agency.dossier_received", at(4), 1)
    registered = new_dossier(ServiceForm.RECEIVE_RESULT)

    anomaly = only_anomaly(fold_events(posted, [*events, again]))

    assert anomaly.reason is AnomalyReason.OUT_OF_SEQUENCE
    assert "RECEIVED is not possible from stage RECEIVED" in anomaly.detail
    assert fold_events(registered, journey(registered)[:2]).anomalies == ()


def test_a_result_delivered_without_going_out_for_delivery_is_flagged_on_a_registered_dossier() -> None:
    dossier = new_dossier(ServiceForm.RECEIVE_RESULT)
    events = journey(dossier)  # registered, received, processing, ready, picked up, out, delivered

    view = fold_events(dossier, [*events[:5], events[6]])

    assert view.stage is Stage.DELIVERED
    assert only_anomaly(view).reason is AnomalyReason.SKIPPED_STAGES


def test_an_out_of_sequence_event_that_moves_no_stage_is_named_as_this_event() -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    events = journey(dossier)[:3]
    delay = dossier.envelope("agency.delay_notified", at(3))

    view = fold_events(dossier, [*events, delay])

    anomaly = only_anomaly(view)
    assert anomaly.reason is AnomalyReason.OUT_OF_SEQUENCE
    assert anomaly.detail.startswith("this event is not possible from stage HANDED_TO_AGENCY")
    assert not view.delay_notified and view.agency_due_date == date(2025, 3, 27)


def test_an_event_type_this_tracker_does_not_know_is_kept_and_moves_nothing() -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    accepted = entry(journey(dossier)[0])
    newer = replace(accepted, event_id=str(uuid.uuid4()), event_type="postal.item_weighed", occurred_at=at(1))

    view = fold_entries(dossier, [accepted, newer])

    assert view.stage is Stage.ACCEPTED and view.anomalies == ()
    assert view.event_count == 2 and view.last_event_type == "postal.item_weighed"


# --------------------------------------------------------------------------- the stored row


def test_the_dossier_row_counts_events_and_anomalies_and_keeps_the_first_and_last_event() -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    events = journey(dossier)
    late_scan = dossier.envelope("postal.dossier_in_transit", events[4].time + timedelta(minutes=1), 5)
    stray = dossier.envelope("agency.dossier_processing", events[-1].time + timedelta(hours=1), 3)
    history = [entry(e) for e in [*events[:5], late_scan, events[5], stray]]

    stored = fold_entries(dossier, history[:6])
    resumed = resume(stored, history[6:], ProcedureDue())

    assert (stored.event_count, stored.anomaly_count) == (6, 1)
    assert (resumed.event_count, resumed.anomaly_count) == (8, 2)
    for view in (stored, resumed):
        assert view.first_event_at == events[0].time
    assert (resumed.last_event_at, resumed.last_event_type, resumed.last_event_id) == (
        stray.time,
        stray.type,
        str(stray.id),
    )


def test_resuming_with_the_last_event_again_is_refused() -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    history = [entry(e) for e in journey(dossier)[:3]]

    with pytest.raises(ValueError, match="fold the history"):
        resume(fold_entries(dossier, history), history[-1:])


# --------------------------------------------------------------------------- who may look it up


def test_the_offices_and_agencies_named_in_an_event_may_look_the_dossier_up() -> None:
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    accepted, carried, handed, received = (entry(e) for e in journey(dossier)[:4])

    assert parties(accepted) == {
        (PartyKind.POST_OFFICE, SAMPLE_POST_OFFICE),
        (PartyKind.AGENCY, SAMPLE_AGENCY),
    }
    assert parties(carried) == {(PartyKind.POST_OFFICE, SAMPLE_FACILITY)}
    assert parties(handed) == {(PartyKind.POST_OFFICE, SAMPLE_POST_OFFICE), (PartyKind.AGENCY, SAMPLE_AGENCY)}
    assert parties(received) == {(PartyKind.AGENCY, SAMPLE_AGENCY)}
    assert parties(replace(received, data={"agency_code": ""})) == set()


def test_every_item_id_and_agency_code_an_event_carries_leads_to_the_dossier() -> None:
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    supplement = unique_item_id("EB")
    code = dossier.agency_dossier_code
    accepted = entry(journey(dossier)[0])
    received = entry(dossier.envelope("agency.dossier_received", at(3)))
    carried = entry(
        dossier.envelope(
            "postal.dossier_in_transit", at(4), 1, item_id=supplement, item_kind=ItemKind.SUPPLEMENT
        )
    )
    supplied = entry(dossier.envelope("agency.supplement_received", at(5), supplement_item_id=supplement))
    pickup = entry(dossier.envelope("postal.result_picked_up", at(6)))
    result = entry(
        dossier.envelope(
            "postal.dossier_in_transit", at(7), 2, item_id=dossier.result_item_id, item_kind=ItemKind.RESULT
        )
    )

    assert references(accepted) == {(dossier.item_id, ReferenceKind.DOSSIER_ITEM)}
    assert references(received) == {
        (dossier.item_id, ReferenceKind.DOSSIER_ITEM),
        (code, ReferenceKind.AGENCY_DOSSIER_CODE),
    }
    assert references(carried) == {(supplement, ReferenceKind.SUPPLEMENT_ITEM)}
    assert references(supplied) == {
        (supplement, ReferenceKind.SUPPLEMENT_ITEM),
        (code, ReferenceKind.AGENCY_DOSSIER_CODE),
    }
    assert references(pickup) == {
        (dossier.result_item_id, ReferenceKind.RESULT_ITEM),
        (dossier.item_id, ReferenceKind.DOSSIER_ITEM),
        (code, ReferenceKind.AGENCY_DOSSIER_CODE),
    }
    assert references(result) == {(dossier.result_item_id, ReferenceKind.RESULT_ITEM)}


# --------------------------------------------------------------------------- personal data


def test_personal_data_nested_in_a_part_an_optional_part_or_a_list_of_parts_is_not_kept() -> None:
    # Defined here, anew on each run: the fields to drop are worked out once per event class and cached.
    class Contact(BaseModel):
        name: str = Field(json_schema_extra=PERSONAL_DATA)
        commune: str

    class Visit(BaseModel):
        contact: Contact
        at_home: bool

    class Inspected(Event):
        type: Literal["test.inspected"] = "test.inspected"
        version: Literal[1] = 1
        owner: Contact
        proxy: Contact | None = None
        witnesses: tuple[Contact, ...] = ()
        visits: list[Visit] = Field(default_factory=list)
        note: str | None = None

    event = Inspected(
        owner=Contact(name="Nguyễn Văn A", commune="Hoàn Kiếm"),
        proxy=Contact(name="Trần Thị B", commune="Ba Đình"),
        witnesses=(Contact(name="Lê Văn C", commune="Đống Đa"),),
        visits=[Visit(contact=Contact(name="Phạm Thị D", commune="Tây Hồ"), at_home=False)],
        note="sealed",
    )

    assert without_personal_data(event) == {
        "type": "test.inspected",
        "version": 1,
        "owner": {"commune": "Hoàn Kiếm"},
        "proxy": {"commune": "Ba Đình"},
        "witnesses": [{"commune": "Đống Đa"}],
        "visits": [{"contact": {"commune": "Tây Hồ"}, "at_home": False}],
        "note": "sealed",
    }

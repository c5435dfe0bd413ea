"""A dossier the agency closed because its supplement never came (Decree 118/2025 Art. 19(5)): the
tracker shows the stage CLOSED, keeps the whole history, refuses to reopen it, and announces the stage on
the stage stream like any other."""

from __future__ import annotations

from datetime import timedelta

import pytest

from contracts.enums import CustodyHolderKind, ServiceForm, Stage
from contracts.envelope import Envelope
from contracts.events import Event
from services.tracker.app import Tracker
from services.tracker.domain import AnomalyReason
from tests.tracker.journeys import START, Dossier, new_dossier
from tests.tracker.stages import assert_every_stage_entered_published_once, published
from tests.tracker.support import records_of
from tests.tracker.test_fold import fold_of, reasons

HOUR = timedelta(hours=1)


def closed_journey(dossier: Dossier) -> list[Envelope[Event]]:
    """Accepted, carried, received, asked for a supplement, closed 16 days later."""
    steps = [
        "postal.dossier_accepted",
        "postal.dossier_handed_to_agency",
        "agency.dossier_received",
        "agency.supplement_requested",
    ]
    events = [dossier.envelope(step, START + i * HOUR) for i, step in enumerate(steps)]
    return [*events, dossier.envelope("agency.dossier_closed", START + timedelta(days=16))]


def test_a_closed_dossier_stays_closed_at_the_agency_with_its_history() -> None:
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    events = closed_journey(dossier)
    late = dossier.envelope("agency.supplement_received", START + timedelta(days=17))

    view = fold_of(dossier, [*events, late])

    assert view.stage is Stage.CLOSED and not view.is_open
    assert view.custody is not None and view.custody.kind is CustodyHolderKind.AGENCY
    assert [step.entry.event_type for step in view.steps][-2:] == [
        "agency.dossier_closed",
        "agency.supplement_received",
    ]
    assert reasons(view) == [("agency.supplement_received", AnomalyReason.AFTER_CLOSE)]


def test_a_closure_of_a_dossier_not_awaiting_its_supplement_is_out_of_sequence() -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    events = closed_journey(dossier)
    received_only = [events[0], events[1], events[2], events[4]]

    view = fold_of(dossier, received_only)

    assert view.stage is Stage.RECEIVED
    assert reasons(view) == [("agency.dossier_closed", AnomalyReason.OUT_OF_SEQUENCE)]


@pytest.mark.postgres
async def test_the_closure_goes_out_on_the_stage_stream_once(tracker: Tracker) -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    events = closed_journey(dossier)

    await tracker.processor.process(records_of(events[:3], 0))
    await tracker.processor.process(records_of(events[3:], 3))
    await tracker.processor.process(records_of(events[3:], 3))  # redelivered

    messages = await published(tracker, dossier.dossier_id)
    assert [(m.data.to_stage, m.data.current_stage) for m in messages][-1] == (Stage.CLOSED, Stage.CLOSED)
    assert_every_stage_entered_published_once(tracker, dossier, events, messages)

"""The stage stream's guarantee, through the projection in PostgreSQL: every stage a dossier enters is
published once, whatever the interleaving of the postal and agency topics, the batch boundaries and
redeliveries; a stage learned late says so, and every message names the current stage."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.enums import ServiceForm, Stage
from contracts.envelope import Envelope
from contracts.events import Event, StageChanged
from services.tracker.app import Tracker
from tests.tracker.journeys import Dossier, journey, new_dossier
from tests.tracker.stages import assert_every_stage_entered_published_once, published
from tests.tracker.support import records_of

pytestmark = pytest.mark.postgres


async def feed_batches(tracker: Tracker, batches: list[list[Envelope[Event]]]) -> None:
    offset = 0
    for batch in batches:
        await tracker.processor.process(records_of(batch, offset))
        offset += len(batch)


def by_topic(events: list[Envelope[Event]]) -> tuple[list[Envelope[Event]], list[Envelope[Event]]]:
    postal = [e for e in events if e.type.startswith("postal.")]
    agency = [e for e in events if e.type.startswith("agency.")]
    return postal, agency


async def test_an_agency_receipt_folded_before_the_handover_announces_the_handover_late(
    tracker: Tracker,
) -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    accepted, carried, handed, received, processing, ready = events = journey(dossier)

    await feed_batches(tracker, [[accepted, carried], [received], [handed], [processing, ready]])

    messages = await published(tracker, dossier.dossier_id)
    assert [(m.data.to_stage, m.data.late, m.data.current_stage) for m in messages] == [
        (Stage.ACCEPTED, False, Stage.IN_TRANSIT),
        (Stage.IN_TRANSIT, False, Stage.IN_TRANSIT),
        (Stage.RECEIVED, False, Stage.RECEIVED),
        (Stage.HANDED_TO_AGENCY, True, Stage.RECEIVED),
        (Stage.PROCESSING, False, Stage.RESULT_READY),
        (Stage.RESULT_READY, False, Stage.RESULT_READY),
    ]
    assert_every_stage_entered_published_once(tracker, dossier, events, messages)


async def test_a_result_ready_folded_after_the_pickup_that_follows_it_is_still_announced(
    tracker: Tracker,
) -> None:
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    events = journey(dossier)
    ready = next(e for e in events if e.type == "agency.result_ready")
    pickup = next(e for e in events if e.type == "postal.result_picked_up")
    before = events[: events.index(ready)]

    await feed_batches(tracker, [before, [pickup], [ready]])

    messages = await published(tracker, dossier.dossier_id)
    late = messages[-1]
    assert (late.data.to_stage, late.data.late, late.data.current_stage) == (
        Stage.RESULT_READY,
        True,
        Stage.RESULT_PICKED_UP,
    )
    assert late.time == ready.time
    assert_every_stage_entered_published_once(tracker, dossier, [*before, pickup, ready], messages)


@st.composite
def arrivals(draw: st.DrawFn) -> tuple[Dossier, list[Envelope[Event]], list[list[Envelope[Event]]]]:
    """A journey of any form as the tracker may receive it: the postal and agency topics interleaved
    at random (each in its own order), cut into batches at random, some batches delivered again."""
    form = draw(st.sampled_from(list(ServiceForm)))
    dossier = new_dossier(form)
    events = journey(dossier)
    postal, agency = by_topic(events)
    picks = draw(st.permutations([True] * len(postal) + [False] * len(agency)))
    queues = {True: iter(postal), False: iter(agency)}
    arrival = [next(queues[pick]) for pick in picks]
    cuts = sorted(draw(st.sets(st.integers(1, len(arrival) - 1), max_size=len(arrival) - 1)))
    batches = [arrival[a:b] for a, b in itertools.pairwise([0, *cuts, len(arrival)])]
    redelivered = draw(st.lists(st.integers(0, len(batches) - 1), max_size=3))
    for index in sorted(redelivered, reverse=True):
        batches.insert(index + 1, batches[index])
    return dossier, events, batches


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=arrivals())
async def test_any_interleaving_of_the_two_topics_publishes_each_stage_entered_once(
    tracker: Tracker, case: tuple[Dossier, list[Envelope[Event]], list[list[Envelope[Event]]]]
) -> None:
    dossier, events, batches = case

    await feed_batches(tracker, batches)

    messages = await published(tracker, dossier.dossier_id)
    assert_every_stage_entered_published_once(tracker, dossier, events, messages)
    # A message not marked late never announces a stage before one already announced.
    announced: list[Envelope[StageChanged]] = []
    for message in messages:
        if not message.data.late and announced:
            assert message.time >= max(m.time for m in announced)
        announced.append(message)

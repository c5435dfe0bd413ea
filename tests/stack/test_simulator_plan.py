"""The simulator's plans are journeys the services accept: in time order, never in the future, with
valid identifiers, every service form and the rules of the domain (two failed attempts two working
days apart before a return, a supplement after its request, one handover record per desk sitting)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime

import pytest

from contracts.enums import NotificationChannel, ServiceForm
from contracts.values import parse_agency_dossier_code, parse_s10
from services.shared.calendar import load_calendar, to_vietnam_time
from services.shared.catalog import load_catalog
from services.shared.consent import check_reachable
from services.shared.legal_rules import default_legal_rules
from services.shared.postal_limits import load_route_limits
from services.simulator import geography
from services.simulator import steps as s
from services.simulator.geography import Reporting
from services.simulator.plan import Planner, Rules, Serials

RULES = Rules(load_calendar(), load_catalog(), load_route_limits(), default_legal_rules())
NOWS = {
    "wednesday morning": datetime(2026, 3, 11, 2, 30, tzinfo=UTC),  # 09:30 in Vietnam
    "after the cut-off": datetime(2026, 3, 11, 9, 0, tzinfo=UTC),  # 16:00
    "monday at opening": datetime(2026, 3, 9, 1, 0, tzinfo=UTC),  # 08:00
    "a sunday": datetime(2026, 3, 15, 4, 0, tzinfo=UTC),
}
SMS, ZALO, EMAIL = NotificationChannel.SMS, NotificationChannel.ZALO, NotificationChannel.EMAIL
RETURN_LEG = (s.PickUp, s.OutForDelivery, s.DeliveryFailed, s.Delivered, s.Return)


def plan(now: datetime, count: int = 600, seed: int = 7, **options: bool) -> list[s.Journey]:
    planner = Planner(random.Random(seed), now, RULES, Serials(10_000_000, 10_000_000), **options)
    return [planner.plan() for _ in range(count)]


@pytest.mark.parametrize("when", NOWS)
def test_every_journey_is_in_time_order_in_the_past_and_goes_live_only_after_the_past(when: str) -> None:
    now = NOWS[when]
    for journey in plan(now):
        moments = [step.at for step in journey.steps if step.at is not None]
        assert moments == sorted(moments), journey.scenario
        assert all(moment < now for moment in moments)
        live = [i for i, step in enumerate(journey.steps) if step.at is None]
        assert not live or live == list(range(live[0], len(journey.steps))), "past acts after live ones"
        if journey.reporting is Reporting.SYSTEM:
            assert not live, "agency systems report past acts only"


def test_identifiers_are_valid_and_never_repeat() -> None:
    journeys = plan(NOWS["wednesday morning"])
    items = [i for j in journeys for i in (j.item_id, j.result_item_id) if i]
    codes = [j.agency_dossier_code for j in journeys if j.agency_dossier_code]

    assert all(parse_s10(item) == item for item in items)
    assert len(set(items)) == len(items)
    assert all(
        parse_agency_dossier_code(code).startswith(j.agency.code)
        for j in journeys
        if (code := j.agency_dossier_code)
    )
    assert len(set(codes)) == len(codes)
    assert len({j.dossier_id for j in journeys}) == len(journeys)


def test_the_day_mixes_every_form_both_kinds_of_agency_and_the_incidents_of_a_real_day() -> None:
    journeys = plan(NOWS["wednesday morning"], count=2000)
    forms = Counter(j.form for j in journeys)
    scenarios = Counter(j.scenario for j in journeys)
    kinds = Counter(type(step).__name__ for j in journeys for step in j.steps)

    assert set(forms) == set(ServiceForm)
    assert {j.reporting for j in journeys} == set(Reporting)
    assert {j.home.key for j in journeys} == {p.key for p in geography.PROVINCES}
    for scenario in (
        "delivered",
        "returned",
        "refused",
        "withdrawn",
        "awaiting supplement",
        "delivery failed",
    ):
        assert scenarios[scenario] > 0, scenario
    for kind in ("Transit", "HandOver", "RequestSupplement", "ReceiveSupplement", "NotifyDelay", "Incident"):
        assert kinds[kind] > 0, kind
    assert any(step.offline for j in journeys for step in j.steps if isinstance(step, s.Delivered))
    assert any(step.forgets_a_document for j in journeys for step in j.steps if isinstance(step, s.Accept))


def test_only_forms_with_a_return_leg_have_one_and_only_postal_forms_an_inbound_leg() -> None:
    for journey in plan(NOWS["after the cut-off"]):
        kinds = {type(step) for step in journey.steps}
        if journey.form is ServiceForm.SEND_DOSSIER:
            assert not kinds & set(RETURN_LEG)
        if journey.form is ServiceForm.RECEIVE_RESULT:
            assert s.Accept not in kinds and s.HandOver not in kinds
            assert isinstance(journey.steps[0], s.Register)
        else:
            assert isinstance(journey.steps[0], s.Accept)


def test_a_result_goes_back_to_the_agency_only_after_two_failures_two_working_days_apart() -> None:
    calendar = RULES.calendar
    returned = [j for j in plan(NOWS["wednesday morning"], count=2000) if j.scenario == "returned"]

    assert returned
    for journey in returned:
        failures = [step for step in journey.steps if isinstance(step, s.DeliveryFailed)]
        assert len(failures) >= 2 and not any(f.offline for f in failures)
        days = [to_vietnam_time(f.at).date() for f in failures if f.at is not None]
        assert calendar.working_days_between(days[0], days[-1]) >= 2


def test_a_supplement_arrives_after_it_was_requested_and_a_delay_notice_names_later_dates() -> None:
    for journey in plan(NOWS["wednesday morning"], count=2000):
        requested = next((st for st in journey.steps if isinstance(st, s.RequestSupplement)), None)
        received = next((st for st in journey.steps if isinstance(st, s.ReceiveSupplement)), None)
        if requested and received and requested.at and received.received_at:
            assert received.received_at > requested.at
        for delay in (st for st in journey.steps if isinstance(st, s.NotifyDelay) and st.at is not None):
            assert delay.previous_due_date and delay.new_due_date and delay.issued_on
            assert delay.new_due_date > delay.previous_due_date >= delay.issued_on


def test_a_handover_record_lists_each_item_once_signed_after_it_arrived() -> None:
    journeys = plan(NOWS["after the cut-off"])
    sessions = {}
    for journey in journeys:
        for index, step in enumerate(journey.steps):
            if isinstance(step, s.HandOver):
                sessions[step.session.record_id] = step.session
                before = [st.at for st in journey.steps[:index] if st.at is not None]
                assert all(moment < step.session.signed_at for moment in before)
                assert step.session.agency == journey.agency.code
    assert any(len(session.items) > 1 for session in sessions.values())
    for session in sessions.values():
        assert len(set(session.items)) == len(session.items)


def test_without_agency_systems_every_agency_reports_at_the_desk() -> None:
    journeys = plan(NOWS["wednesday morning"], use_agency_systems=False)

    assert {j.reporting for j in journeys} == {Reporting.DESK}


def test_the_same_seed_plans_the_same_day() -> None:
    first = plan(NOWS["a sunday"], count=50, seed=3)
    second = plan(NOWS["a sunday"], count=50, seed=3)

    assert [(j.dossier_id, j.scenario, len(j.steps)) for j in first] == [
        (j.dossier_id, j.scenario, len(j.steps)) for j in second
    ]


def test_applicants_choose_every_channel_and_give_an_email_address_exactly_when_they_choose_email() -> None:
    journeys = plan(NOWS["wednesday morning"])
    first_choices = Counter(next((c for c in (SMS, ZALO, EMAIL) if c in j.notify_by), None) for j in journeys)

    # Each channel is the first choice of some (the local run shows messages of each), none of others.
    assert set(first_choices) == {SMS, ZALO, EMAIL, None}
    assert first_choices[SMS] > first_choices[ZALO] and first_choices[SMS] > first_choices[EMAIL]
    for journey in journeys:
        check_reachable(journey.notify_by, journey.applicant)  # what the post office and the agency check
        assert (journey.applicant.email is not None) == (EMAIL in journey.notify_by)
        if journey.applicant.email is not None:
            assert journey.applicant.email.split("@")[1].endswith(".example")  # reaches nobody

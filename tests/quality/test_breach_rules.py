"""Which breaches a dossier's events reveal, each with its responsible unit, its rule set and article as in
force on the day, and its facts (services/turnaround/quality/breaches.py) — pure, with real dates.

Calendar facts: Mon 2 Mar 2026 is a working week (no holiday until 30 Apr); an enterprise registration
takes 3 working days, so a dossier filed Mon 2 Mar at 10:00 is due Thu 5 Mar. An intra-provincial
postal leg is J+2. Under Decree 118/2025 from 1 Jul 2025, under Decree 61/2018 as amended before.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import pytest

from contracts.enums import DeliveryFailureReason, Leg, SupplementBreach
from contracts.envelope import Envelope
from contracts.events import Event
from services.turnaround import domain
from services.turnaround.app import load_rules
from services.turnaround.domain import Clock, Facts
from services.turnaround.quality.breaches import (
    Breach,
    BreachKind,
    BreachRules,
    Responsible,
    nonconformity_id,
)
from services.turnaround.quality.postal_rules import (
    PostalRulesError,
    default_postal_rules,
    parse_postal_rules,
)
from services.turnaround.settings import TurnaroundSettings
from tests.turnaround.journeys import ENTERPRISE, Journey, vn

D = date
OFFICE = "100000"  # a Hà Nội post office
AGENCY = "000.00.01.H22"
ART_19_6 = "Decree 118/2025/NĐ-CP Art. 19(6)"


@pytest.fixture(scope="module")
def rules() -> BreachRules:
    return BreachRules(load_rules(TurnaroundSettings()), default_postal_rules())


def journey() -> Journey:
    return Journey(uuid.uuid4().int % 10_000_000, procedure=ENTERPRISE, post_office=OFFICE, agency=AGENCY)


MONDAY = D(2026, 3, 2)


def filed(rules: BreachRules, day: date = MONDAY) -> Journey:
    """Accepted at 08:00, handed over and received at 10:00 on `day`."""
    j = journey()
    j.accepted(vn(day, 8))
    j.handed_over(vn(day))
    j.received(vn(day), rules.clocks.calendar, rules.clocks.catalog)
    return j


def delay(j: Journey, issued: datetime, previous: date, new: date, *, breach: bool) -> Envelope[Event]:
    return j.agency_event(
        "agency.delay_notified",
        issued,
        previous_due_date=previous,
        new_due_date=new,
        issued_on=issued.date(),
        breach=breach,
    )


def breaches_of(rules: BreachRules, events: Sequence[Envelope[Event]]) -> list[Breach]:
    """What the projector finds, one event at a time: the event's breaches, then those of each clock
    that finished (reconciled with the clock kept so far, as stored)."""
    facts = Facts()
    kept: dict[Leg, Clock] = {}
    found: list[Breach] = []
    for envelope in events:
        facts = domain.record(facts, envelope)
        found += rules.of_event(envelope, facts)
        for leg, derived in domain.clocks_of(facts, rules.clocks).items():
            kept[leg], just_finished = domain.reconcile(kept.get(leg), derived, facts)
            if just_finished:
                found += rules.of_finished_clock(envelope.subject, kept[leg], facts)
    return found


def kinds(found: Sequence[Breach]) -> list[tuple[BreachKind, str]]:
    return [(b.kind, b.occurrence) for b in found]


# --------------------------------------------------------------------------- the agency's result


def test_a_result_ready_after_its_due_date_without_a_delay_notice_is_a_breach_of_the_agency(
    rules: BreachRules,
) -> None:
    j = filed(rules)
    ready = j.agency_event("agency.result_ready", vn(D(2026, 3, 6), 9))

    [breach] = breaches_of(rules, j.events)

    assert breach.kind is BreachKind.RESULT_LATE_WITHOUT_DELAY_NOTICE
    assert breach.occurrence == Leg.AGENCY_PROCESSING.value
    assert breach.leg is Leg.AGENCY_PROCESSING
    assert (breach.responsible, breach.responsible_code) == (Responsible.AGENCY, AGENCY)
    assert breach.province == "ha_noi"
    assert breach.procedure_code == ENTERPRISE
    assert (breach.citation.rule_set, breach.citation.article) == ("decree_118_2025", ART_19_6)
    assert breach.detected_at == ready.time
    assert breach.facts == {
        "start_day": "2026-03-02",
        "due_date": "2026-03-05",
        "finished_on": "2026-03-06",
        "working_days": 4,
    }
    assert breach.nonconformity_id == nonconformity_id(
        j.dossier_id, BreachKind.RESULT_LATE_WITHOUT_DELAY_NOTICE, Leg.AGENCY_PROCESSING.value
    )


def test_a_result_ready_on_its_due_date_is_no_breach(rules: BreachRules) -> None:
    j = filed(rules)
    j.agency_event("agency.result_ready", vn(D(2026, 3, 5), 16))

    assert breaches_of(rules, j.events) == []


def test_a_late_result_announced_by_a_delay_notice_in_time_opens_nothing(rules: BreachRules) -> None:
    j = filed(rules)
    delay(j, vn(D(2026, 3, 3)), D(2026, 3, 5), D(2026, 3, 10), breach=False)
    j.agency_event("agency.result_ready", vn(D(2026, 3, 11)))  # late even against the new date

    assert breaches_of(rules, j.events) == []


def test_a_delay_notice_before_a_supplement_does_not_cover_the_new_appointment(rules: BreachRules) -> None:
    j = filed(rules)
    delay(j, vn(D(2026, 3, 3)), D(2026, 3, 5), D(2026, 3, 12), breach=False)
    j.agency_event(
        "agency.supplement_requested", vn(D(2026, 3, 4)), missing_documents=("Bản sao",), reason="Thiếu"
    )
    back = vn(D(2026, 3, 5), 9)
    j.agency_event("agency.supplement_received", back, received_at=back)  # due again Tue 10 Mar
    j.agency_event("agency.result_ready", vn(D(2026, 3, 11)))

    assert kinds(breaches_of(rules, j.events)) == [
        (BreachKind.RESULT_LATE_WITHOUT_DELAY_NOTICE, Leg.AGENCY_PROCESSING.value)
    ]


# --------------------------------------------------------------------------- delay notices


def test_a_delay_notice_issued_later_than_its_lead_time_is_a_breach(rules: BreachRules) -> None:
    j = filed(rules)
    notice = delay(j, vn(D(2026, 3, 5)), D(2026, 3, 5), D(2026, 3, 10), breach=True)

    [breach] = breaches_of(rules, j.events)

    assert (breach.kind, breach.occurrence) == (BreachKind.LATE_DELAY_NOTICE, "notice-1")
    assert (breach.dossier_id, breach.leg, breach.province) == (j.dossier_id, Leg.AGENCY_PROCESSING, "ha_noi")
    assert breach.procedure_code == ENTERPRISE
    assert (breach.responsible, breach.responsible_code) == (Responsible.AGENCY, AGENCY)
    assert (breach.citation.rule_set, breach.citation.article) == ("decree_118_2025", ART_19_6)
    assert breach.detected_at == notice.time
    assert breach.facts == {
        "notice_number": 1,
        "issued_on": "2026-03-05",
        "previous_due_date": "2026-03-05",
        "new_due_date": "2026-03-10",
    }


def test_a_second_delay_notice_is_a_breach_and_the_first_is_not(rules: BreachRules) -> None:
    j = filed(rules)
    delay(j, vn(D(2026, 3, 3)), D(2026, 3, 5), D(2026, 3, 10), breach=False)
    second = delay(j, vn(D(2026, 3, 6)), D(2026, 3, 10), D(2026, 3, 13), breach=False)

    [breach] = breaches_of(rules, j.events)

    assert (breach.kind, breach.occurrence) == (BreachKind.SECOND_DELAY_NOTICE, "notice-2")
    assert (breach.dossier_id, breach.responsible, breach.responsible_code) == (
        j.dossier_id,
        Responsible.AGENCY,
        AGENCY,
    )
    assert breach.citation.article == ART_19_6  # apology_slips_allowed
    assert breach.detected_at == second.time
    assert breach.facts["notices_allowed"] == 1
    assert breach.facts["notice_number"] == 2


def test_a_delay_notice_reported_twice_is_one_notice(rules: BreachRules) -> None:
    j = filed(rules)
    first = delay(j, vn(D(2026, 3, 3)), D(2026, 3, 5), D(2026, 3, 10), breach=False)
    # The same notice under another event id (re-reported), and the same envelope again (a replay).
    delay(j, vn(D(2026, 3, 3)), D(2026, 3, 5), D(2026, 3, 10), breach=False)
    j.events.append(first)

    assert breaches_of(rules, j.events) == []


def test_each_delay_notice_after_the_first_is_its_own_breach(rules: BreachRules) -> None:
    j = filed(rules)
    j.agency_event(
        "agency.supplement_requested", vn(D(2026, 3, 3)), missing_documents=("Bản sao",), reason="Thiếu"
    )
    back = vn(D(2026, 3, 4))
    j.agency_event("agency.supplement_received", back, received_at=back)  # not delay notices
    delay(j, vn(D(2026, 3, 5)), D(2026, 3, 9), D(2026, 3, 12), breach=False)
    delay(j, vn(D(2026, 3, 9)), D(2026, 3, 12), D(2026, 3, 16), breach=False)
    delay(j, vn(D(2026, 3, 12)), D(2026, 3, 16), D(2026, 3, 19), breach=False)

    assert kinds(breaches_of(rules, j.events)) == [
        (BreachKind.SECOND_DELAY_NOTICE, "notice-2"),
        (BreachKind.SECOND_DELAY_NOTICE, "notice-3"),
    ]


def test_a_late_second_delay_notice_is_both_breaches(rules: BreachRules) -> None:
    j = filed(rules)
    delay(j, vn(D(2026, 3, 3)), D(2026, 3, 5), D(2026, 3, 10), breach=False)
    delay(j, vn(D(2026, 3, 10)), D(2026, 3, 10), D(2026, 3, 13), breach=True)

    assert sorted(kinds(breaches_of(rules, j.events))) == [
        (BreachKind.LATE_DELAY_NOTICE, "notice-2"),
        (BreachKind.SECOND_DELAY_NOTICE, "notice-2"),
    ]


def test_a_late_delay_notice_of_2024_cites_decree_61(rules: BreachRules) -> None:
    j = filed(rules, D(2024, 3, 4))
    delay(j, vn(D(2024, 3, 7)), D(2024, 3, 7), D(2024, 3, 12), breach=True)

    [breach] = breaches_of(rules, j.events)

    assert (breach.citation.rule_set, breach.citation.article) == (
        "decree_61_2018",
        "Decree 61/2018/NĐ-CP Art. 19",
    )


def test_no_breach_is_opened_for_a_fact_no_rule_set_covers(rules: BreachRules) -> None:
    j = journey()  # the clocks themselves need a rule set in force: only the notices are judged here
    delay(j, vn(D(2018, 3, 8)), D(2018, 3, 8), D(2018, 3, 13), breach=True)
    delay(j, vn(D(2018, 3, 9)), D(2018, 3, 13), D(2018, 3, 15), breach=False)

    assert breaches_of(rules, j.events) == []


# --------------------------------------------------------------------------- supplement requests


def supplement(j: Journey, at: datetime, number: int | None, *reasons: SupplementBreach) -> Envelope[Event]:
    changes: dict[str, Any] = {
        "missing_documents": ("Bản sao",),
        "reason": "Thiếu",
        "request_number": number,
        "window_ends_on": D(2026, 3, 5),
    }
    if reasons:
        changes |= {"breach": True, "breach_reasons": reasons, "rule_set": "decree_118_2025"}
    return j.agency_event("agency.supplement_requested", at, **changes)


def test_a_second_and_late_supplement_request_opens_one_breach_per_reason(rules: BreachRules) -> None:
    j = filed(rules)
    supplement(j, vn(D(2026, 3, 3)), 1)
    back = vn(D(2026, 3, 4))
    j.agency_event("agency.supplement_received", back, received_at=back)
    request = supplement(
        j,
        vn(D(2026, 3, 9)),
        2,
        SupplementBreach.SECOND_SUPPLEMENT_REQUEST,
        SupplementBreach.LATE_SUPPLEMENT_REQUEST,
    )

    found = {b.kind: b for b in breaches_of(rules, j.events)}

    assert set(found) == {BreachKind.SECOND_SUPPLEMENT_REQUEST, BreachKind.LATE_SUPPLEMENT_REQUEST}
    second, late = found[BreachKind.SECOND_SUPPLEMENT_REQUEST], found[BreachKind.LATE_SUPPLEMENT_REQUEST]
    assert second.citation.article == "Decree 118/2025/NĐ-CP Art. 16(3), Art. 17(1)(c)"
    assert late.citation.article == "Decree 118/2025/NĐ-CP Art. 19(5)"
    for breach in (second, late):
        assert (breach.dossier_id, breach.occurrence) == (j.dossier_id, "request-2")
        assert (breach.responsible, breach.responsible_code) == (Responsible.AGENCY, AGENCY)
        assert breach.citation.rule_set == "decree_118_2025"
        assert breach.detected_at == request.time
        assert breach.facts == {
            "request_number": 2,
            "requested_on": "2026-03-09",
            "window_ends_on": "2026-03-05",
            "judged_by": "decree_118_2025",
        }


def test_a_supplement_request_without_its_number_is_numbered_among_the_dossiers_requests(
    rules: BreachRules,
) -> None:
    j = filed(rules)
    supplement(j, vn(D(2026, 3, 3)), None)
    back = vn(D(2026, 3, 4))
    j.agency_event("agency.supplement_received", back, received_at=back)
    delay(j, vn(D(2026, 3, 4), 11), D(2026, 3, 9), D(2026, 3, 12), breach=False)  # not a request
    old = supplement(j, vn(D(2026, 3, 5)), None, SupplementBreach.SECOND_SUPPLEMENT_REQUEST)
    j.events[-1] = old.model_copy(update={"data": old.data.model_copy(update={"window_ends_on": None})})

    [breach] = breaches_of(rules, j.events)

    assert (breach.kind, breach.occurrence) == (BreachKind.SECOND_SUPPLEMENT_REQUEST, "request-2")
    assert breach.facts["request_number"] == 2
    assert breach.facts["window_ends_on"] is None


def test_a_supplement_request_is_judged_by_the_rules_in_force_on_the_day_its_dossier_was_filed(
    rules: BreachRules,
) -> None:
    j = filed(rules, D(2025, 6, 30))  # the last day of Decree 61/2018
    supplement(j, vn(D(2025, 7, 7)), 1, SupplementBreach.LATE_SUPPLEMENT_REQUEST)

    [breach] = breaches_of(rules, j.events)

    assert (breach.citation.rule_set, breach.citation.article) == (
        "decree_61_2018",
        "Decree 61/2018/NĐ-CP (article unconfirmed)",
    )


def test_a_delay_notice_on_the_day_a_rule_set_takes_effect_cites_it(rules: BreachRules) -> None:
    j = filed(rules, D(2025, 6, 26))
    delay(j, vn(D(2025, 7, 1)), D(2025, 7, 1), D(2025, 7, 4), breach=True)

    [breach] = breaches_of(rules, j.events)

    assert (breach.citation.rule_set, breach.citation.article) == ("decree_118_2025", ART_19_6)


@pytest.mark.parametrize(
    ("agency", "province"), [("000.00.00.H29", "ho_chi_minh"), ("000.00.00.Z99", "unknown")]
)
def test_an_agency_breach_of_a_dossier_filed_at_the_desk_is_in_the_agencys_province(
    rules: BreachRules, agency: str, province: str
) -> None:
    j = Journey(uuid.uuid4().int % 10_000_000, procedure=ENTERPRISE, agency=agency)
    j.received(vn(MONDAY), rules.clocks.calendar, rules.clocks.catalog)  # no postal leg
    delay(j, vn(D(2026, 3, 5)), D(2026, 3, 5), D(2026, 3, 10), breach=True)

    [breach] = breaches_of(rules, j.events)

    assert (breach.responsible_code, breach.province) == (agency, province)


# --------------------------------------------------------------------------- postal legs


def test_an_inbound_leg_handed_over_after_j_plus_n_is_a_breach_of_the_accepting_post_office(
    rules: BreachRules,
) -> None:
    j = journey()
    j.accepted(vn(D(2026, 3, 2), 8))  # J+2: due Wed 4 Mar
    handover = j.handed_over(vn(D(2026, 3, 5), 9))

    [breach] = [b for b in breaches_of(rules, j.events) if b.kind is BreachKind.POSTAL_LEG_LATE]

    assert (breach.dossier_id, breach.occurrence) == (j.dossier_id, Leg.INBOUND_POSTAL.value)
    assert (breach.responsible, breach.responsible_code) == (Responsible.POST_OFFICE, OFFICE)
    assert breach.citation.rule_set == "circular_17_2017"
    assert breach.citation.article.startswith("Circular 17/2017/TT-BTTTT")
    assert breach.detected_at == handover.time
    assert breach.province == "ha_noi"
    assert breach.facts == {
        "start_day": "2026-03-02",
        "due_date": "2026-03-04",
        "finished_on": "2026-03-05",
        "working_days": 3,
        "route": "same_province",
    }


def test_an_inbound_leg_handed_over_on_its_due_date_is_no_breach(rules: BreachRules) -> None:
    j = journey()
    j.accepted(vn(D(2026, 3, 2), 8))
    j.handed_over(vn(D(2026, 3, 4), 16))

    assert breaches_of(rules, j.events) == []


def test_a_return_leg_first_attempted_after_j_plus_n_is_a_breach_of_the_picking_up_post_office(
    rules: BreachRules,
) -> None:
    j = filed(rules)
    j.agency_event("agency.result_ready", vn(D(2026, 3, 4)))
    j.picked_up(vn(D(2026, 3, 4), 14))  # J+2: due Fri 6 Mar
    attempt = j.postal_event("postal.result_out_for_delivery", vn(D(2026, 3, 9), 8))

    [breach] = breaches_of(rules, j.events)

    assert (breach.kind, breach.occurrence) == (BreachKind.POSTAL_LEG_LATE, Leg.RETURN_POSTAL.value)
    assert (breach.responsible, breach.responsible_code) == (Responsible.POST_OFFICE, OFFICE)
    assert breach.detected_at == attempt.time
    assert breach.facts["due_date"] == "2026-03-06"


def test_a_result_returned_to_the_agency_is_a_breach_of_the_returning_post_office(
    rules: BreachRules,
) -> None:
    j = filed(rules)
    j.agency_event("agency.result_ready", vn(D(2026, 3, 4)))
    j.picked_up(vn(D(2026, 3, 4), 14))
    j.postal_event("postal.result_out_for_delivery", vn(D(2026, 3, 5), 8))
    returned = j.postal_event(
        "postal.result_returned_to_agency",
        vn(D(2026, 3, 12), 15),
        agency_code=AGENCY,
        attempts=2,
        reason=DeliveryFailureReason.NOT_AT_HOME,
    )

    [breach] = breaches_of(rules, j.events)

    assert breach.kind is BreachKind.RESULT_RETURNED_TO_AGENCY
    assert (breach.dossier_id, breach.province, breach.procedure_code) == (j.dossier_id, "ha_noi", ENTERPRISE)
    assert breach.occurrence == returned.data.result_item_id  # type: ignore[attr-defined]
    assert breach.leg is Leg.RETURN_POSTAL
    assert (breach.responsible, breach.responsible_code) == (Responsible.POST_OFFICE, OFFICE)
    assert breach.citation.rule_set == "circular_17_2017"
    assert breach.citation.article.startswith("Decision 45/2016/QĐ-TTg")
    assert breach.detected_at == returned.time
    assert breach.facts == {
        "result_item_id": returned.data.result_item_id,  # type: ignore[attr-defined]
        "returned_on": "2026-03-12",
        "attempts": 2,
        "last_failure_reason": "NOT_AT_HOME",
        "agency_code": AGENCY,
    }


def test_no_breach_holds_a_free_text_of_the_events(rules: BreachRules) -> None:
    j = filed(rules)
    j.agency_event(
        "agency.supplement_requested",
        vn(D(2026, 3, 9)),
        missing_documents=("Giấy của Nguyễn Văn A",),
        reason="Ông Nguyễn Văn A, 0901234567",
        request_number=2,
        breach=True,
        breach_reasons=(SupplementBreach.SECOND_SUPPLEMENT_REQUEST,),
    )
    delay(j, vn(D(2026, 3, 5)), D(2026, 3, 5), D(2026, 3, 10), breach=True)

    found = breaches_of(rules, j.events)

    assert found
    assert all("Nguyễn" not in str(b.facts) and "0901234567" not in str(b.facts) for b in found)


# --------------------------------------------------------------------------- ids and rule files


def test_a_breach_has_one_id_per_dossier_kind_and_occurrence() -> None:
    dossier = str(uuid.uuid4())
    kind = BreachKind.LATE_DELAY_NOTICE
    assert nonconformity_id(dossier, kind, "notice-1") == nonconformity_id(dossier, kind, "notice-1")
    assert (
        len(
            {
                nonconformity_id(dossier, kind, "notice-1"),
                nonconformity_id(dossier, kind, "notice-2"),
                nonconformity_id(dossier, BreachKind.SECOND_DELAY_NOTICE, "notice-1"),
                nonconformity_id(str(uuid.uuid4()), kind, "notice-1"),
            }
        )
        == 4
    )
    assert str(uuid.UUID(nonconformity_id(dossier, kind, "notice-1"))) == nonconformity_id(
        dossier, kind, "notice-1"
    )


def _set(rule_set: str, start: str, until: str | None = None, **changes: Any) -> dict[str, Any]:
    return {
        "rule_set": rule_set,
        "instrument": "Circular",
        "effective_from": start,
        "effective_until": until,
        "postal_leg_late": {"citation": "Circular Art. 1"},
        "result_returned_to_agency": {"citation": "Decision Art. 2"},
        **changes,
    }


def test_the_postal_rule_in_force_on_the_day_is_cited() -> None:
    rules = parse_postal_rules(
        {"rule_sets": [_set("b", "2020-01-01"), _set("a", "2017-01-01", "2019-12-31")]}, "test"
    )
    assert rules.on(D(2016, 12, 31)) is None
    assert rules.on(D(2017, 1, 1)).rule_set == "a"  # type: ignore[union-attr]
    assert rules.on(D(2019, 12, 31)).rule_set == "a"  # type: ignore[union-attr]
    assert rules.on(D(2020, 1, 1)).rule_set == "b"  # type: ignore[union-attr]
    ended = parse_postal_rules({"rule_sets": [_set("a", "2017-01-01", "2019-12-31")]}, "test")
    assert ended.on(D(2020, 1, 1)) is None


@pytest.mark.parametrize(
    ("sets", "words"),
    [
        ([_set("a", "2017-01-01", "2019-12-30"), _set("b", "2020-01-01")], "must start the day after a"),
        ([_set("a", "2017-01-01"), _set("b", "2020-01-01")], "must start the day after a"),
        ([_set("a", "2017-01-01", postal_leg_late={"citation": ""})], "postal_leg_late.citation"),
        ([_set("a", "2017-01-01", penalty=4)], "penalty"),
        ([], "rule_sets"),
    ],
)
def test_a_postal_rule_file_that_is_malformed_or_leaves_a_gap_stops_the_start(
    sets: list[dict[str, Any]], words: str
) -> None:
    with pytest.raises(PostalRulesError, match=words):
        parse_postal_rules({"rule_sets": sets}, "breach_rules.yaml")


def test_a_postal_breach_after_the_last_postal_rule_set_ended_opens_nothing(rules: BreachRules) -> None:
    ended = parse_postal_rules({"rule_sets": [_set("old", "2017-01-01", "2025-12-31")]}, "test")
    j = journey()
    j.accepted(vn(MONDAY, 8))
    j.handed_over(vn(D(2026, 3, 5), 9))  # late against J+2
    j.agency_event("agency.result_ready", vn(D(2026, 3, 11)))  # late, no notice: the agency's rules hold

    found = breaches_of(BreachRules(rules.clocks, ended), j.events)

    assert kinds(found) == [(BreachKind.RESULT_LATE_WITHOUT_DELAY_NOTICE, Leg.AGENCY_PROCESSING.value)]

"""A mixed 2025 log (dossiers finished under Decree 61/2018 as amended and under Decree 118/2025) graded
the same live, on replay and by the tracker: one definition of on time (services/shared/timeliness.py).

Live: the events as the consumer meets them — postal and agency topics interleaved by time, one at a
time, each clock reconciled with the one stored (a finished clock is final). Replay: a rebuild that reads
the agency topic to its end and then the postal topic, all in one batch. The tracker: the dossier
detail's grade from its folded history.

Calendar facts: Sat 26 Apr 2025 is worked in exchange for Fri 2 May (30 Apr, 1 May holidays); National
Day 2025 takes Mon 1 – Tue 2 Sep off. Decree 118/2025 takes effect on Tue 1 Jul 2025; both instruments
are scored by the index (Decree 61's rule set since Decision 766's amendment of 23 Jun 2022).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import pytest

from contracts.enums import Leg
from contracts.envelope import Envelope
from contracts.events import Event
from services.shared.calendar import load_calendar
from services.shared.catalog import load_catalog
from services.shared.legal_rules import default_legal_rules
from services.shared.postal_limits import load_route_limits
from services.shared.timeliness import Timeliness
from services.tracker import domain as tracker
from services.tracker.handlers import CatalogAgencyDue, PhoneDigest, to_entry
from services.tracker.timeliness import agency_grade
from services.turnaround import domain
from services.turnaround.domain import Clock, ClockRules, Facts
from services.turnaround.provinces import load_provinces
from tests.turnaround.journeys import ENTERPRISE, Journey, vn

D = date
EARLY, ON_TIME, LATE = Timeliness.EARLY, Timeliness.ON_TIME, Timeliness.LATE


@pytest.fixture(scope="module")
def rules() -> ClockRules:
    return ClockRules(
        calendar=load_calendar(),
        catalog=load_catalog(),
        route_limits=load_route_limits(),
        provinces=load_provinces(),
    )


def dossier(
    serial: int, rules: ClockRules, filed: datetime, *agency: tuple[str, datetime, dict[str, Any]]
) -> Journey:
    j = Journey(serial, procedure=ENTERPRISE)
    j.accepted(vn(filed.date(), 8))
    j.handed_over(filed)
    j.received(filed, rules.calendar, rules.catalog)
    for kind, at, changes in agency:
        j.agency_event(kind, at, **changes)
    return j


def twice(
    asked: datetime, back: datetime, asked2: datetime, back2: datetime
) -> list[tuple[str, datetime, dict[str, Any]]]:
    return [
        ("agency.supplement_requested", asked, {}),
        ("agency.supplement_received", back, {"received_at": back}),
        ("agency.supplement_requested", asked2, {}),
        ("agency.supplement_received", back2, {"received_at": back2}),
    ]


def slip(issued: datetime, previous: date, new: date, breach: bool) -> tuple[str, datetime, dict[str, Any]]:
    changes = {
        "previous_due_date": previous,
        "new_due_date": new,
        "issued_on": issued.date(),
        "breach": breach,
    }
    return ("agency.delay_notified", issued, changes)


def ready(at: datetime) -> tuple[str, datetime, dict[str, Any]]:
    return ("agency.result_ready", at, {})


def the_log(rules: ClockRules) -> list[tuple[Journey, Timeliness]]:
    """Enterprise registrations (3 working days), each with the grade the index gives it."""
    serial = iter(range(71_000_000, 71_001_000))
    return [
        # Filed Fri 25 Apr 2025: the make-up Saturday counts, due Tue 29 Apr; ready that day.
        (dossier(next(serial), rules, vn(D(2025, 4, 25)), ready(vn(D(2025, 4, 29), 15))), ON_TIME),
        # Filed Mon 23 Jun 2025 under Decree 61; asked twice, the last supplement on Tue 24 Jun (due Fri
        # 27 Jun); ready Wed 25 Jun: early by the dates, late by the index.
        (
            dossier(
                next(serial),
                rules,
                vn(D(2025, 6, 23)),
                *twice(
                    vn(D(2025, 6, 23), 11),
                    vn(D(2025, 6, 24), 9),
                    vn(D(2025, 6, 24), 10),
                    vn(D(2025, 6, 24), 11),
                ),
                ready(vn(D(2025, 6, 25))),
            ),
            LATE,
        ),
        # Filed Mon 30 Jun 2025 (the last day of Decree 61), due Thu 3 Jul; ready Thu 3 Jul under Decree 118.
        (dossier(next(serial), rules, vn(D(2025, 6, 30)), ready(vn(D(2025, 7, 3), 16))), ON_TIME),
        # Filed Mon 30 Jun 2025 at 15:30: past the cut-off, counted from Tue 1 Jul, due Fri 4 Jul.
        (dossier(next(serial), rules, vn(D(2025, 6, 30), 15, 30), ready(vn(D(2025, 7, 4), 9))), ON_TIME),
        # Filed Tue 1 Jul 2025, due Fri 4 Jul; a slip issued on the due date (late) promises Wed 9 Jul;
        # ready Tue 8 Jul: late by the index.
        (
            dossier(
                next(serial),
                rules,
                vn(D(2025, 7, 1)),
                slip(vn(D(2025, 7, 4)), D(2025, 7, 4), D(2025, 7, 9), breach=True),
                ready(vn(D(2025, 7, 8))),
            ),
            LATE,
        ),
        # The same with a slip issued in time (Wed 2 Jul): early against Wed 9 Jul.
        (
            dossier(
                next(serial),
                rules,
                vn(D(2025, 7, 1)),
                slip(vn(D(2025, 7, 2)), D(2025, 7, 4), D(2025, 7, 9), breach=False),
                ready(vn(D(2025, 7, 8))),
            ),
            EARLY,
        ),
        # Filed Fri 29 Aug 2025 before National Day: due Fri 5 Sep; ready Mon 8 Sep.
        (dossier(next(serial), rules, vn(D(2025, 8, 29)), ready(vn(D(2025, 9, 8)))), LATE),
        # Filed Mon 8 Dec 2025, asked twice within two days, ready Thu 11 Dec before its date: late.
        (
            dossier(
                next(serial),
                rules,
                vn(D(2025, 12, 8)),
                *twice(
                    vn(D(2025, 12, 8), 11),
                    vn(D(2025, 12, 8), 14),
                    vn(D(2025, 12, 9), 9),
                    vn(D(2025, 12, 9), 10),
                ),
                ready(vn(D(2025, 12, 11))),
            ),
            LATE,
        ),
    ]


def grades_live(rules: ClockRules, events: Iterable[Envelope[Event]]) -> dict[str, Timeliness | None]:
    facts: dict[str, Facts] = {}
    stored: dict[str, Clock] = {}
    for envelope in events:
        dossier_id = envelope.subject
        facts[dossier_id] = domain.record(facts.get(dossier_id, Facts()), envelope)
        derived = domain.clocks_of(facts[dossier_id], rules).get(Leg.AGENCY_PROCESSING)
        if derived is not None:
            stored[dossier_id], _ = domain.reconcile(stored.get(dossier_id), derived, facts[dossier_id])
    return {d: c.timeliness for d, c in stored.items()}


def grades_replayed(rules: ClockRules, events: list[Envelope[Event]]) -> dict[str, Timeliness | None]:
    agency_topic_first = [e for e in events if e.type.startswith("agency.")] + [
        e for e in events if e.type.startswith("postal.")
    ]
    facts: dict[str, Facts] = {}
    for envelope in agency_topic_first:
        facts[envelope.subject] = domain.record(facts.get(envelope.subject, Facts()), envelope)
    return {d: domain.clocks_of(f, rules)[Leg.AGENCY_PROCESSING].timeliness for d, f in facts.items()}


def grades_of_the_tracker(
    rules: ClockRules, log: list[tuple[Journey, Timeliness]]
) -> dict[str, Timeliness | None]:
    due = CatalogAgencyDue(rules.catalog, rules.calendar, default_legal_rules())
    digest = PhoneDigest([b"replay-test-key"])
    out = {}
    for j, _ in log:
        history = [to_entry(e, digest) for e in j.events]
        view = tracker.fold(j.dossier_id, history, due)
        out[j.dossier_id] = agency_grade(
            history, view.result_ready_at, view.agency_due_date, default_legal_rules()
        )
    return out


def test_a_mixed_2025_log_is_graded_the_same_live_on_replay_and_by_the_tracker(rules: ClockRules) -> None:
    log = the_log(rules)
    expected = {j.dossier_id: grade for j, grade in log}
    live_order = sorted((e for j, _ in log for e in j.events), key=lambda e: e.time)

    assert grades_live(rules, live_order) == expected
    assert grades_replayed(rules, live_order) == expected
    assert grades_of_the_tracker(rules, log) == expected

"""The chaos workload is anchored on the moment it is built: its journeys end before that moment, and the
clocks it leaves open fall due around that day, so the services (which run on the wall clock) meet every
threshold, not only overdue ones. Pure: no broker, no database."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from services.turnaround import domain as clocks
from services.turnaround.app import load_rules
from services.turnaround.domain import Facts, Threshold
from services.turnaround.settings import TurnaroundSettings
from tests.reliability.workload import workload

# Two moments years apart: what the workload exercises does not depend on the day it runs.
MOMENTS = (datetime(2026, 12, 7, 3, 0, tzinfo=UTC), datetime(2031, 6, 3, 3, 0, tzinfo=UTC))


def _thresholds(now: datetime) -> Counter[str]:
    rules = load_rules(TurnaroundSettings())
    today = clocks.vn_day(now)
    work = workload(7, 4000, now=now)
    assert max(e.time for e in work.events) <= now, "no event happens after the workload's moment"
    reached: Counter[str] = Counter()
    for events in work.by_dossier.values():
        facts = Facts()
        for envelope in sorted(events, key=lambda e: e.time):
            facts = clocks.record(facts, envelope)
        for clock in clocks.clocks_of(facts, rules).values():
            if clock.is_open:
                threshold = clocks.threshold_reached(clock, today, rules.calendar)
                reached[threshold.value if threshold is not None else "not_due"] += 1
    return reached


def test_the_workload_leaves_open_clocks_due_soon_overdue_and_not_yet_due_on_its_day() -> None:
    for now in MOMENTS:
        reached = _thresholds(now)
        assert reached[Threshold.DUE_SOON.value] > 0, (now, reached)
        assert reached[Threshold.OVERDUE.value] > 0, (now, reached)
        assert reached["not_due"] > 0, (now, reached)

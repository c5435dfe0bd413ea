"""Dossiers the agency closed because the supplement never came (or an officer closed), counted apart.

Their agency clock stops without a timeliness (`ClockState.CLOSED`): they are neither on time nor late,
and not a cancellation either. Counted once per closure event, in the consumer's transaction (the inbox
makes a redelivery count nothing), by the agency clock's province, the procedure's field and the reason
(`contracts.enums.ClosureReason`, a closed set): `turnaround_agency_clocks_closed_total`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from prometheus_client.core import CounterMetricFamily, Metric

from contracts.enums import ClosureReason
from contracts.events import DossierClosed
from services.turnaround.adapters.repository import TallyKey
from services.turnaround.domain import ClockRules, Facts, field_key
from services.turnaround.provinces import UNKNOWN

AGENCY_CLOCK_CLOSED = "agency_clock_closed"
"""Tally name (turnaround_tally.metric)."""
REASONS = tuple(r.value for r in ClosureReason)


def closure_tally(event: DossierClosed, facts: Facts, rules: ClockRules) -> TallyKey:
    """The tally a closure adds to: the agency clock's province (the post office that handed the dossier
    over, else the agency's), the procedure's field, the reason."""
    province = (
        rules.provinces.of_post_office(facts.handover_post_office)
        or rules.provinces.of_agency(event.agency_code)
        or UNKNOWN
    )
    return TallyKey(
        AGENCY_CLOCK_CLOSED,
        province=province,
        field_key=field_key(facts, rules.catalog),
        outcome=event.reason.value,
    )


def closed_clock_metrics(tallies: Iterable[tuple[TallyKey, int, int]]) -> Metric:
    counts: dict[tuple[str, str, str], int] = defaultdict(int)
    for key, count, _ in tallies:
        if key.metric == AGENCY_CLOCK_CLOSED:
            # Every reason of a province and field starts at zero with its first closure (increase()).
            for reason in REASONS:
                counts[(key.province, key.field_key, reason)] += 0
            counts[(key.province, key.field_key, key.outcome)] += count
    fam = CounterMetricFamily(
        "turnaround_agency_clocks_closed",
        "Agency clocks stopped without a timeliness because the agency closed the dossier awaiting its "
        "supplement (Decree 118/2025 Art. 19(5)), by province, procedure field and reason "
        "(supplement_not_completed, supplement_declined, other). Not in the on-time ratio.",
        labels=["province", "field", "reason"],
    )
    for labels, n in sorted(counts.items()):
        fam.add_metric(list(labels), n)
    return fam

"""The nonconformities opened, by kind: a counter computed from the tally table, which the projector
adds to in the transaction that opens them (services/turnaround/metrics.py explains why tallies: every
replica exports the same exact value, after restarts and replays alike). Labels: the kind only (seven
values); never a dossier, an agency or a post office."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import CounterMetricFamily, Metric

from services.turnaround.adapters.repository import TallyKey
from services.turnaround.quality.breaches import Breach, BreachKind

NONCONFORMITY_OPENED = "nonconformity_opened"
"""The tally's name (turnaround_tally.metric); its outcome is the kind."""


def opened_tally(breach: Breach) -> TallyKey:
    return TallyKey(NONCONFORMITY_OPENED, outcome=breach.kind.value)


def nonconformity_metrics(tallies: Iterable[tuple[TallyKey, int, int]]) -> Metric:
    # Every kind is exported from zero, so increase() sees the first one opened.
    counts = dict.fromkeys((kind.value for kind in BreachKind), 0)
    for key, count, _ in tallies:
        if key.metric == NONCONFORMITY_OPENED and key.outcome in counts:
            counts[key.outcome] += count
    fam = CounterMetricFamily(
        "turnaround_nonconformities_opened",
        "Nonconformities opened in the quality register (ISO 9001 cl. 10.2), once per breach of the rules "
        "in force, by kind.",
        labels=["kind"],
    )
    for kind, n in counts.items():
        fam.add_metric([kind], n)
    return fam

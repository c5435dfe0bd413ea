"""Every Prometheus metric of the turnaround service.

Two kinds:
- Store-derived (`StoreCollector`): backlog gauges from the clock table, and the counters and histograms
  of finished clocks, delivery attempts, returns and journeys from the tally table, which the consumer
  updates in the same transaction that finishes a clock. Every replica exports the same values, right
  after a restart; PromQL deduplicates replicas with `max without (instance)` (see the recording rules
  in deploy/prometheus/rules/turnaround.yml), never `sum`.
- Process-local: alerts raised by this replica's scheduler and the snapshot's own health; sum these.

Labels are bounded: leg (3), province (34 + unknown), field (the catalog's field keys + unknown), route
class (4), timeliness (3), delivery outcome and failure reason (closed enums). Never a dossier id, an
agency or a post office code.

Prometheus collectors are synchronous and /metrics is served from the event loop, so the store is read
by a background task every few seconds (`StoreSnapshot.refresh`) and the collector serves the latest
snapshot; `turnaround_metrics_snapshot_timestamp_seconds` says how fresh it is.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.enums import DeliveryFailureReason, Leg, SupplementBreach
from services.shared.logs import log_event
from services.shared.postal_limits import RouteLimits
from services.turnaround.adapters import repository
from services.turnaround.adapters.lag import ConsumerLagMonitor
from services.turnaround.adapters.repository import BacklogRow, TallyKey
from services.turnaround.closures import closed_clock_metrics
from services.turnaround.domain import Timeliness
from services.turnaround.quality.nonconformity_metrics import nonconformity_metrics

logger = logging.getLogger(__name__)

# Tally names (turnaround_tally.metric).
CLOCK_FINISHED = "clock_finished"
DELIVERY_ATTEMPT = "delivery_attempt"
DELIVERY_FAILURE = "delivery_failure"
RESULT_RETURNED = "result_returned"
JOURNEY = "journey"
SUPPLEMENT_BREACH = "supplement_breach"
SUPPLEMENT_BREACH_REASONS = tuple(r.value for r in SupplementBreach)

# Working days are integers: bucket bounds at whole days make the histograms exact.
WORKING_DAY_BUCKETS: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60)
JOURNEY_BUCKETS: tuple[int, ...] = (1, 2, 3, 5, 7, 10, 15, 20, 30, 45, 60, 90)
DELIVERY_OUTCOMES = ("delivered", "failed")
FAILURE_REASONS = tuple(r.value for r in DeliveryFailureReason)


@dataclass
class Snapshot:
    taken_at: float = 0.0
    backlog: list[BacklogRow] = field(default_factory=list)
    tallies: list[tuple[TallyKey, int, int]] = field(default_factory=list)
    outbox_pending: int = 0


class StoreSnapshot:
    """The latest read of the store, refreshed in the background."""

    def __init__(
        self, engine: AsyncEngine, today: Callable[[], date], horizon: Callable[[date], date]
    ) -> None:
        self._engine = engine
        self._today = today
        self._horizon = horizon
        self.current = Snapshot()
        self.failures = 0

    async def refresh(self) -> None:
        today = self._today()
        async with self._engine.connect() as conn:
            backlog = await repository.backlog(conn, today, self._horizon(today))
            tallies = await repository.read_tallies(conn)
            pending = await repository.outbox_pending(conn)
        self.current = Snapshot(time.time(), backlog, tallies, pending)

    async def run(self, interval_s: float) -> None:
        while True:
            try:
                await self.refresh()
            except Exception as exc:  # keep serving the last snapshot; its timestamp shows the age
                self.failures += 1
                log_event(logger, "metrics_snapshot_failed", logging.WARNING, error=type(exc).__name__)
            await asyncio.sleep(interval_s)


class StoreCollector(Collector):
    def __init__(self, snapshot: StoreSnapshot, route_limits: RouteLimits) -> None:
        self._snapshot = snapshot
        self._route_limits = route_limits

    def collect(self) -> Iterator[Metric]:
        snap = self._snapshot.current
        yield from _backlog_metrics(snap.backlog)
        yield from _tally_metrics(snap.backlog, snap.tallies)
        yield supplement_breach_metrics(snap.tallies)
        yield closed_clock_metrics(snap.tallies)
        yield nonconformity_metrics(snap.tallies)
        pending = GaugeMetricFamily(
            "turnaround_outbox_pending", "Clock alerts stored but not yet acknowledged by Kafka."
        )
        pending.add_metric([], snap.outbox_pending)
        yield pending
        taken = GaugeMetricFamily(
            "turnaround_metrics_snapshot_timestamp_seconds",
            "When the store-derived metrics were last read from the database (Unix time; 0 = never).",
        )
        taken.add_metric([], snap.taken_at)
        yield taken
        failures = CounterMetricFamily(
            "turnaround_metrics_snapshot_failures", "Failed reads of the store-derived metrics."
        )
        failures.add_metric([], self._snapshot.failures)
        yield failures
        limits = GaugeMetricFamily(
            "turnaround_postal_limit_working_days",
            "The configured J+n limit of a postal leg by route class (n), for comparing against.",
            labels=["route"],
        )
        for route, days in sorted(self._route_limits.limits.items()):
            limits.add_metric([route.value], days)
        yield limits


def _backlog_metrics(rows: Iterable[BacklogRow]) -> Iterator[Metric]:
    labels = ["leg", "province", "field"]
    open_ = GaugeMetricFamily(
        "turnaround_open_clocks", "Clocks not finished (running or suspended).", labels=labels
    )
    suspended = GaugeMetricFamily(
        "turnaround_suspended_clocks", "Agency clocks stopped while a supplement is awaited.", labels=labels
    )
    due_soon = GaugeMetricFamily(
        "turnaround_due_soon_clocks",
        "Running clocks due within one working day (not yet overdue).",
        labels=labels,
    )
    overdue = GaugeMetricFamily(
        "turnaround_overdue_clocks", "Running clocks past their due date.", labels=labels
    )
    sums: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for row in rows:
        entry = sums[(row.leg, row.province, row.field_key)]
        entry[0] += row.open
        entry[1] += row.open if row.state == "suspended" else 0
        entry[2] += row.due_soon
        entry[3] += row.overdue
    for key, (n_open, n_suspended, n_due_soon, n_overdue) in sorted(sums.items()):
        open_.add_metric(list(key), n_open)
        suspended.add_metric(list(key), n_suspended)
        due_soon.add_metric(list(key), n_due_soon)
        overdue.add_metric(list(key), n_overdue)
    yield from (open_, suspended, due_soon, overdue)


def _histogram(
    family: HistogramMetricFamily,
    labels: list[str],
    values: dict[int, int],
    total: int,
    bounds: tuple[int, ...],
) -> None:
    cumulative, buckets = 0, []
    for bound in bounds:
        cumulative = sum(n for v, n in values.items() if v <= bound)
        buckets.append((str(float(bound)), cumulative))
    buckets.append(("+Inf", sum(values.values())))
    family.add_metric(labels, buckets, total)


def supplement_breach_metrics(tallies: Iterable[tuple[TallyKey, int, int]]) -> Metric:
    """Supplement requests that broke the rules in force, by the dossier's province and reason."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for key, count, _ in tallies:
        if key.metric == SUPPLEMENT_BREACH:
            # Every reason of a province starts at zero with its first breach, so increase() sees it.
            for reason in SUPPLEMENT_BREACH_REASONS:
                counts[(key.province, reason)] += 0
            counts[(key.province, key.outcome)] += count
    fam = CounterMetricFamily(
        "turnaround_supplement_breaches",
        "Supplement requests recorded although the rules in force did not allow them, by the dossier's "
        "province and reason (second_supplement_request, late_supplement_request); a request may have both.",
        labels=["province", "reason"],
    )
    for labels, n in sorted(counts.items()):
        fam.add_metric(list(labels), n)
    return fam


def _tally_metrics(
    backlog: Iterable[BacklogRow], tallies: Iterable[tuple[TallyKey, int, int]]
) -> Iterator[Metric]:
    finished: dict[tuple[str, str, str, str], int] = defaultdict(int)
    by_leg: dict[tuple[str, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    by_leg_total: dict[tuple[str, str], int] = defaultdict(int)
    postal: dict[tuple[str, str, str], int] = defaultdict(int)
    postal_days: dict[tuple[str, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    postal_total: dict[tuple[str, str], int] = defaultdict(int)
    attempts: dict[tuple[str, str], int] = defaultdict(int)
    failures: dict[tuple[str, str], int] = defaultdict(int)
    returned: dict[str, int] = defaultdict(int)
    journey_wd: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    journey_wd_total: dict[str, int] = defaultdict(int)
    journey_days: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    journey_days_total: dict[str, int] = defaultdict(int)

    # Series start at zero as soon as a clock of their labels is open (or has finished), so that
    # increase() counts the first finished clock too: a series first seen at 1 loses that 1 in PromQL.
    def start_at_zero(leg: str, province: str, field_key: str, route: str) -> None:
        for t in Timeliness:
            finished[(leg, province, field_key, t.value)] += 0
            if route:
                postal[(leg, route, t.value)] += 0
        by_leg[(leg, province)]
        by_leg_total[(leg, province)] += 0
        if route:
            postal_days[(leg, route)]
            postal_total[(leg, route)] += 0
        if leg == Leg.RETURN_POSTAL.value:  # deliveries and journeys follow the return leg
            for outcome in DELIVERY_OUTCOMES:
                attempts[(province, outcome)] += 0
            for reason in FAILURE_REASONS:
                failures[(province, reason)] += 0
            returned[province] += 0
            journey_wd[province]
            journey_wd_total[province] += 0
            journey_days[province]
            journey_days_total[province] += 0

    for row in backlog:
        start_at_zero(row.leg, row.province, row.field_key, row.route)
    for key, count, total in tallies:
        if key.metric == CLOCK_FINISHED:
            start_at_zero(key.leg, key.province, key.field_key, key.route)
            finished[(key.leg, key.province, key.field_key, key.outcome)] += count
            by_leg[(key.leg, key.province)][key.working_days] += count
            by_leg_total[(key.leg, key.province)] += total
            if key.route:
                postal[(key.leg, key.route, key.outcome)] += count
                postal_days[(key.leg, key.route)][key.working_days] += count
                postal_total[(key.leg, key.route)] += total
        elif key.metric == DELIVERY_ATTEMPT:
            attempts[(key.province, key.outcome)] += count
        elif key.metric == DELIVERY_FAILURE:
            failures[(key.province, key.outcome)] += count
        elif key.metric == RESULT_RETURNED:
            returned[key.province] += count
        elif key.metric == JOURNEY and key.outcome == "working_days":
            journey_wd[key.province][key.working_days] += count
            journey_wd_total[key.province] += total
        elif key.metric == JOURNEY and key.outcome == "days":
            journey_days[key.province][key.working_days] += count
            journey_days_total[key.province] += total

    fam = CounterMetricFamily(
        "turnaround_clocks_finished",
        "Clocks finished, by leg, province, procedure field and timeliness (early, on_time, late); "
        "the agency clock's as the service-quality index counts it (late above the allowed supplement "
        "requests, a late apology slip moves no date) from Decision 766/QĐ-TTg, 23/6/2022.",
        labels=["leg", "province", "field", "timeliness"],
    )
    for labels, n in sorted(finished.items()):
        fam.add_metric(list(labels), n)
    yield fam

    hist = HistogramMetricFamily(
        "turnaround_clock_working_days",
        "Working days a finished clock ran (start day not counted), by leg and province.",
        labels=["leg", "province"],
    )
    for (leg, province), values in sorted(by_leg.items()):
        _histogram(hist, [leg, province], values, by_leg_total[(leg, province)], WORKING_DAY_BUCKETS)
    yield hist

    fam = CounterMetricFamily(
        "turnaround_postal_legs_finished",
        "Postal legs finished, by leg, route class and timeliness against J+n (national).",
        labels=["leg", "route", "timeliness"],
    )
    for labels3, n in sorted(postal.items()):
        fam.add_metric(list(labels3), n)
    yield fam

    hist = HistogramMetricFamily(
        "turnaround_postal_leg_working_days",
        "Working days a postal leg took (J not counted), by leg and route class (national).",
        labels=["leg", "route"],
    )
    for (leg, route), values in sorted(postal_days.items()):
        _histogram(hist, [leg, route], values, postal_total[(leg, route)], WORKING_DAY_BUCKETS)
    yield hist

    fam = CounterMetricFamily(
        "turnaround_delivery_attempts",
        "Delivery attempts of results, by the delivering post office's province and outcome.",
        labels=["province", "outcome"],
    )
    for labels2, n in sorted(attempts.items()):
        fam.add_metric(list(labels2), n)
    yield fam

    fam = CounterMetricFamily(
        "turnaround_delivery_failures",
        "Failed delivery attempts, by province and reason.",
        labels=["province", "reason"],
    )
    for (province, reason), n in sorted(failures.items()):
        fam.add_metric([province, reason], n)
    yield fam

    fam = CounterMetricFamily(
        "turnaround_results_returned",
        "Results the post returned to the agency as undeliverable, by province.",
        labels=["province"],
    )
    for province, n in sorted(returned.items()):
        fam.add_metric([province], n)
    yield fam

    hist = HistogramMetricFamily(
        "turnaround_journey_working_days",
        "Working days from acceptance (or filing) to delivery of the result, by province.",
        labels=["province"],
    )
    for province, values in sorted(journey_wd.items()):
        _histogram(hist, [province], values, journey_wd_total[province], JOURNEY_BUCKETS)
    yield hist

    hist = HistogramMetricFamily(
        "turnaround_journey_days",
        "Calendar days from acceptance (or filing) to delivery of the result, by province.",
        labels=["province"],
    )
    for province, values in sorted(journey_days.items()):
        _histogram(hist, [province], values, journey_days_total[province], JOURNEY_BUCKETS)
    yield hist


class LagCollector(Collector):
    """`dossier_consumer_lag_records{group,topic}`: the same name every service should export."""

    def __init__(self, monitor: ConsumerLagMonitor) -> None:
        self._monitor = monitor

    def collect(self) -> Iterator[Metric]:
        lag = GaugeMetricFamily(
            "dossier_consumer_lag_records",
            "Records on the topic not yet committed by the consumer group (end offset minus committed).",
            labels=["group", "topic"],
        )
        for (group, topic), records in sorted(self._monitor.current.lag.items()):
            lag.add_metric([group, topic], records)
        yield lag
        failures = CounterMetricFamily(
            "dossier_consumer_lag_failures", "Failed measurements of consumer lag.", labels=[]
        )
        failures.add_metric([], self._monitor.failures)
        yield failures


class TurnaroundMetrics:
    """The process-local metrics."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.alerts = Counter(
            "turnaround_clock_alerts",
            "Clock alerts raised by this replica's scheduler, by leg and threshold (sum over replicas).",
            ["leg", "threshold"],
            registry=registry,
        )
        self.ticks = Counter(
            "turnaround_scheduler_ticks",
            "Scheduler ticks by outcome (ok, failed).",
            ["outcome"],
            registry=registry,
        )
        self.published = Counter(
            "turnaround_alerts_published",
            "Clock alerts published from the outbox by this replica.",
            registry=registry,
        )
        for leg in Leg:
            for threshold in ("due_soon", "overdue"):
                self.alerts.labels(leg.value, threshold)
        for outcome in ("ok", "failed"):
            self.ticks.labels(outcome)

"""What every dashboard query must answer, computed from what the dashboard test did and measured.

`EXPECTED` is keyed by (dashboard uid, panel title, query refId): a panel query without an entry, or an
entry without its panel query, fails the test, so renaming or adding a panel cannot drop its check.
Each entry receives the query's result and the test's `Facts` (the clocks it opened and finished, the
events it published, the alerts it raised, the scrapes and durations Prometheus measured) and raises
AssertionError when the value does not follow from them."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from tests.turnaround.notification_traffic import TRAFFIC, NotificationTraffic

Result = list[dict[str, Any]]
Key = tuple[str, ...]

IN, AG, RET = "INBOUND_POSTAL", "AGENCY_PROCESSING", "RETURN_POSTAL"
LEGS = (IN, AG, RET)
POSTAL_LEGS = (IN, RET)
TIMELINESS = ("early", "on_time", "late")
# services/turnaround/metrics.py: working days are whole numbers, the bucket bounds whole days.
WORKING_DAY_BOUNDS = (0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60)
JOURNEY_BOUNDS = (1, 2, 3, 5, 7, 10, 15, 20, 30, 45, 60, 90)
# services/shared/http.py
HTTP_BOUNDS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# services/notifications/metrics.py
PROVIDER_BOUNDS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# deploy/prometheus/rules/notifications.yml: above it, NotificationsFailureRatioHigh pages.
FAILURE_RATIO_THRESHOLD = 0.1


@dataclass(frozen=True)
class FinishedClock:
    leg: str
    province: str
    field: str
    timeliness: str
    working_days: int
    route: str  # the postal route class; "" for the agency leg
    agency: str = ""  # the agency code of an agency clock


@dataclass(frozen=True)
class OpenClock:
    dossier_id: str
    leg: str
    province: str
    field: str
    due_date: date
    suspended: bool = False
    due_soon: bool = False
    overdue_days: int = 0  # working days past the due date on the judging day

    @property
    def overdue(self) -> bool:
        return self.overdue_days > 0


@dataclass
class Facts:
    """What the test did (clocks, events, alerts) and what it measured (scrapes, durations)."""

    finished: list[FinishedClock]
    open: list[OpenClock]
    published: Counter[str]  # events by type
    published_by_topic: Counter[str]  # records by topic, poison included
    poison: int
    alerts: Counter[str]  # raised by the scheduler ticks the test made, by threshold
    group: str
    topics: tuple[str, ...]  # the topics the turnaround group consumes
    window_s: float  # $__range and $__rate_interval
    scrapes: float = 0  # scrapes of the turnaround target within the window (Prometheus' own count)
    max_scrape_s: float = 0  # the longest of them, as Prometheus timed it
    elapsed_s: float = 0  # from the first event published to the queries, on the test's clock
    province: str = ".*"  # the drilldown's $province
    extra: dict[str, Any] = field(default_factory=dict)

    def in_province(self) -> Facts:
        """The facts the drilldown sees: the clocks of its province only."""
        if self.province == ".*":
            return self
        return Facts(
            [c for c in self.finished if c.province == self.province],
            [c for c in self.open if c.province == self.province],
            self.published,
            self.published_by_topic,
            self.poison,
            self.alerts,
            self.group,
            self.topics,
            self.window_s,
            self.scrapes,
            self.max_scrape_s,
            self.elapsed_s,
            self.province,
        )

    def per_hour(self, count: float) -> float:
        return count * 3600 / self.window_s

    def per_second(self, count: float) -> float:
        return count / self.window_s


# --------------------------------------------------------------------------- comparisons


def close(actual: float, expected: float, rel: float = 0.1) -> bool:
    # increase() and rate() extrapolate to the ends of their window by up to one scrape interval.
    return math.isclose(actual, expected, rel_tol=rel, abs_tol=1e-9)


def by_labels(result: Result, *labels: str) -> dict[Key, float]:
    return {tuple(r["metric"].get(label, "") for label in labels): float(r["value"][1]) for r in result}


def single(result: Result) -> float:
    assert len(result) == 1, f"one series expected, got {len(result)}"
    return float(result[0]["value"][1])


def equal(got: dict[Key, float], want: dict[Key, float], rel: float = 0.1) -> None:
    """The same series, each with the expected value."""
    assert set(got) == set(want) and all(close(got[k], v, rel) for k, v in want.items()), (
        f"got {got}, want {want}"
    )


def nonzero(got: dict[Key, float], want: dict[Key, float], rel: float = 0.1) -> None:
    """The same non-zero series, each with the expected value (series kept at zero are ignored)."""
    equal({k: v for k, v in got.items() if v}, {k: v for k, v in want.items() if v}, rel)


def tally(items: Iterable[Key]) -> dict[Key, float]:
    return {k: float(v) for k, v in Counter(items).items()}


def quantile(q: float, values: Sequence[float], bounds: tuple[float, ...]) -> float:
    """PromQL histogram_quantile over the buckets these observations fill."""
    counts = [float(sum(1 for v in values if v <= bound)) for bound in bounds]
    total = float(len(values))
    rank = q * total
    for i, count in enumerate(counts):
        if count >= rank:
            if i == 0 and bounds[0] <= 0:
                return bounds[0]
            lower, below = (bounds[i - 1], counts[i - 1]) if i else (0.0, 0.0)
            return lower + (bounds[i] - lower) * (rank - below) / (count - below)
    return bounds[-1]


def ratio(part: float, whole: float) -> float:
    return part / whole


# --------------------------------------------------------------------------- what follows from the facts


def finished_by(facts: Facts, *attrs: str, **where: Any) -> dict[Key, float]:
    chosen = [c for c in facts.finished if all(getattr(c, k) in _set(v) for k, v in where.items())]
    return tally(tuple(getattr(c, a) for a in attrs) for c in chosen)


def _set(value: Any) -> tuple[Any, ...]:
    return value if isinstance(value, tuple) else (value,)


def open_by(facts: Facts, attr: str | None, flag: str | None = None) -> dict[Key, float]:
    chosen = [c for c in facts.open if flag is None or getattr(c, flag)]
    return tally((getattr(c, attr),) if attr else () for c in chosen)


def open_total(facts: Facts, flag: str | None = None) -> float:
    return float(sum(1 for c in facts.open if flag is None or getattr(c, flag)))


def share_by_leg(facts: Facts, good: Callable[[FinishedClock], float]) -> dict[Key, float]:
    out: dict[Key, float] = {}
    for leg in LEGS:
        clocks = [c for c in facts.finished if c.leg == leg]
        if clocks:
            out[(leg,)] = sum(good(c) for c in clocks) / len(clocks)
    return out


def index_share_by(facts: Facts, attr: str) -> dict[Key, float]:
    """The service-quality index's on-time ratio of the agency clocks (timeliness as graded), by `attr`."""
    groups: dict[Key, list[FinishedClock]] = {}
    for c in facts.finished:
        if c.leg == AG:
            groups.setdefault((getattr(c, attr),), []).append(c)
    return {k: sum(_not_late(c) for c in clocks) / len(clocks) for k, clocks in groups.items()}


def _agency_table(rows: Result, f: Facts) -> None:
    got = {(r["agency"],): (round(float(r["on_time_ratio"]), 6), int(r["finished"])) for r in rows}
    counts = tally((c.agency,) for c in f.finished if c.leg == AG)
    want = {k: (round(v, 6), int(counts[k])) for k, v in index_share_by(f, "agency").items()}
    assert got == want, f"got {got}, want {want}"
    ratios = [float(r["on_time_ratio"]) for r in rows]
    assert ratios == sorted(ratios), "the agencies furthest from the index come first"


def days_quantile_by(facts: Facts, q: float, *attrs: str, legs: tuple[str, ...] = LEGS) -> dict[Key, float]:
    groups: dict[Key, list[int]] = {}
    for c in facts.finished:
        if c.leg in legs:
            groups.setdefault(tuple(getattr(c, a) for a in attrs), []).append(c.working_days)
    return {k: quantile(q, v, WORKING_DAY_BOUNDS) for k, v in groups.items()}


def cumulative_days(facts: Facts) -> dict[Key, float]:
    out: dict[Key, float] = {}
    for leg in LEGS:
        days = [c.working_days for c in facts.finished if c.leg == leg]
        if not days:
            continue
        for bound in WORKING_DAY_BOUNDS:
            out[(leg, str(float(bound)))] = float(sum(1 for d in days if d <= bound))
        out[(leg, "+Inf")] = float(len(days))
    return out


def _not_late(c: FinishedClock) -> float:
    return 0.0 if c.timeliness == "late" else 1.0


def _score(c: FinishedClock) -> float:
    return {"early": 2.0, "on_time": 1.0, "late": 0.0}[c.timeliness]


def _late(c: FinishedClock) -> float:
    return 1.0 if c.timeliness == "late" else 0.0


def upper_bound(measured: float, bounds: tuple[float, ...]) -> float:
    """The smallest bucket bound at or above a measured duration: no quantile can exceed it."""
    return next((b for b in bounds if b >= measured), math.inf)


# --------------------------------------------------------------------------- one entry per panel query

Check = Callable[[Result, Facts], None]


def _national() -> dict[tuple[str, str], Check]:
    return {
        ("Open clocks", "A"): lambda r, f: equal({(): single(r)}, {(): open_total(f)}, 0),
        ("Due within one working day", "A"): lambda r, f: equal(
            {(): single(r)}, {(): open_total(f, "due_soon")}, 0
        ),
        ("Overdue", "A"): lambda r, f: equal({(): single(r)}, {(): open_total(f, "overdue")}, 0),
        ("Awaiting a supplement", "A"): lambda r, f: equal(
            {(): single(r)}, {(): open_total(f, "suspended")}, 0
        ),
        ("Backlog by leg", "A"): lambda r, f: nonzero(by_labels(r, "leg"), open_by(f, "leg"), 0),
        ("Backlog by leg", "B"): lambda r, f: nonzero(by_labels(r, "leg"), open_by(f, "leg", "due_soon"), 0),
        ("Backlog by leg", "C"): lambda r, f: nonzero(by_labels(r, "leg"), open_by(f, "leg", "overdue"), 0),
        ("Clocks finished per hour, by leg", "A"): lambda r, f: equal(
            by_labels(r, "leg"), {k: f.per_hour(v) for k, v in finished_by(f, "leg").items()}
        ),
        ("Clocks finished, by leg and timeliness", "A"): lambda r, f: nonzero(
            by_labels(r, "leg", "timeliness"), finished_by(f, "leg", "timeliness")
        ),
        ("Early or on time, by leg", "A"): lambda r, f: equal(
            by_labels(r, "leg"), share_by_leg(f, _not_late), 0.02
        ),
        ("Index on-time ratio, by province", "A"): lambda r, f: equal(
            by_labels(r, "province"), index_share_by(f, "province"), 0.02
        ),
        ("Index on-time ratio, by procedure field", "A"): lambda r, f: equal(
            by_labels(r, "field"), index_share_by(f, "field"), 0.02
        ),
        ("Official score (early 2, on time 1, late 0)", "A"): lambda r, f: equal(
            by_labels(r, "leg"), share_by_leg(f, _score), 0.02
        ),
        ("Late share against the error budget", "A"): lambda r, f: equal(
            by_labels(r, "leg"), share_by_leg(f, _late), 0.05
        ),
        ("Late share against the error budget", "B"): lambda r, f: equal(
            by_labels(r, "leg"), share_by_leg(f, _late), 0.05
        ),
        # The objective is 95 % not late: the budget is the 5 % left.
        ("Late share against the error budget", "C"): lambda r, f: equal({(): single(r)}, {(): 0.05}, 1e-9),
        ("Overdue clocks by province", "A"): lambda r, f: nonzero(
            by_labels(r, "province"), open_by(f, "province", "overdue"), 0
        ),
        ("Overdue and due soon over time", "A"): lambda r, f: nonzero(
            by_labels(r, "leg"), open_by(f, "leg", "overdue"), 0
        ),
        ("Overdue and due soon over time", "B"): lambda r, f: nonzero(
            by_labels(r, "leg"), open_by(f, "leg", "due_soon"), 0
        ),
        ("Median working days, by leg", "A"): lambda r, f: equal(
            by_labels(r, "leg"), days_quantile_by(f, 0.5, "leg"), 0.05
        ),
        ("90th percentile working days, by leg", "A"): lambda r, f: equal(
            by_labels(r, "leg"), days_quantile_by(f, 0.9, "leg"), 0.05
        ),
        ("Finished clocks by working days taken (cumulative)", "A"): lambda r, f: nonzero(
            by_labels(r, "leg", "le"), cumulative_days(f)
        ),
        ("Whole journey, median (working days / calendar days)", "A"): lambda r, f: equal(
            {(): single(r)}, {(): f.extra["journey_working_days_median"]}, 0.05
        ),
        ("Whole journey, median (working days / calendar days)", "B"): lambda r, f: equal(
            {(): single(r)}, {(): f.extra["journey_days_median"]}, 0.05
        ),
    }


def _drilldown() -> dict[tuple[str, str], Check]:
    def p(check: Check) -> Check:
        return lambda r, f: check(r, f.in_province())

    national = _national()
    same = [
        "Open clocks",
        "Due within one working day",
        "Overdue",
        "Backlog by leg",
        "Early or on time, by leg",
        "Median working days, by leg",
    ]
    table = {key: p(check) for key, check in national.items() if key[0] in same}
    table.update(
        {
            ("Clocks finished per hour, by timeliness", "A"): p(
                lambda r, f: nonzero(
                    by_labels(r, "timeliness"),
                    {k: f.per_hour(v) for k, v in finished_by(f, "timeliness").items()},
                )
            ),
            ("Overdue by procedure field", "A"): p(
                lambda r, f: nonzero(by_labels(r, "field"), open_by(f, "field", "overdue"), 0)
            ),
            ("Overdue by province", "A"): p(
                lambda r, f: nonzero(by_labels(r, "province"), open_by(f, "province", "overdue"), 0)
            ),
            # A table read from PostgreSQL (the test runs its SQL with $__timeTo() at the judging day).
            ("Overdue dossiers", "A"): _overdue_table,
            ("Index on-time ratio, by agency", "A"): _agency_table,
            ("Late in the period, by procedure field", "A"): p(
                lambda r, f: nonzero(by_labels(r, "field"), finished_by(f, "field", timeliness="late"))
            ),
        }
    )
    return table


def _postal() -> dict[tuple[str, str], Check]:
    return {
        ("Within J+n, by leg and route", "A"): lambda r, f: equal(
            by_labels(r, "leg", "route"),
            {
                k: ratio(
                    finished_by(f, "leg", "route", leg=k[0], route=k[1], timeliness=("early", "on_time")).get(
                        k, 0
                    ),
                    v,
                )
                for k, v in finished_by(f, "leg", "route", leg=POSTAL_LEGS).items()
            },
            0.02,
        ),
        ("90th percentile working days against the limit, by route", "A"): lambda r, f: equal(
            by_labels(r, "leg", "route"), days_quantile_by(f, 0.9, "leg", "route", legs=POSTAL_LEGS), 0.05
        ),
        ("90th percentile working days against the limit, by route", "B"): lambda r, f: equal(
            by_labels(r, "route"), {(k,): float(v) for k, v in f.extra["route_limits"].items()}, 0
        ),
        ("Postal legs finished per hour, by timeliness", "A"): lambda r, f: nonzero(
            by_labels(r, "leg", "timeliness"),
            {k: f.per_hour(v) for k, v in finished_by(f, "leg", "timeliness", leg=POSTAL_LEGS).items()},
        ),
        ("Late postal legs by province", "A"): lambda r, f: nonzero(
            by_labels(r, "province"), finished_by(f, "province", leg=POSTAL_LEGS, timeliness="late")
        ),
        ("Open postal legs overdue, by province", "A"): lambda r, f: nonzero(
            by_labels(r, "province"),
            tally((c.province,) for c in f.open if c.overdue and c.leg in POSTAL_LEGS),
            0,
        ),
        ("Delivery attempts, by outcome", "A"): lambda r, f: nonzero(
            by_labels(r, "outcome"),
            {
                ("delivered",): f.published["postal.result_delivered"],
                ("failed",): f.published["postal.delivery_failed"],
            },
        ),
        ("Attempts that delivered", "A"): lambda r, f: equal(
            {(): single(r)},
            {
                (): ratio(
                    f.published["postal.result_delivered"],
                    f.published["postal.result_delivered"] + f.published["postal.delivery_failed"],
                )
            },
            0.02,
        ),
        ("Failed attempts, by reason", "A"): lambda r, f: nonzero(
            by_labels(r, "reason"), {(f.extra["failure_reason"],): f.published["postal.delivery_failed"]}
        ),
        ("Results returned to the agency", "A"): lambda r, f: equal(
            {(): single(r)}, {(): f.published["postal.result_returned_to_agency"]}
        ),
    }


def _pipeline() -> dict[tuple[str, str], Check]:
    return {
        # Only turnaround and notifications have a target here (the other services are not started).
        ("Instances up, by service", "A"): lambda r, f: equal(
            by_labels(r, "job"), {("turnaround",): 1, ("notifications",): 1}, 0
        ),
        # Prometheus' scrapes are the only HTTP requests the service got before the queries.
        ("HTTP requests per second, by service and status", "A"): lambda r, f: equal(
            by_labels(r, "job", "status"), {("turnaround", "200"): f.per_second(f.scrapes)}
        ),
        ("HTTP latency p95, by service", "A"): lambda r, f: _within(
            by_labels(r, "job"), {("turnaround",)}, 0, upper_bound(f.max_scrape_s, HTTP_BOUNDS)
        ),
        ("Messages received per second, by service and topic", "A"): lambda r, f: _received(r, f),
        ("Records by outcome, per consumer", "A"): lambda r, f: nonzero(
            by_labels(r, "consumer", "outcome"),
            {
                (f.group, "applied"): f.per_second(f.published.total()),
                (f.group, "dead_lettered"): f.per_second(f.poison),
            },
        ),
        # The test waited for the service to consume everything it published: no lag is left.
        ("Consumer lag, by group and topic", "A"): lambda r, f: equal(
            {k: v for k, v in by_labels(r, "group", "topic").items() if k[0] == f.group},
            {(f.group, topic): 0 for topic in f.topics},
            0,
        ),
        ("Batch apply time p95, by consumer", "A"): lambda r, f: _within(
            by_labels(r, "consumer"), {(f.group,)}, 0, f.elapsed_s
        ),
        ("Processed batches by status, per service", "A"): lambda r, f: _processed(r, f),
        ("Dead letters in the period, by consumer and reason", "A"): lambda r, f: nonzero(
            by_labels(r, "consumer", "reason"), {(f.group, "malformed_json"): f.poison}
        ),
        ("Messages published per second, by service and topic", "A"): lambda r, f: _published(r, f),
        ("Clock alerts raised in the period, by threshold", "A"): lambda r, f: nonzero(
            by_labels(r, "threshold"), {(k,): float(v) for k, v in f.alerts.items()}
        ),
        ("Alerts waiting for Kafka", "A"): lambda r, f: equal({(): single(r)}, {(): 0}, 0),
        # The snapshot is refreshed every snapshot_interval_s and scraped every second.
        ("Age of the backlog metrics", "A"): lambda r, f: _within(
            {(): single(r)}, {()}, -1, f.extra["snapshot_interval_s"] + 2
        ),
    }


def _within(got: dict[Key, float], keys: set[Key], low: float, high: float) -> None:
    assert set(got) == keys and all(low < v <= high for v in got.values()), f"got {got}, want ({low}, {high}]"


# FastStream's own counters are bounded, not exact: a batch is counted under the topic of its first
# record, and a series is created at its first batch, which rate() therefore never sees. So: only our
# topics, some traffic, and never more than the records the test published.
def _faststream(got: dict[Key, float], keys: set[Key], most: float) -> None:
    assert got and set(got) <= keys, f"got {got}, want series among {keys}"
    assert 0 < sum(got.values()) <= most * 1.1, f"got {got}, want a total in (0, {most}]"


def _received(r: Result, f: Facts) -> None:
    _faststream(
        by_labels(r, "app_name", "handler"),
        {("turnaround", topic) for topic in f.topics},
        f.per_second(f.published_by_topic.total()),
    )


def _processed(r: Result, f: Facts) -> None:
    # No batch failed or was rejected: every status with traffic is "acked".
    got = by_labels(r, "app_name", "status")
    _faststream(
        got, {("turnaround", "acked"), ("turnaround", "error")}, f.per_second(f.published_by_topic.total())
    )
    assert not got.get(("turnaround", "error")), got


def _published(r: Result, f: Facts) -> None:
    # The clock alerts, and the poison records to their dead-letter topic.
    _faststream(
        by_labels(r, "job", "topic"),
        {("turnaround", f.extra["alerts_topic"])} | {("turnaround", f"{t}.dlt") for t in f.topics},
        f.per_second(sum(f.alerts.values()) + f.poison),
    )


def _overdue_table(rows: Result, f: Facts) -> None:
    got = {(r["dossier_id"], r["leg"], r["due_date"], r["days_overdue"]) for r in rows}
    want = {(c.dossier_id, c.leg, c.due_date, c.overdue_days) for c in f.open if c.overdue}
    assert got == want, f"got {sorted(got)}, want {sorted(want)}"


# --------------------------------------------------------------------------- quality objectives

# The objectives file the dashboard test serves. Each is measurable from the facts because every clock of
# its leg that the scenario finishes falls in its current period on the judging day (11 March 2026): the
# agency and return legs finish in March, the inbound legs in February and March (the first quarter).
# Passports are told by their field (xuat_nhap_canh): none of their agency clocks finishes.
QUALITY_OBJECTIVES: list[dict[str, Any]] = [
    {
        "id": "agency-on-time-monthly",
        "scope": {"kind": "national"},
        "measure": "on_time_share",
        "leg": AG,
        "target": {"at_least": 95},
        "period": "month",
    },
    {
        "id": "inbound-on-time-quarterly",
        "scope": {"kind": "national"},
        "measure": "on_time_share",
        "leg": IN,
        "target": {"at_least": 80},
        "period": "quarter",
    },
    {
        "id": "return-on-time-hcmc-monthly",
        "scope": {"kind": "province", "code": "ho_chi_minh"},
        "measure": "on_time_share",
        "leg": RET,
        "target": {"at_least": 98},
        "period": "month",
    },
    {
        "id": "passport-on-time-quarterly",
        "scope": {"kind": "national"},
        "procedure_code": "1.001456",
        "measure": "on_time_share",
        "leg": AG,
        "target": {"at_least": 95},
        "period": "quarter",
    },
    {
        "id": "late-notices-quarterly",
        "scope": {"kind": "national"},
        "measure": "nonconformity_count",
        "nonconformity_kind": "late_delay_notice",
        "target": {"at_most": 0},
        "period": "quarter",
    },
]
_PASSPORT_FIELD = "xuat_nhap_canh"
OPEN_AGE_BANDS = ("under_7d", "7d_to_30d", "30d_to_90d", "over_90d")


def objective_scope(objective: dict[str, Any]) -> str:
    scope = objective["scope"]
    return scope["kind"] if scope["kind"] == "national" else f"{scope['kind']}:{scope['code']}"


def objective_figures(f: Facts, objective: dict[str, Any]) -> tuple[int, int | None]:
    """(numerator, denominator) from the scenario's finished clocks, or the count of late delay notices
    the test counted in the nonconformity table (f.extra["late_delay_notices"])."""
    if objective["measure"] == "nonconformity_count":
        return int(f.extra["late_delay_notices"]), None
    scope = objective["scope"]
    clocks = [
        c
        for c in f.finished
        if c.leg == objective["leg"]
        and (scope["kind"] != "province" or c.province == scope["code"])
        and ("procedure_code" not in objective or c.field == _PASSPORT_FIELD)
    ]
    return sum(1 for c in clocks if _not_late(c)), len(clocks)


def objective_value(f: Facts, objective: dict[str, Any]) -> float | None:
    """A percent with two decimals rounded down, or the count; None when nothing finished."""
    numerator, denominator = objective_figures(f, objective)
    if denominator is None:
        return float(numerator)
    if denominator == 0:
        return None
    return (numerator * 10000 // denominator) / 100


def objective_met(f: Facts, objective: dict[str, Any]) -> bool | None:
    value = objective_value(f, objective)
    if value is None:
        return None
    target: dict[str, float] = objective["target"]
    return value >= target["at_least"] if "at_least" in target else value <= target["at_most"]


def _per_objective(f: Facts, of: Callable[[dict[str, Any]], float | None]) -> dict[Key, float]:
    values = {(o["id"], objective_scope(o)): of(o) for o in QUALITY_OBJECTIVES}
    return {k: float(v) for k, v in values.items() if v is not None}


def _verdicts(f: Facts, met: bool | None) -> float:
    return float(sum(1 for o in QUALITY_OBJECTIVES if objective_met(f, o) is met))


def _open_nc(f: Facts, *by: int, bands: tuple[str, ...] = OPEN_AGE_BANDS) -> dict[Key, float]:
    """Open nonconformities the test counted in the table, keyed (responsible kind, province, band)."""
    out: dict[Key, float] = {}
    for key, n in f.extra["open_nonconformities"].items():
        if key[2] in bands:
            chosen = tuple(key[i] for i in by)
            out[chosen] = out.get(chosen, 0.0) + n
    return out


def _quality() -> dict[tuple[str, str], Check]:
    def target(o: dict[str, Any]) -> float:
        return float(next(iter(o["target"].values())))

    def met(f: Facts) -> Callable[[dict[str, Any]], float | None]:
        return lambda o: None if (m := objective_met(f, o)) is None else float(m)

    def measured(r: Result, f: Facts) -> None:
        equal(by_labels(r, "objective", "scope"), _per_objective(f, lambda o: objective_value(f, o)), 1e-9)

    return {
        ("Objective vs measured, per scope", "A"): lambda r, f: equal(
            by_labels(r, "objective", "scope"), _per_objective(f, target), 0
        ),
        ("Objective vs measured, per scope", "B"): measured,
        ("Objective vs measured, per scope", "C"): lambda r, f: equal(
            by_labels(r, "objective", "scope"), _per_objective(f, met(f)), 0
        ),
        ("Objectives met", "A"): lambda r, f: equal({(): single(r)}, {(): _verdicts(f, True)}, 0),
        ("Objectives not met", "A"): lambda r, f: equal({(): single(r)}, {(): _verdicts(f, False)}, 0),
        ("Objectives not measurable", "A"): lambda r, f: equal({(): single(r)}, {(): _verdicts(f, None)}, 0),
        ("Measured value over time, per objective and scope", "A"): measured,
        ("Open nonconformities by responsible unit kind and age", "A"): lambda r, f: equal(
            by_labels(r, "responsible_kind", "age"), _open_nc(f, 0, 2), 0
        ),
        ("Open nonconformities by province", "A"): lambda r, f: equal(
            by_labels(r, "province"), _open_nc(f, 1), 0
        ),
        ("Open for 30 days or more", "A"): lambda r, f: equal(
            {(): single(r)}, {(): sum(_open_nc(f, bands=("30d_to_90d", "over_90d")).values())}, 0
        ),
        ("Age of the objectives' metrics", "A"): lambda r, f: _within({(): single(r)}, {()}, -1, 30),
    }


# --------------------------------------------------------------------------- citizen notifications


def _notifications() -> dict[tuple[str, str], Check]:
    t = TRAFFIC
    channels = sorted(t.channels())
    return {
        ("Messages sent per hour, by channel", "A"): lambda r, f: equal(
            by_labels(r, "channel"), {(ch,): f.per_hour(t.outcomes(ch, "sent")) for ch in channels}
        ),
        # Over the last hour, which holds the whole traffic: retried and suppressed messages are in
        # neither side.
        ("Failure ratio, by channel (last hour)", "A"): lambda r, f: equal(
            by_labels(r, "channel"),
            {
                (ch,): ratio(t.outcomes(ch, "failed", "dead"), t.outcomes(ch, "sent", "failed", "dead"))
                for ch in channels
            },
            0.01,
        ),
        ("Failure ratio, by channel (last hour)", "B"): lambda r, f: equal(
            {(): single(r)}, {(): FAILURE_RATIO_THRESHOLD}, 0
        ),
        ("Provider latency p95, by channel", "A"): lambda r, f: equal(
            by_labels(r, "channel"),
            {(ch,): quantile(0.95, s, PROVIDER_BOUNDS) for ch, s in t.latencies.items()},
        ),
        ("Dead-lettered in the period, by channel", "A"): lambda r, f: nonzero(
            by_labels(r, "channel"), {(ch,): t.outcomes(ch, "dead") for ch in channels}
        ),
        ("Suppressed in the period, by reason", "A"): lambda r, f: equal(
            by_labels(r, "reason"), _suppressed_by_reason(t)
        ),
        # Every channel is exported, at zero when nothing waits; replicas would export the same value.
        ("Messages waiting, by channel", "A"): lambda r, f: equal(
            by_labels(r, "channel"), {(ch,): float(t.queue.get(ch, 0)) for ch in ("email", "sms", "zalo")}, 0
        ),
        ("Delivery receipts, by channel and status", "A"): lambda r, f: equal(
            by_labels(r, "channel", "status"), tally_counts(t.receipts.items())
        ),
        ("Fallbacks to another channel", "A"): lambda r, f: equal(
            by_labels(r, "from_channel", "to_channel"), tally_counts(t.fallbacks.items())
        ),
    }


def tally_counts(counts: Iterable[tuple[Key, int]]) -> dict[Key, float]:
    return {k: float(v) for k, v in counts}


def _suppressed_by_reason(t: NotificationTraffic) -> dict[Key, float]:
    by_reason: Counter[Key] = Counter()
    for (_, _, reason), n in t.suppressed.items():
        by_reason[(reason,)] += n
    return tally_counts(by_reason.items())


def expected() -> dict[tuple[str, str, str], Check]:
    table: dict[tuple[str, str, str], Check] = {}
    for uid, entries in (
        ("dossier-national", _national()),
        ("dossier-drilldown", _drilldown()),
        ("dossier-postal", _postal()),
        ("dossier-pipeline", _pipeline()),
        ("quality-objectives", _quality()),
        ("citizen-notifications", _notifications()),
    ):
        table.update({(uid, title, ref): check for (title, ref), check in entries.items()})
    return table


EXPECTED = expected()

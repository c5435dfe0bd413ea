"""The Grafana dashboards of the dossier-post stack, as code (grafana-foundation-sdk).

    python deploy/grafana/dashboards.py          # write deploy/grafana/dashboards/*.json
    python deploy/grafana/dashboards.py --check  # exit 1 naming every committed JSON that drifted

Grafana provisions the committed JSON (provisioning/dashboards/dashboards.yml). Every query reads the
recorded series of deploy/prometheus/rules/turnaround.yml and notifications.yml, which deduplicate the
replicas, or the raw series of the services. The integration test
tests/turnaround/test_dashboards_against_prometheus.py runs every panel's query against a real
Prometheus scraping the services.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from grafana_foundation_sdk.builders import bargauge, common, dashboard, prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import dashboard as models

OUT = Path(__file__).resolve().parent / "dashboards"
PROMETHEUS = models.DataSourceRef(type_val="prometheus", uid="prometheus")
POSTGRES = models.DataSourceRef(type_val="grafana-postgresql-datasource", uid="postgres")
POSTAL_LEGS = 'leg=~"INBOUND_POSTAL|RETURN_POSTAL"'
FINISHED = "turnaround:clocks_finished_total:max"

Kind = Literal["stat", "timeseries", "bargauge", "table"]


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""
    instant: bool = True


@dataclass(frozen=True)
class Panel:
    kind: Kind
    title: str
    queries: tuple[Query, ...] = ()
    unit: str = "short"
    width: int = 6
    height: int = 6
    description: str = ""
    sql: str = ""
    decimals: int | None = None


@dataclass(frozen=True)
class Row:
    title: str
    panels: tuple[Panel, ...]


@dataclass(frozen=True)
class Board:
    uid: str
    title: str
    description: str
    rows: tuple[Row, ...]
    variables: tuple[str, ...] = ()
    tags: tuple[str, ...] = field(default=("dossier-post",))


class SqlQuery(cogvariants.Dataquery):
    """A raw SQL query of Grafana's PostgreSQL data source (the SDK has no builder for it)."""

    def __init__(self, ref_id: str, raw_sql: str) -> None:
        self.ref_id = ref_id
        self.raw_sql = raw_sql

    def to_json(self) -> dict[str, Any]:
        return {
            "datasource": {"type": POSTGRES.type_val, "uid": POSTGRES.uid},
            "editorMode": "code",
            "format": "table",
            "rawQuery": True,
            "rawSql": self.raw_sql,
            "refId": self.ref_id,
        }


class _SqlQueryBuilder(cogbuilder.Builder[cogvariants.Dataquery]):
    def __init__(self, query: SqlQuery) -> None:
        self._query = query

    def build(self) -> cogvariants.Dataquery:
        return self._query


def select(metric: str, *matchers: str) -> str:
    """`metric{matchers}`, merging with matchers the metric selector already has."""
    extra = ", ".join(m for m in matchers if m)
    if not extra:
        return metric
    if metric.endswith("}"):
        return f"{metric[:-1]}, {extra}}}"
    return f"{metric}{{{extra}}}"


def share(metric: str, by: str, where: str = "", window: str = "$__range") -> str:
    """Share of finished clocks that were not late (early or on time), by `by`, over the window.
    Groups with nothing finished are left out rather than shown as 0/0."""
    good = select(metric, where, 'timeliness!="late"')
    every = select(metric, where)
    return f"sum by ({by}) (increase({good}[{window}]))\n/ (sum by ({by}) (increase({every}[{window}])) > 0)"


def quantile(q: float, bucket: str, by: str, window: str = "$__range") -> str:
    """A quantile of the observations in the window; groups without observations are left out."""
    everything = select(bucket, 'le="+Inf"')
    observed = f"sum by ({by}) (increase({everything}[{window}])) > 0"
    buckets = f"sum by (le, {by}) (increase({bucket}[{window}]))"
    return f"histogram_quantile({q}, {buckets} and on ({by}) ({observed}))"


def _panel_builder(panel: Panel, panel_id: int) -> cogbuilder.Builder[models.Panel]:
    built: Any
    if panel.kind == "stat":
        built = stat.Panel().reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]))
    elif panel.kind == "timeseries":
        built = timeseries.Panel().legend(
            common.VizLegendOptions()
            .show_legend(True)
            .display_mode(common_models.LegendDisplayMode.TABLE)
            .placement(common_models.LegendPlacement.BOTTOM)
            .calcs(["lastNotNull"])
        )
    elif panel.kind == "bargauge":
        built = (
            bargauge.Panel()
            .display_mode(common_models.BarGaugeDisplayMode.GRADIENT)
            .orientation(common_models.VizOrientation.HORIZONTAL)
            .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]))
        )
    else:
        built = table.Panel()
    built = built.id(panel_id).title(panel.title).unit(panel.unit).span(panel.width).height(panel.height)
    if panel.description:
        built = built.description(panel.description)
    if panel.decimals is not None:
        built = built.decimals(panel.decimals)
    if panel.sql:
        return built.datasource(POSTGRES).with_target(_SqlQueryBuilder(SqlQuery("A", panel.sql)))  # type: ignore[no-any-return]
    built = built.datasource(PROMETHEUS)
    for index, query in enumerate(panel.queries):
        target = prometheus.Dataquery().expr(query.expr).ref_id(chr(ord("A") + index)).datasource(PROMETHEUS)
        target = target.instant() if query.instant else target.range()
        if query.legend:
            target = target.legend_format(query.legend)
        built = built.with_target(target)
    return built  # type: ignore[no-any-return]


def _variable(name: str) -> cogbuilder.Builder[models.VariableModel]:
    queries = {
        "province": f"label_values({FINISHED}, province)",
        "field": f'label_values({FINISHED}{{province=~"$province"}}, field)',
    }
    return (
        dashboard.QueryVariable(name)
        .label(name.capitalize())
        .query(queries[name])
        .datasource(PROMETHEUS)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(models.VariableSort.ALPHABETICAL_ASC)
        .current(models.VariableOption(selected=True, text="All", value="$__all"))
    )


def build(board: Board) -> dict[str, Any]:
    built = (
        dashboard.Dashboard(board.title)
        .uid(board.uid)
        .description(board.description)
        .tags(list(board.tags))
        .timezone("Asia/Ho_Chi_Minh")
        .time("now-7d", "now")
        .refresh("1m")
        .readonly()
    )
    for name in board.variables:
        built = built.with_variable(_variable(name))
    panel_id = 0
    for row in board.rows:
        panel_id += 1
        built = built.with_row(dashboard.Row(row.title).id(panel_id))
        for panel in row.panels:
            panel_id += 1
            built = built.with_panel(_panel_builder(panel, panel_id))
    encoded: dict[str, Any] = json.loads(JSONEncoder(sort_keys=True).encode(built.build()))
    return encoded


# --------------------------------------------------------------------------- the dashboards

_AGENCY_LEG = 'leg="AGENCY_PROCESSING"'
_INDEX = (
    "Agency clocks finished early or on time, as the service-quality index counts them (Decision "
    "766/QĐ-TTg; services/shared/timeliness.py): ready on or before the appointment date, moved only by "
    "an apology slip issued in time; more than one supplement request counts as late whatever the dates."
)

_NOW = Row(
    "Now",
    (
        Panel("stat", "Open clocks", (Query("sum(turnaround:open_clocks:max)"),), width=4, height=4),
        Panel(
            "stat",
            "Due within one working day",
            (Query("sum(turnaround:due_soon_clocks:max)"),),
            width=4,
            height=4,
        ),
        Panel("stat", "Overdue", (Query("sum(turnaround:overdue_clocks:max)"),), width=4, height=4),
        Panel(
            "stat",
            "Awaiting a supplement",
            (Query("sum(turnaround:suspended_clocks:max)"),),
            width=4,
            height=4,
            description="Agency clocks stopped by a supplement request; they restart from zero.",
        ),
        Panel(
            "bargauge",
            "Backlog by leg",
            (
                Query("sum by (leg) (turnaround:open_clocks:max)", "{{leg}} open"),
                Query("sum by (leg) (turnaround:due_soon_clocks:max)", "{{leg}} due soon"),
                Query("sum by (leg) (turnaround:overdue_clocks:max)", "{{leg}} overdue"),
            ),
            width=8,
            height=4,
        ),
    ),
)

NATIONAL = Board(
    uid="dossier-national",
    title="Dossier clocks — national overview",
    description="Volume, timeliness per leg, backlog and working-day distributions of every legal clock.",
    rows=(
        _NOW,
        Row(
            "Volume and timeliness (selected period)",
            (
                Panel(
                    "timeseries",
                    "Clocks finished per hour, by leg",
                    (Query(f"sum by (leg) (rate({FINISHED}[$__rate_interval])) * 3600", "{{leg}}", False),),
                    width=12,
                    height=8,
                ),
                Panel(
                    "bargauge",
                    "Clocks finished, by leg and timeliness",
                    (
                        Query(
                            f"sum by (leg, timeliness) (increase({FINISHED}[$__range]))",
                            "{{leg}} {{timeliness}}",
                        ),
                    ),
                    width=12,
                    height=8,
                    decimals=0,
                ),
                Panel(
                    "bargauge",
                    "Early or on time, by leg",
                    (Query(share(FINISHED, "leg"), "{{leg}}"),),
                    unit="percentunit",
                    width=8,
                    description="Objective: at least 95 % of finished clocks of each leg are not late.",
                ),
                Panel(
                    "stat",
                    "Official score (early 2, on time 1, late 0)",
                    (
                        Query(
                            f'(2 * sum by (leg) (increase({FINISHED}{{timeliness="early"}}[$__range]))'
                            f' + sum by (leg) (increase({FINISHED}{{timeliness="on_time"}}[$__range])))'
                            f"\n/ (sum by (leg) (increase({FINISHED}[$__range])) > 0)",
                            "{{leg}}",
                        ),
                    ),
                    width=8,
                    decimals=2,
                ),
                Panel(
                    "timeseries",
                    "Late share against the error budget",
                    (
                        Query("leg:turnaround_clocks_late:ratio_rate1h", "{{leg}} 1h", False),
                        Query("leg:turnaround_clocks_late:ratio_rate1d", "{{leg}} 1d", False),
                        Query("1 - turnaround:on_time_objective:ratio", "budget", False),
                    ),
                    unit="percentunit",
                    width=8,
                ),
            ),
        ),
        Row(
            "Service-quality index: agency processing on time (selected period)",
            (
                Panel(
                    "bargauge",
                    "Index on-time ratio, by province",
                    (Query(f"sort({share(FINISHED, 'province', _AGENCY_LEG)})", "{{province}}"),),
                    unit="percentunit",
                    width=12,
                    height=10,
                    description=_INDEX,
                ),
                Panel(
                    "bargauge",
                    "Index on-time ratio, by procedure field",
                    (Query(f"sort({share(FINISHED, 'field', _AGENCY_LEG)})", "{{field}}"),),
                    unit="percentunit",
                    width=12,
                    height=10,
                    description=_INDEX,
                ),
            ),
        ),
        Row(
            "Backlog",
            (
                Panel(
                    "bargauge",
                    "Overdue clocks by province",
                    (Query("sort_desc(sum by (province) (turnaround:overdue_clocks:max))", "{{province}}"),),
                    width=12,
                    height=10,
                ),
                Panel(
                    "timeseries",
                    "Overdue and due soon over time",
                    (
                        Query("sum by (leg) (turnaround:overdue_clocks:max)", "{{leg}} overdue", False),
                        Query("sum by (leg) (turnaround:due_soon_clocks:max)", "{{leg}} due soon", False),
                    ),
                    width=12,
                    height=10,
                ),
            ),
        ),
        Row(
            "Working days (selected period)",
            (
                Panel(
                    "stat",
                    "Median working days, by leg",
                    (Query(quantile(0.5, "turnaround:clock_working_days_bucket:max", "leg"), "{{leg}}"),),
                    width=6,
                    decimals=1,
                ),
                Panel(
                    "stat",
                    "90th percentile working days, by leg",
                    (Query(quantile(0.9, "turnaround:clock_working_days_bucket:max", "leg"), "{{leg}}"),),
                    width=6,
                    decimals=1,
                ),
                Panel(
                    "bargauge",
                    "Finished clocks by working days taken (cumulative)",
                    (
                        Query(
                            "sum by (leg, le) (increase(turnaround:clock_working_days_bucket:max[$__range]))",
                            "{{leg}} ≤ {{le}}",
                        ),
                    ),
                    width=6,
                    height=10,
                    decimals=0,
                ),
                Panel(
                    "stat",
                    "Whole journey, median (working days / calendar days)",
                    (
                        Query(
                            quantile(0.5, "turnaround:journey_working_days_bucket:max", "job"), "working days"
                        ),
                        Query(quantile(0.5, "turnaround:journey_days_bucket:max", "job"), "calendar days"),
                    ),
                    width=6,
                    decimals=1,
                    description="Acceptance (or filing) to delivery of the result.",
                ),
            ),
        ),
    ),
)

_SEL = 'province=~"$province", field=~"$field"'
DRILLDOWN = Board(
    uid="dossier-drilldown",
    title="Dossier clocks — by province and procedure field",
    description="The same measures for the selected provinces and procedure fields.",
    variables=("province", "field"),
    rows=(
        Row(
            "Now",
            (
                Panel(
                    "stat",
                    "Open clocks",
                    (Query(f"sum(turnaround:open_clocks:max{{{_SEL}}})"),),
                    width=4,
                    height=4,
                ),
                Panel(
                    "stat",
                    "Due within one working day",
                    (Query(f"sum(turnaround:due_soon_clocks:max{{{_SEL}}})"),),
                    width=4,
                    height=4,
                ),
                Panel(
                    "stat",
                    "Overdue",
                    (Query(f"sum(turnaround:overdue_clocks:max{{{_SEL}}})"),),
                    width=4,
                    height=4,
                ),
                Panel(
                    "bargauge",
                    "Backlog by leg",
                    (
                        Query(f"sum by (leg) (turnaround:open_clocks:max{{{_SEL}}})", "{{leg}} open"),
                        Query(f"sum by (leg) (turnaround:due_soon_clocks:max{{{_SEL}}})", "{{leg}} due soon"),
                        Query(f"sum by (leg) (turnaround:overdue_clocks:max{{{_SEL}}})", "{{leg}} overdue"),
                    ),
                    width=12,
                    height=4,
                ),
            ),
        ),
        Row(
            "Timeliness (selected period)",
            (
                Panel(
                    "bargauge",
                    "Early or on time, by leg",
                    (Query(share(FINISHED, "leg", _SEL), "{{leg}}"),),
                    unit="percentunit",
                    width=8,
                ),
                Panel(
                    "timeseries",
                    "Clocks finished per hour, by timeliness",
                    (
                        Query(
                            f"sum by (timeliness) (rate({FINISHED}{{{_SEL}}}[$__rate_interval])) * 3600",
                            "{{timeliness}}",
                            False,
                        ),
                    ),
                    width=8,
                ),
                Panel(
                    "stat",
                    "Median working days, by leg",
                    (
                        Query(
                            quantile(
                                0.5, 'turnaround:clock_working_days_bucket:max{province=~"$province"}', "leg"
                            ),
                            "{{leg}}",
                        ),
                    ),
                    width=8,
                    decimals=1,
                    description="By province only: the working-day histograms carry no field label.",
                ),
            ),
        ),
        Row(
            "Where the backlog is",
            (
                Panel(
                    "bargauge",
                    "Overdue by procedure field",
                    (
                        Query(
                            f"sort_desc(sum by (field) (turnaround:overdue_clocks:max{{{_SEL}}}))",
                            "{{field}}",
                        ),
                    ),
                    width=8,
                    height=8,
                ),
                Panel(
                    "bargauge",
                    "Overdue by province",
                    (
                        Query(
                            f"sort_desc(sum by (province) (turnaround:overdue_clocks:max{{{_SEL}}}))",
                            "{{province}}",
                        ),
                    ),
                    width=8,
                    height=8,
                ),
                Panel(
                    "bargauge",
                    "Late in the period, by procedure field",
                    (
                        Query(
                            "sort_desc(sum by (field) "
                            f'(increase({FINISHED}{{{_SEL}, timeliness="late"}}[$__range])))',
                            "{{field}}",
                        ),
                    ),
                    width=8,
                    height=8,
                    decimals=0,
                ),
                Panel(
                    "table",
                    "Overdue dossiers",
                    sql=(
                        "SELECT dossier_id, leg, province, field_key AS field, due_date,\n"
                        "  (($__timeTo() AT TIME ZONE "
                        "'Asia/Ho_Chi_Minh')::date - due_date) AS days_overdue,\n"
                        "  agency_code, post_office_code\n"
                        "FROM turnaround_clock\n"
                        "WHERE state = 'running'\n"
                        "  AND due_date < ($__timeTo() AT TIME ZONE 'Asia/Ho_Chi_Minh')::date\n"
                        "  AND province ~ '^(${province:regex})$'\n"
                        "  AND field_key ~ '^(${field:regex})$'\n"
                        "ORDER BY due_date, dossier_id\n"
                        "LIMIT 500"
                    ),
                    width=24,
                    height=10,
                    description=(
                        "From the turnaround database (PostgreSQL data source): open clocks past due."
                    ),
                ),
            ),
        ),
        Row(
            "Service-quality index, by agency (selected period)",
            (
                Panel(
                    "table",
                    "Index on-time ratio, by agency",
                    sql=(
                        "SELECT agency_code AS agency,\n"
                        "  count(*) FILTER (WHERE timeliness <> 'late')::float8 / count(*)\n"
                        "    AS on_time_ratio,\n"
                        "  count(*) AS finished\n"
                        "FROM turnaround_clock\n"
                        "WHERE leg = 'AGENCY_PROCESSING' AND state = 'finished' AND counted\n"
                        "  AND timeliness IS NOT NULL AND agency_code IS NOT NULL\n"
                        "  AND finished_at >= $__timeFrom() AND finished_at < $__timeTo()\n"
                        "  AND province ~ '^(${province:regex})$'\n"
                        "  AND field_key ~ '^(${field:regex})$'\n"
                        "GROUP BY agency_code\n"
                        "ORDER BY on_time_ratio, agency_code\n"
                        "LIMIT 500"
                    ),
                    width=24,
                    height=10,
                    description=(
                        "From the turnaround database (PostgreSQL data source): agency codes never reach a "
                        "metric label. " + _INDEX
                    ),
                ),
            ),
        ),
    ),
)

POSTAL = Board(
    uid="dossier-postal",
    title="Postal performance against J+n",
    description="Inbound and return postal legs against their J+n limits by route class; delivery attempts.",
    rows=(
        Row(
            "Legs against J+n (selected period)",
            (
                Panel(
                    "bargauge",
                    "Within J+n, by leg and route",
                    (
                        Query(
                            share("turnaround:postal_legs_finished_total:max", "leg, route"),
                            "{{leg}} {{route}}",
                        ),
                    ),
                    unit="percentunit",
                    width=8,
                    height=8,
                ),
                Panel(
                    "bargauge",
                    "90th percentile working days against the limit, by route",
                    (
                        Query(
                            quantile(0.9, "turnaround:postal_leg_working_days_bucket:max", "leg, route"),
                            "{{leg}} {{route}} p90",
                        ),
                        Query(
                            "max by (route) (turnaround:postal_limit_working_days:max)", "{{route}} limit n"
                        ),
                    ),
                    width=8,
                    height=8,
                    decimals=1,
                ),
                Panel(
                    "timeseries",
                    "Postal legs finished per hour, by timeliness",
                    (
                        Query(
                            "sum by (leg, timeliness) "
                            "(rate(turnaround:postal_legs_finished_total:max[$__rate_interval])) * 3600",
                            "{{leg}} {{timeliness}}",
                            False,
                        ),
                    ),
                    width=8,
                    height=8,
                ),
                Panel(
                    "bargauge",
                    "Late postal legs by province",
                    (
                        Query(
                            "sort_desc(sum by (province) "
                            f'(increase({FINISHED}{{{POSTAL_LEGS}, timeliness="late"}}[$__range])))',
                            "{{province}}",
                        ),
                    ),
                    width=12,
                    height=8,
                    decimals=0,
                ),
                Panel(
                    "bargauge",
                    "Open postal legs overdue, by province",
                    (
                        Query(
                            f"sort_desc(sum by (province) (turnaround:overdue_clocks:max{{{POSTAL_LEGS}}}))",
                            "{{province}}",
                        ),
                    ),
                    width=12,
                    height=8,
                ),
            ),
        ),
        Row(
            "Delivery of results (selected period)",
            (
                Panel(
                    "stat",
                    "Delivery attempts, by outcome",
                    (
                        Query(
                            "sum by (outcome) (increase(turnaround:delivery_attempts_total:max[$__range]))",
                            "{{outcome}}",
                        ),
                    ),
                    width=6,
                    decimals=0,
                ),
                Panel(
                    "stat",
                    "Attempts that delivered",
                    (
                        Query(
                            ""
                            'sum(increase(turnaround:delivery_attempts_total:max{outcome="delivered"}[$__range]))\n'
                            "/ (sum(increase(turnaround:delivery_attempts_total:max[$__range])) > 0)"
                        ),
                    ),
                    unit="percentunit",
                    width=6,
                ),
                Panel(
                    "bargauge",
                    "Failed attempts, by reason",
                    (
                        Query(
                            "sum by (reason) (increase(turnaround:delivery_failures_total:max[$__range]))",
                            "{{reason}}",
                        ),
                    ),
                    width=6,
                    decimals=0,
                ),
                Panel(
                    "stat",
                    "Results returned to the agency",
                    (Query("sum(increase(turnaround:results_returned_total:max[$__range]))"),),
                    width=6,
                    decimals=0,
                ),
            ),
        ),
    ),
)

_SERVICES = 'job=~"post_office|agency|tracker|turnaround|notifications"'
PIPELINE = Board(
    uid="dossier-pipeline",
    title="Pipeline health",
    description="Throughput, errors, consumer lag and dead letters of every service.",
    rows=(
        Row(
            "Services",
            (
                Panel(
                    "stat",
                    "Instances up, by service",
                    (Query(f"sum by (job) (up{{{_SERVICES}}})", "{{job}}"),),
                    width=8,
                ),
                Panel(
                    "timeseries",
                    "HTTP requests per second, by service and status",
                    (
                        Query(
                            "sum by (job, status) (rate(http_requests_total[$__rate_interval]))",
                            "{{job}} {{status}}",
                            False,
                        ),
                    ),
                    unit="reqps",
                    width=8,
                ),
                Panel(
                    "timeseries",
                    "HTTP latency p95, by service",
                    (
                        Query(
                            "histogram_quantile(0.95, sum by (le, job) "
                            "(rate(http_request_duration_seconds_bucket[$__rate_interval])))",
                            "{{job}}",
                            False,
                        ),
                    ),
                    unit="s",
                    width=8,
                ),
            ),
        ),
        Row(
            "Kafka consumers",
            (
                Panel(
                    "timeseries",
                    "Messages received per second, by service and topic",
                    (
                        Query(
                            "sum by (app_name, handler) "
                            "(rate(faststream_received_messages_total[$__rate_interval]))",
                            "{{app_name}} {{handler}}",
                            False,
                        ),
                    ),
                    width=8,
                ),
                Panel(
                    "timeseries",
                    "Records by outcome, per consumer",
                    (
                        Query(
                            "sum by (consumer, outcome) "
                            "(rate(dossier_consumer_records_total[$__rate_interval]))",
                            "{{consumer}} {{outcome}}",
                            False,
                        ),
                    ),
                    width=8,
                ),
                Panel(
                    "timeseries",
                    "Consumer lag, by group and topic",
                    (Query("dossier:consumer_lag_records:max", "{{group}} {{topic}}", False),),
                    width=8,
                ),
                Panel(
                    "timeseries",
                    "Batch apply time p95, by consumer",
                    (
                        Query(
                            "histogram_quantile(0.95, sum by (le, consumer) "
                            "(rate(dossier_consumer_batch_seconds_bucket[$__rate_interval])))",
                            "{{consumer}}",
                            False,
                        ),
                    ),
                    unit="s",
                    width=8,
                ),
                Panel(
                    "timeseries",
                    "Processed batches by status, per service",
                    (
                        Query(
                            "sum by (app_name, status) "
                            "(rate(faststream_received_processed_messages_total[$__rate_interval]))",
                            "{{app_name}} {{status}}",
                            False,
                        ),
                    ),
                    width=8,
                ),
                Panel(
                    "stat",
                    "Dead letters in the period, by consumer and reason",
                    (
                        Query(
                            "sum by (consumer, reason) "
                            "(increase(dossier_dead_letters_total[$__range])) or on() vector(0)",
                            "{{consumer}} {{reason}}",
                        ),
                    ),
                    width=8,
                    decimals=0,
                ),
            ),
        ),
        Row(
            "Turnaround",
            (
                Panel(
                    "timeseries",
                    "Messages published per second, by service and topic",
                    (
                        Query(
                            "sum by (job, topic) (rate(dossier_events_published_total[$__rate_interval]))",
                            "{{job}} {{topic}}",
                            False,
                        ),
                    ),
                    width=8,
                ),
                Panel(
                    "stat",
                    "Clock alerts raised in the period, by threshold",
                    (
                        Query(
                            "sum by (threshold) (increase(turnaround_clock_alerts_total[$__range]))",
                            "{{threshold}}",
                        ),
                    ),
                    width=8,
                    decimals=0,
                ),
                Panel(
                    "stat", "Alerts waiting for Kafka", (Query("max(turnaround_outbox_pending)"),), width=4
                ),
                Panel(
                    "stat",
                    "Age of the backlog metrics",
                    (Query("time() - max(turnaround_metrics_snapshot_timestamp_seconds)"),),
                    unit="s",
                    width=4,
                ),
            ),
        ),
    ),
)

# The quality objectives (services/turnaround/quality/objective_metrics.py): gauges every replica exports
# alike, deduplicated with max by the objective's labels (objectives) or max without instance.
_OBJECTIVE = "objective, scope"
_OPEN_NC = "max without (instance) (quality_nonconformities_open)"
QUALITY = Board(
    uid="quality-objectives",
    title="Quality objectives",
    description="ISO 9001 quality objectives (deploy/quality/objectives.yaml) against their measurement in "
    "the current period, per scope; open nonconformities by responsible unit kind, province and age.",
    rows=(
        Row(
            "Objectives (current period of each)",
            (
                Panel(
                    "table",
                    "Objective vs measured, per scope",
                    (
                        Query(f"max by ({_OBJECTIVE}) (quality_objective_target)", "target"),
                        Query(f"max by ({_OBJECTIVE}) (quality_objective_value)", "measured"),
                        Query(f"max by ({_OBJECTIVE}) (quality_objective_met)", "met"),
                    ),
                    width=12,
                    height=8,
                    description="Target and measured value (percent on time, or a count of "
                    "nonconformities) of each objective in its current month, quarter, half-year or year; "
                    "an objective without a measured value is not measurable yet (nothing finished).",
                ),
                Panel(
                    "stat",
                    "Objectives met",
                    (Query("count(max by (objective) (quality_objective_met) == 1) or vector(0)"),),
                    width=4,
                    height=4,
                ),
                Panel(
                    "stat",
                    "Objectives not met",
                    (Query("count(max by (objective) (quality_objective_met) == 0) or vector(0)"),),
                    width=4,
                    height=4,
                ),
                Panel(
                    "stat",
                    "Objectives not measurable",
                    (
                        Query(
                            "count(max by (objective) (quality_objective_target) unless on (objective) "
                            "max by (objective) (quality_objective_value)) or vector(0)"
                        ),
                    ),
                    width=4,
                    height=4,
                    description="No dossier finished the measured leg in the period yet: neither met nor "
                    "missed.",
                ),
                Panel(
                    "timeseries",
                    "Measured value over time, per objective and scope",
                    (
                        Query(
                            f"max by ({_OBJECTIVE}) (quality_objective_value)",
                            "{{scope}} {{objective}}",
                            False,
                        ),
                    ),
                    width=12,
                    height=8,
                ),
            ),
        ),
        Row(
            "Open nonconformities",
            (
                Panel(
                    "bargauge",
                    "Open nonconformities by responsible unit kind and age",
                    (Query(f"sum by (responsible_kind, age) ({_OPEN_NC})", "{{responsible_kind}} {{age}}"),),
                    width=8,
                    height=8,
                    description="Not yet closed, by how long ago the breach happened (calendar days).",
                ),
                Panel(
                    "bargauge",
                    "Open nonconformities by province",
                    (Query(f"sum by (province) ({_OPEN_NC})", "{{province}}"),),
                    width=8,
                    height=8,
                ),
                Panel(
                    "stat",
                    "Open for 30 days or more",
                    (
                        Query(
                            "sum(max without (instance) "
                            '(quality_nonconformities_open{age=~"30d_to_90d|over_90d"})) or vector(0)'
                        ),
                    ),
                    width=4,
                    height=4,
                ),
                Panel(
                    "stat",
                    "Age of the objectives' metrics",
                    (Query("time() - max(quality_objectives_snapshot_timestamp_seconds)"),),
                    unit="s",
                    width=4,
                    height=4,
                ),
            ),
        ),
    ),
    tags=("dossier-post", "quality"),
)

# The notifications service (services/notifications/metrics.py; deploy/prometheus/rules/notifications.yml).
# Counters are counted by the replica that did the step, so they are summed; the queue depth is the same
# on every replica, so it is read deduplicated (max). A sending finishes as sent, failed (for good) or
# dead (retry budget spent).
_MESSAGES = "notifications_messages_total"
NOTIFICATIONS = Board(
    uid="citizen-notifications",
    title="Citizen notifications",
    description="Messages to citizens and agency desks by channel (e-mail, SMS, Zalo): sent, failing, "
    "dead-lettered and suppressed, the providers' latency and receipts, fallbacks and the waiting queue.",
    rows=(
        Row(
            "Sending",
            (
                Panel(
                    "timeseries",
                    "Messages sent per hour, by channel",
                    (
                        Query(
                            f'sum by (channel) (rate({_MESSAGES}{{outcome="sent"}}[$__rate_interval]))'
                            " * 3600",
                            "{{channel}}",
                            False,
                        ),
                    ),
                    width=8,
                    height=8,
                ),
                Panel(
                    "timeseries",
                    "Failure ratio, by channel (last hour)",
                    (
                        Query("channel:notifications_messages_failed:ratio_rate1h", "{{channel}}", False),
                        Query("notifications:failure_ratio_threshold:ratio", "alert threshold", False),
                    ),
                    unit="percentunit",
                    width=8,
                    height=8,
                    description="Failed for good or dead-lettered, over every sending finished in the last "
                    "hour. NotificationsFailureRatioHigh pages above the threshold when the hour had at "
                    "least 20 finished sendings.",
                ),
                Panel(
                    "timeseries",
                    "Provider latency p95, by channel",
                    (
                        Query(
                            quantile(
                                0.95,
                                "notifications_provider_latency_seconds_bucket",
                                "channel",
                                "$__rate_interval",
                            ),
                            "{{channel}}",
                            False,
                        ),
                    ),
                    unit="s",
                    width=8,
                    height=8,
                ),
                Panel(
                    "stat",
                    "Dead-lettered in the period, by channel",
                    (
                        Query(
                            f'sum by (channel) (increase({_MESSAGES}{{outcome="dead"}}[$__range]))'
                            " or on() vector(0)",
                            "{{channel}}",
                        ),
                    ),
                    width=8,
                    decimals=0,
                    description="Given up after the retry budget: the citizen was not told. Reasons in the "
                    "notification_dead_letter table.",
                ),
                Panel(
                    "bargauge",
                    "Suppressed in the period, by reason",
                    (
                        Query(
                            "sum by (reason) (increase(notifications_suppressed_total[$__range]))",
                            "{{reason}}",
                        ),
                    ),
                    width=8,
                    decimals=0,
                    description="Not sent on purpose: no consent, the applicant's data erased, a stage "
                    "superseded before it could be told, no address.",
                ),
                Panel(
                    "timeseries",
                    "Messages waiting, by channel",
                    (Query("notifications:queue_depth:max", "{{channel}}", False),),
                    width=8,
                    description="Pending, held for the quiet hours (SMS and Zalo, 21:00 to 07:00) or "
                    "waiting for a retry. NotificationsQueueGrowing opens a ticket when over 100 do not "
                    "shrink for half an hour.",
                ),
            ),
        ),
        Row(
            "After sending (selected period)",
            (
                Panel(
                    "bargauge",
                    "Delivery receipts, by channel and status",
                    (
                        Query(
                            "sum by (channel, status) (increase(notifications_receipts_total[$__range]))",
                            "{{channel}} {{status}}",
                        ),
                    ),
                    width=12,
                    height=8,
                    decimals=0,
                    description="What the providers reported later: delivered to the phone, or failed "
                    "(temporarily or for good).",
                ),
                Panel(
                    "bargauge",
                    "Fallbacks to another channel",
                    (
                        Query(
                            "sum by (from_channel, to_channel) "
                            "(increase(notifications_fallbacks_total[$__range]))",
                            "{{from_channel}} → {{to_channel}}",
                        ),
                    ),
                    width=12,
                    height=8,
                    decimals=0,
                    description="A message failed for good on its channel and went once to another the "
                    "citizen consented to (services/notifications/fallback.py).",
                ),
            ),
        ),
    ),
    tags=("dossier-post", "notifications"),
)

BOARDS: tuple[Board, ...] = (NATIONAL, DRILLDOWN, POSTAL, PIPELINE, QUALITY, NOTIFICATIONS)


def render() -> dict[str, str]:
    """File name → JSON text of every dashboard."""
    return {
        f"{board.uid}.json": json.dumps(build(board), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        for board in BOARDS
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 if a committed dashboard drifted")
    args = parser.parse_args(argv)
    rendered = render()
    if args.check:
        drifted = [
            name
            for name, text in rendered.items()
            if not (OUT / name).is_file() or (OUT / name).read_text(encoding="utf-8") != text
        ]
        extra = sorted(p.name for p in OUT.glob("*.json") if p.name not in rendered)
        for name in drifted + extra:
            print(f"drifted: deploy/grafana/dashboards/{name}", file=sys.stderr)
        return 1 if drifted or extra else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in rendered.items():
        (OUT / name).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

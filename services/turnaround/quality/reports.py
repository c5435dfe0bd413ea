"""The periodic report (báo cáo định kỳ) of a period and scope: its figures from the counts, and its tables.

Pure: the counts come from report_counts.py (the queries), the time it was generated is passed in. Every
format (JSON, CSV, XLSX, PDF) is rendered from one `Report`, and the three file formats from the one
list of `tables`, so a report's numbers are the same whichever way it is read.

What each figure means (the choices the issue left open are written here):
- **received by post**: inbound postal legs that started (the dossier was accepted at a post office) on
  a day of the period;
- **resolved** early / on time / late: agency clocks that finished in the period, by the one definition
  of on time (clock_counts.finished_by_timeliness; early counts as on time in the on-time share, as the
  service-quality index counts "đúng hạn");
- **returned**: dossiers the agency refused and sent back to the citizen (trả lại hồ sơ: the refusal
  "goes back like a result", domain.md step 4), by the day of the refusal — the agency's outcome beside
  "resolved", as the one-stop statistics count it. A result that comes back to the agency after failed
  deliveries is a postal breach: it is counted among the nonconformities (by kind), not here;
- **pending and overdue at period end**, per leg: clocks started before the period's end and not
  finished by then; overdue when their due date is a day of the period or earlier (an open clock is
  overdue from the day after its due date) and the clock was not stopped awaiting a supplement;
- **results returned by post**: return postal legs that finished in the period — a leg finishes at the
  **first delivery attempt** (the J+n limit ends there, domain.md), delivered or not — by timeliness;
- **top late procedures**: the 10 procedures with most late agency clocks in the period (ties by code);
- **nonconformities** opened (breach detected in the period) and closed in the period, by kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from contracts.enums import Leg
from contracts.values import AwareTime
from services.shared.calendar import to_vietnam_time
from services.shared.timeliness import Timeliness
from services.turnaround.quality.clock_counts import on_time_count
from services.turnaround.quality.periods import Period, PeriodKind
from services.turnaround.quality.scopes import Scope, ScopeKind

TOP_LATE_PROCEDURES = 10
LEGS: tuple[Leg, ...] = (Leg.INBOUND_POSTAL, Leg.AGENCY_PROCESSING, Leg.RETURN_POSTAL)


class Status(StrEnum):
    FINAL = "final"
    """The period has ended: generated once, stored, and served as stored ever after."""
    PROVISIONAL = "provisional"
    """The period has not ended: computed live at each request and not stored."""


# --------------------------------------------------------------------------- the counts (input)


@dataclass(frozen=True)
class Open:
    pending: int
    overdue: int


@dataclass(frozen=True)
class ReportCounts:
    """What the queries counted for one period and scope."""

    received_by_post: int
    resolved: Mapping[Timeliness, int]
    returned: int
    open_at_end: Mapping[Leg, Open]
    results_by_post: Mapping[Timeliness, int]
    late_procedures: Mapping[str, Mapping[Timeliness, int]]
    """The top late procedures (see `top_late`), each with its resolved clocks by timeliness."""
    nonconformities_opened: Mapping[str, int]
    nonconformities_closed: Mapping[str, int]


def top_late(late_by_procedure: Mapping[str, int], limit: int = TOP_LATE_PROCEDURES) -> list[str]:
    """The procedures with the most late clocks, most first, ties by code; none without a late clock."""
    ranked = sorted((-late, code) for code, late in late_by_procedure.items() if late > 0)
    return [code for _, code in ranked[:limit]]


# --------------------------------------------------------------------------- the report (output)


class TimelinessCounts(BaseModel):
    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    early: int
    on_time: int
    late: int
    total: int
    on_time_share: float | None
    """Early and on time, in percent of the total (one decimal); null when the total is 0."""


class OpenLeg(BaseModel):
    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    leg: Leg
    pending: int
    """Started before the period's end and not finished by then."""
    overdue: int
    """Of those, due on a day of the period or earlier (and not stopped awaiting a supplement)."""


class LateProcedure(BaseModel):
    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    procedure_code: str
    name: str | None
    """The procedure's name in the catalog, when the catalog knows it."""
    late: int
    resolved: int
    late_share: float | None
    """Late, in percent of the resolved (one decimal)."""


class NonconformityKind(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: str
    opened: int
    closed: int


class Nonconformities(BaseModel):
    model_config = ConfigDict(frozen=True)

    opened: int
    closed: int
    by_kind: list[NonconformityKind]


class Report(BaseModel):
    """A periodic report of one period and scope. The module's docstring says what each figure counts."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    period: str
    """As agencies file it: 2026-07, 2026-Q3, 2026-H2, 2026."""
    period_kind: PeriodKind
    first_day: date
    last_day: date
    scope_kind: ScopeKind
    scope_code: str | None
    """The province, agency or post office; null for the national scope."""
    status: Status
    """final: the period has ended, the report was generated once and is served as stored; provisional:
    the period has not ended, the figures are computed at each request and not stored."""
    generated_at: AwareTime
    received_by_post: int
    """Inbound postal legs started (dossiers accepted at a post office) in the period."""
    resolved: TimelinessCounts
    """Agency clocks finished in the period, by timeliness."""
    returned: int
    """Dossiers the agency refused and returned to the citizen in the period."""
    open_at_period_end: list[OpenLeg]
    results_returned_by_post: TimelinessCounts
    """Return postal legs finished (first delivery attempt) in the period, by timeliness against J+n."""
    top_late_procedures: list[LateProcedure]
    nonconformities: Nonconformities


def share(part: int, whole: int) -> float | None:
    """``part`` in percent of ``whole``, one decimal; None when there is no whole."""
    if whole <= 0:
        return None
    return round(100 * part / whole, 1)


def timeliness_counts(counts: Mapping[Timeliness, int]) -> TimelinessCounts:
    early, on_time, late = (counts.get(t, 0) for t in (Timeliness.EARLY, Timeliness.ON_TIME, Timeliness.LATE))
    total = early + on_time + late
    full = {Timeliness.EARLY: early, Timeliness.ON_TIME: on_time, Timeliness.LATE: late}
    return TimelinessCounts(
        early=early, on_time=on_time, late=late, total=total, on_time_share=share(on_time_count(full), total)
    )


def build(
    period: Period,
    scope: Scope,
    counts: ReportCounts,
    *,
    names: Mapping[str, str],
    generated_at: datetime,
    status: Status,
) -> Report:
    """The report of ``period`` and ``scope`` from its counts; ``names`` maps procedure codes to names."""
    procedures = []
    for code, by_timeliness in counts.late_procedures.items():
        resolved = timeliness_counts(by_timeliness)
        procedures.append(
            LateProcedure(
                procedure_code=code,
                name=names.get(code),
                late=resolved.late,
                resolved=resolved.total,
                late_share=share(resolved.late, resolved.total),
            )
        )
    procedures.sort(key=lambda p: (-p.late, p.procedure_code))
    kinds = sorted(set(counts.nonconformities_opened) | set(counts.nonconformities_closed))
    by_kind = [
        NonconformityKind(
            kind=kind,
            opened=counts.nonconformities_opened.get(kind, 0),
            closed=counts.nonconformities_closed.get(kind, 0),
        )
        for kind in kinds
    ]
    none_open = Open(0, 0)
    return Report(
        period=period.name,
        period_kind=period.kind,
        first_day=period.first_day,
        last_day=period.end_day - timedelta(days=1),
        scope_kind=scope.kind,
        scope_code=scope.code or None,
        status=status,
        generated_at=generated_at,
        received_by_post=counts.received_by_post,
        resolved=timeliness_counts(counts.resolved),
        returned=counts.returned,
        open_at_period_end=[
            OpenLeg(
                leg=leg,
                pending=counts.open_at_end.get(leg, none_open).pending,
                overdue=counts.open_at_end.get(leg, none_open).overdue,
            )
            for leg in LEGS
        ],
        results_returned_by_post=timeliness_counts(counts.results_by_post),
        top_late_procedures=procedures[:TOP_LATE_PROCEDURES],
        nonconformities=Nonconformities(
            opened=sum(k.opened for k in by_kind), closed=sum(k.closed for k in by_kind), by_kind=by_kind
        ),
    )


# --------------------------------------------------------------------------- tables (for the file formats)

Cell = str | int | float | None


@dataclass(frozen=True)
class Table:
    """One table of the report: a CSV section, an XLSX sheet, a PDF table."""

    key: str
    """A short name: the sheet's name."""
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


LEG_NAMES: Mapping[Leg, str] = {
    Leg.INBOUND_POSTAL: "Inbound by post (chuyển hồ sơ)",
    Leg.AGENCY_PROCESSING: "Agency processing (giải quyết)",
    Leg.RETURN_POSTAL: "Result by post (trả kết quả)",
}
TIMELINESS_NAMES: Mapping[str, str] = {
    "early": "Early (trước hạn)",
    "on_time": "On time (đúng hạn)",
    "late": "Late (quá hạn)",
    "total": "Total (tổng số)",
}


def _by_timeliness(counts: TimelinessCounts) -> tuple[tuple[Cell, ...], ...]:
    return (
        (TIMELINESS_NAMES["early"], counts.early),
        (TIMELINESS_NAMES["on_time"], counts.on_time),
        (TIMELINESS_NAMES["late"], counts.late),
        (TIMELINESS_NAMES["total"], counts.total),
    )


def heading(report: Report) -> str:
    scope = (
        "National (toàn quốc)" if report.scope_code is None else f"{report.scope_kind} {report.scope_code}"
    )
    return f"Quality report (báo cáo chất lượng) {report.period} — {scope}"


def tables(report: Report) -> list[Table]:
    """The report's tables, in the order every file format shows them."""
    agency = next(o for o in report.open_at_period_end if o.leg is Leg.AGENCY_PROCESSING)
    summary: tuple[tuple[Cell, ...], ...] = (
        ("Period (kỳ báo cáo)", report.period),
        ("First day (từ ngày)", report.first_day.isoformat()),
        ("Last day (đến ngày)", report.last_day.isoformat()),
        ("Status (trạng thái)", report.status.value),
        ("Generated at (lập lúc)", to_vietnam_time(report.generated_at).isoformat(timespec="seconds")),
        ("Received by post (tiếp nhận qua bưu chính)", report.received_by_post),
        ("Resolved (đã giải quyết)", report.resolved.total),
        ("Resolved on time, % (tỷ lệ đúng hạn)", report.resolved.on_time_share),
        ("Returned to the citizen (trả lại hồ sơ)", report.returned),
        ("Pending at period end (đang giải quyết)", agency.pending),
        ("Overdue at period end (quá hạn)", agency.overdue),
        ("Results returned by post (trả kết quả qua bưu chính)", report.results_returned_by_post.total),
        ("Nonconformities opened (điểm không phù hợp mở)", report.nonconformities.opened),
        ("Nonconformities closed (đã đóng)", report.nonconformities.closed),
    )
    return [
        Table("Summary", heading(report), ("Figure", "Value"), summary),
        Table(
            "Resolved",
            "Dossiers resolved by the agency, by timeliness (hồ sơ đã giải quyết)",
            ("Timeliness", "Dossiers"),
            _by_timeliness(report.resolved),
        ),
        Table(
            "Open at period end",
            "Pending and overdue at period end, by leg (tồn cuối kỳ)",
            ("Leg", "Pending", "Overdue"),
            tuple((LEG_NAMES[o.leg], o.pending, o.overdue) for o in report.open_at_period_end),
        ),
        Table(
            "Results by post",
            "Results returned by post, first delivery attempt against J+n (trả kết quả qua bưu chính)",
            ("Timeliness", "Results"),
            _by_timeliness(report.results_returned_by_post),
        ),
        Table(
            "Top late procedures",
            "Procedures with the most late dossiers (thủ tục quá hạn nhiều nhất)",
            ("Rank", "Procedure", "Name", "Late", "Resolved", "Late, %"),
            tuple(
                (rank, p.procedure_code, p.name or "", p.late, p.resolved, p.late_share)
                for rank, p in enumerate(report.top_late_procedures, start=1)
            ),
        ),
        Table(
            "Nonconformities",
            "Nonconformities opened and closed in the period (điểm không phù hợp)",
            ("Kind", "Opened", "Closed"),
            (
                *((k.kind, k.opened, k.closed) for k in report.nonconformities.by_kind),
                ("Total (tổng số)", report.nonconformities.opened, report.nonconformities.closed),
            ),
        ),
    ]

"""The report as a PDF a director can read: a first page of plots (resolved by timeliness, results by
post, open at period end, top late procedures) under the key figures, then every table in full.

Drawn with matplotlib's object API (no pyplot: no global figure state shared between requests). Its
bundled DejaVu Sans has the Vietnamese glyphs, and is embedded as TrueType (not Type 3) so the text can
be searched and extracted."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from matplotlib.typing import RcKeyType

from services.shared.calendar import to_vietnam_time
from services.turnaround.quality.reports import (
    LEG_NAMES,
    Report,
    Status,
    Table,
    TimelinessCounts,
    heading,
    tables,
)

A4_LANDSCAPE = (11.69, 8.27)
STYLE: dict[RcKeyType, Any] = {"pdf.fonttype": 42, "font.family": "DejaVu Sans", "font.size": 9}
COLOURS = ("#2e7d32", "#1565c0", "#c62828")  # early, on time, late
TABLES_PER_PAGE = 3


def _save(pdf: PdfPages, fig: Figure) -> None:
    pdf.savefig(fig)  # type: ignore[no-untyped-call]  # matplotlib leaves PdfPages.savefig untyped


def _bars(ax: Axes, title: str, counts: TimelinessCounts) -> None:
    labels = ("Early\n(trước hạn)", "On time\n(đúng hạn)", "Late\n(quá hạn)")
    values = (counts.early, counts.on_time, counts.late)
    bars = ax.bar(labels, values, color=COLOURS)
    ax.bar_label(bars, labels=[str(v) for v in values])
    share = "—" if counts.on_time_share is None else f"{counts.on_time_share} %"
    ax.set_title(f"{title}\n{counts.total} in all, on time {share}")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.margins(y=0.2)


def _open(ax: Axes, report: Report) -> None:
    names = [LEG_NAMES[o.leg].replace(" (", "\n(") for o in report.open_at_period_end]
    xs = range(len(names))
    pending = ax.bar(
        [x - 0.2 for x in xs], [o.pending for o in report.open_at_period_end], 0.4, label="Pending"
    )
    overdue = ax.bar(
        [x + 0.2 for x in xs],
        [o.overdue for o in report.open_at_period_end],
        0.4,
        label="Overdue",
        color="#c62828",
    )
    ax.bar_label(pending)
    ax.bar_label(overdue)
    ax.set_xticks(list(xs), names)
    ax.set_title("Pending and overdue at period end (tồn cuối kỳ)")
    ax.legend()
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.margins(y=0.2)


def _procedures(ax: Axes, report: Report) -> None:
    procedures = list(reversed(report.top_late_procedures))
    ax.set_title("Top late procedures (thủ tục quá hạn nhiều nhất)")
    if not procedures:
        ax.text(0.5, 0.5, "No late dossier (không có hồ sơ quá hạn)", ha="center", va="center")
        ax.set_axis_off()
        return
    bars = ax.barh([p.procedure_code for p in procedures], [p.late for p in procedures], color="#c62828")
    ax.bar_label(bars)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.margins(x=0.2)


def _plots(pdf: PdfPages, report: Report) -> None:
    fig = Figure(figsize=A4_LANDSCAPE)
    fig.suptitle(heading(report), fontsize=13, fontweight="bold")
    status = "final" if report.status is Status.FINAL else "provisional: the period has not ended"
    generated = f"{to_vietnam_time(report.generated_at):%Y-%m-%d %H:%M} (UTC+7)"
    fig.text(
        0.5,
        0.905,
        f"{report.first_day} – {report.last_day} · {status} · generated {generated}\n"
        f"Received by post {report.received_by_post} · returned {report.returned} · "
        f"nonconformities opened {report.nonconformities.opened}, closed {report.nonconformities.closed}",
        ha="center",
        va="top",
    )
    grid = fig.add_gridspec(2, 2, top=0.8, bottom=0.08, hspace=0.55, wspace=0.3)
    _bars(fig.add_subplot(grid[0, 0]), "Resolved by the agency (đã giải quyết)", report.resolved)
    _bars(
        fig.add_subplot(grid[0, 1]), "Results returned by post (trả kết quả)", report.results_returned_by_post
    )
    _open(fig.add_subplot(grid[1, 0]), report)
    _procedures(fig.add_subplot(grid[1, 1]), report)
    _save(pdf, fig)


def _table(ax: Axes, table: Table) -> None:
    ax.set_axis_off()
    ax.set_title(table.title, loc="left", fontweight="bold")
    rows = [["" if cell is None else str(cell) for cell in row] for row in table.rows] or [
        ["—"] * len(table.columns)
    ]
    drawn = ax.table(cellText=rows, colLabels=table.columns, loc="upper left", cellLoc="left")
    drawn.auto_set_font_size(False)
    drawn.set_fontsize(8)
    drawn.auto_set_column_width(list(range(len(table.columns))))


def _pages(pdf: PdfPages, all_tables: Sequence[Table]) -> None:
    for start in range(0, len(all_tables), TABLES_PER_PAGE):
        page = all_tables[start : start + TABLES_PER_PAGE]
        fig = Figure(figsize=A4_LANDSCAPE)
        heights = [len(t.rows) + 3 for t in page]
        grid = fig.add_gridspec(len(page), 1, height_ratios=heights, top=0.95, bottom=0.03, hspace=0.35)
        for index, table in enumerate(page):
            _table(fig.add_subplot(grid[index, 0]), table)
        _save(pdf, fig)


def render(report: Report) -> bytes:
    out = io.BytesIO()
    with matplotlib.rc_context(STYLE), PdfPages(out, metadata={"Title": heading(report)}) as pdf:
        _plots(pdf, report)
        _pages(pdf, tables(report))
    return out.getvalue()

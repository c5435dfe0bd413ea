"""The report's figures from its counts (services/turnaround/quality/reports.py): totals, shares, the top
late procedures, the legs open at period end, the nonconformities — and every table shows them."""

from __future__ import annotations

from datetime import UTC, date, datetime

from contracts.enums import Leg
from services.shared.timeliness import Timeliness
from services.turnaround.quality.periods import Period, PeriodKind
from services.turnaround.quality.reports import (
    TOP_LATE_PROCEDURES,
    Open,
    Report,
    ReportCounts,
    Status,
    build,
    heading,
    share,
    tables,
    timeliness_counts,
    top_late,
)
from services.turnaround.quality.scopes import NATIONAL, Scope, ScopeKind

EARLY, ON_TIME, LATE = Timeliness.EARLY, Timeliness.ON_TIME, Timeliness.LATE
AT = datetime(2026, 10, 1, 1, tzinfo=UTC)


def _counts(**changes: object) -> ReportCounts:
    values: dict[str, object] = {
        "received_by_post": 40,
        "resolved": {EARLY: 5, ON_TIME: 3, LATE: 2},
        "returned": 4,
        "open_at_end": {Leg.AGENCY_PROCESSING: Open(7, 3), Leg.INBOUND_POSTAL: Open(2, 1)},
        "results_by_post": {EARLY: 1, ON_TIME: 6, LATE: 1},
        "late_procedures": {
            "1.000002": {EARLY: 1, ON_TIME: 0, LATE: 2},
            "1.000001": {EARLY: 0, ON_TIME: 1, LATE: 3},
        },
        "nonconformities_opened": {"result_late": 3, "postal_leg_late": 1},
        "nonconformities_closed": {"result_late": 1, "second_delay_notice": 2},
    }
    values.update(changes)
    return ReportCounts(**values)  # type: ignore[arg-type]


def _report(counts: ReportCounts | None = None, status: Status = Status.FINAL) -> Report:
    return build(
        Period.parse("2026-Q3"),
        Scope(ScopeKind.AGENCY, "000.00.01.H22"),
        counts or _counts(),
        names={"1.000001": "Cấp hộ chiếu phổ thông"},
        generated_at=AT,
        status=status,
    )


def test_the_report_names_its_period_scope_and_status() -> None:
    report = _report()
    assert (report.period, report.period_kind) == ("2026-Q3", PeriodKind.QUARTER)
    assert (report.first_day, report.last_day) == (date(2026, 7, 1), date(2026, 9, 30))
    assert (report.scope_kind, report.scope_code) == (ScopeKind.AGENCY, "000.00.01.H22")
    assert report.status is Status.FINAL
    assert report.generated_at == AT
    national = build(
        Period.parse("2026-02"), NATIONAL, _counts(), names={}, generated_at=AT, status=Status.PROVISIONAL
    )
    assert (national.scope_kind, national.scope_code, national.last_day) == (
        ScopeKind.NATIONAL,
        None,
        date(2026, 2, 28),
    )
    assert national.status is Status.PROVISIONAL


def test_resolved_counts_early_with_on_time_in_the_on_time_share() -> None:
    report = _report()
    assert report.received_by_post == 40
    assert report.returned == 4
    assert report.resolved.model_dump() == {
        "early": 5,
        "on_time": 3,
        "late": 2,
        "total": 10,
        "on_time_share": 80.0,
    }
    assert report.results_returned_by_post.model_dump() == {
        "early": 1,
        "on_time": 6,
        "late": 1,
        "total": 8,
        "on_time_share": 87.5,
    }


def test_a_share_is_rounded_to_one_decimal_and_absent_without_a_whole() -> None:
    assert share(2, 3) == 66.7
    assert share(1, 3) == 33.3
    assert share(3, 3) == 100.0
    assert share(1, 1) == 100.0
    assert share(0, 3) == 0.0
    assert share(0, 0) is None
    none = timeliness_counts({})
    assert (none.total, none.on_time_share) == (0, None)


def test_every_leg_is_listed_open_at_period_end_in_journey_order_zero_when_none() -> None:
    legs = [(o.leg, o.pending, o.overdue) for o in _report().open_at_period_end]
    assert legs == [(Leg.INBOUND_POSTAL, 2, 1), (Leg.AGENCY_PROCESSING, 7, 3), (Leg.RETURN_POSTAL, 0, 0)]


def test_late_procedures_are_ranked_by_late_dossiers_with_their_share_and_name() -> None:
    ranked = [
        (p.procedure_code, p.name, p.late, p.resolved, p.late_share) for p in _report().top_late_procedures
    ]
    assert ranked == [("1.000001", "Cấp hộ chiếu phổ thông", 3, 4, 75.0), ("1.000002", None, 2, 3, 66.7)]


def test_the_top_late_procedures_are_ten_most_first_ties_by_code_and_never_one_without_a_late() -> None:
    late = {f"1.{n:06d}": n % 13 for n in range(1, 30)}
    top = top_late(late)
    assert len(top) == TOP_LATE_PROCEDURES == 10
    expected = sorted((code for code, n in late.items() if n > 0), key=lambda c: (-late[c], c))[:10]
    assert top == expected
    assert top[:3] == ["1.000012", "1.000025", "1.000011"]
    assert top_late({"1.000001": 0, "1.000002": 1}) == ["1.000002"]
    assert top_late({"1.000003": 2, "1.000001": 2, "1.000002": 5}) == ["1.000002", "1.000001", "1.000003"]
    many = {f"1.{n:06d}": {LATE: 1} for n in range(12)}
    assert len(_report(_counts(late_procedures=many)).top_late_procedures) == 10


def test_nonconformities_are_totalled_and_listed_by_kind() -> None:
    nc = _report().nonconformities
    assert (nc.opened, nc.closed) == (4, 3)
    assert [(k.kind, k.opened, k.closed) for k in nc.by_kind] == [
        ("postal_leg_late", 1, 0),
        ("result_late", 3, 1),
        ("second_delay_notice", 0, 2),
    ]


def test_every_table_shows_the_reports_numbers() -> None:
    report = _report()
    by_key = {t.key: t for t in tables(report)}
    assert list(by_key) == [
        "Summary",
        "Resolved",
        "Open at period end",
        "Results by post",
        "Top late procedures",
        "Nonconformities",
    ]
    summary = {row[0]: row[1] for row in by_key["Summary"].rows}
    assert summary["Period (kỳ báo cáo)"] == "2026-Q3"
    assert summary["Received by post (tiếp nhận qua bưu chính)"] == 40
    assert summary["Resolved (đã giải quyết)"] == 10
    assert summary["Resolved on time, % (tỷ lệ đúng hạn)"] == 80.0
    assert summary["Returned to the citizen (trả lại hồ sơ)"] == 4
    assert summary["Pending at period end (đang giải quyết)"] == 7
    assert summary["Overdue at period end (quá hạn)"] == 3
    assert summary["Results returned by post (trả kết quả qua bưu chính)"] == 8
    assert summary["Nonconformities opened (điểm không phù hợp mở)"] == 4
    assert summary["Nonconformities closed (đã đóng)"] == 3
    assert summary["Generated at (lập lúc)"] == "2026-10-01T08:00:00+07:00"
    assert [row[1] for row in by_key["Resolved"].rows] == [5, 3, 2, 10]
    assert [row[1] for row in by_key["Results by post"].rows] == [1, 6, 1, 8]
    assert [row[1:] for row in by_key["Open at period end"].rows] == [(2, 1), (7, 3), (0, 0)]
    assert by_key["Top late procedures"].rows == (
        (1, "1.000001", "Cấp hộ chiếu phổ thông", 3, 4, 75.0),
        (2, "1.000002", "", 2, 3, 66.7),
    )
    assert by_key["Nonconformities"].rows[-1] == ("Total (tổng số)", 4, 3)
    assert all(len(row) == len(t.columns) for t in by_key.values() for row in t.rows)


def test_every_table_keeps_the_titles_and_columns_a_filed_report_is_read_by() -> None:
    report = _report()
    assert heading(report) == "Quality report (báo cáo chất lượng) 2026-Q3 — agency 000.00.01.H22"
    national = build(
        Period.parse("2026"), NATIONAL, _counts(), names={}, generated_at=AT, status=Status.FINAL
    )
    assert heading(national) == "Quality report (báo cáo chất lượng) 2026 — National (toàn quốc)"
    layout = [(t.key, t.title, t.columns) for t in tables(report)]
    assert layout == [
        ("Summary", heading(report), ("Figure", "Value")),
        (
            "Resolved",
            "Dossiers resolved by the agency, by timeliness (hồ sơ đã giải quyết)",
            ("Timeliness", "Dossiers"),
        ),
        (
            "Open at period end",
            "Pending and overdue at period end, by leg (tồn cuối kỳ)",
            ("Leg", "Pending", "Overdue"),
        ),
        (
            "Results by post",
            "Results returned by post, first delivery attempt against J+n (trả kết quả qua bưu chính)",
            ("Timeliness", "Results"),
        ),
        (
            "Top late procedures",
            "Procedures with the most late dossiers (thủ tục quá hạn nhiều nhất)",
            ("Rank", "Procedure", "Name", "Late", "Resolved", "Late, %"),
        ),
        (
            "Nonconformities",
            "Nonconformities opened and closed in the period (điểm không phù hợp)",
            ("Kind", "Opened", "Closed"),
        ),
    ]
    by_key = {t.key: t for t in tables(report)}
    assert [row[0] for row in by_key["Summary"].rows] == [
        "Period (kỳ báo cáo)",
        "First day (từ ngày)",
        "Last day (đến ngày)",
        "Status (trạng thái)",
        "Generated at (lập lúc)",
        "Received by post (tiếp nhận qua bưu chính)",
        "Resolved (đã giải quyết)",
        "Resolved on time, % (tỷ lệ đúng hạn)",
        "Returned to the citizen (trả lại hồ sơ)",
        "Pending at period end (đang giải quyết)",
        "Overdue at period end (quá hạn)",
        "Results returned by post (trả kết quả qua bưu chính)",
        "Nonconformities opened (điểm không phù hợp mở)",
        "Nonconformities closed (đã đóng)",
    ]
    assert [row[1] for row in by_key["Summary"].rows][:5] == [
        "2026-Q3",
        "2026-07-01",
        "2026-09-30",
        "final",
        "2026-10-01T08:00:00+07:00",
    ]
    timeliness = ["Early (trước hạn)", "On time (đúng hạn)", "Late (quá hạn)", "Total (tổng số)"]
    assert [row[0] for row in by_key["Resolved"].rows] == timeliness
    assert [row[0] for row in by_key["Results by post"].rows] == timeliness
    assert [row[0] for row in by_key["Open at period end"].rows] == [
        "Inbound by post (chuyển hồ sơ)",
        "Agency processing (giải quyết)",
        "Result by post (trả kết quả)",
    ]

"""GET /quality/reports/{period}: the report as JSON, CSV, XLSX and PDF with the same numbers, in the
right content types and file names; read by an operator in every scope and by an agency or a post office
in its own only; a bad period, scope or format is a 422 problem — against the real PostgreSQL."""

from __future__ import annotations

import csv
import io
import uuid
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from contracts.enums import Leg
from services.shared.auth import Role, TokenSigner
from services.shared.auth.authenticator import Authenticator
from services.shared.auth.registry import CredentialRegistry
from services.shared.calendar import VN_TZ
from services.shared.db.engine import make_engine
from services.shared.timeliness import Timeliness
from services.turnaround.adapters import repository
from services.turnaround.app import create_app
from services.turnaround.domain import Clock, ClockState
from services.turnaround.settings import TurnaroundSettings

pytestmark = [pytest.mark.postgres]

SECRET = "quality-report-tests-signing-secret-0123456789"
NOW = datetime(2026, 10, 20, 3, tzinfo=UTC)  # Q3 2026 has ended; Q4 runs
PASSPORT = "1.001456"  # in the catalog: its name is Vietnamese


def vn(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), VN_TZ)


@dataclass
class Api:
    http: httpx.AsyncClient
    tokens: dict[str, str]
    agency: str
    office: str

    async def get(self, caller: str | None, path: str, **params: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[caller]}"} if caller else {}
        return await self.http.get(path, params=params, headers=headers)


def _clock(agency: str, office: str, leg: Leg, timeliness: Timeliness | None, day: date) -> tuple[str, Clock]:
    finished = timeliness is not None
    return str(uuid.uuid4()), Clock(
        leg=leg,
        generation=0,
        state=ClockState.FINISHED if finished else ClockState.RUNNING,
        started_at=vn(date(2026, 7, 6)),
        start_day=date(2026, 7, 6),
        due_date=date(2026, 7, 16),
        province="ha_noi",
        field_key="f",
        route="",
        agency_code=agency,
        post_office_code=office,
        procedure_code=PASSPORT,
        finished_at=vn(day) if finished else None,
        finished_day=day if finished else None,
        working_days=4 if finished else None,
        timeliness=timeliness,
        counted=True,
    )


@pytest.fixture
async def api(migrated_database: str) -> AsyncIterator[Api]:
    agency = f"{uuid.uuid4().int % 10**9:09d}.H22"
    office = f"{uuid.uuid4().int % 10**6:06d}"
    engine = make_engine(migrated_database)
    ag, inbound, ret = Leg.AGENCY_PROCESSING, Leg.INBOUND_POSTAL, Leg.RETURN_POSTAL
    early, on_time, late = Timeliness.EARLY, Timeliness.ON_TIME, Timeliness.LATE
    clocks = [
        *(_clock(agency, office, ag, early, date(2026, 7, 10)) for _ in range(3)),
        _clock(agency, office, ag, on_time, date(2026, 7, 16)),
        *(_clock(agency, office, ag, late, date(2026, 8, 3)) for _ in range(2)),
        *(_clock(agency, office, inbound, on_time, date(2026, 7, 7)) for _ in range(5)),
        *(_clock(agency, office, ag, None, date(2026, 7, 6)) for _ in range(7)),  # open at the end, overdue
        _clock(agency, office, ret, late, date(2026, 9, 1)),
    ]
    signer = TokenSigner(SECRET)
    registry = CredentialRegistry(engine, cache_seconds=0)
    now = datetime.now(UTC)
    tokens: dict[str, str] = {}
    for name, role, scope in [
        ("operator", Role.OPERATOR, None),
        ("agency", Role.AGENCY, agency),
        ("other_agency", Role.AGENCY, f"{uuid.uuid4().int % 10**9:09d}.H22"),
        ("office", Role.POST_OFFICE, office),
    ]:
        principal, token = signer.issue(
            subject=name, role=role, scope=scope, now=now, valid_for=timedelta(hours=1)
        )
        await registry.register(principal, issued_at=now, expires_at=now + timedelta(hours=1))
        tokens[name] = token
    async with engine.begin() as conn:
        await repository.upsert_clocks(conn, clocks, now)
    settings = TurnaroundSettings.model_validate(
        {"DATABASE_URL": migrated_database, "DOSSIER_AUTH_SECRET": SECRET, "quality_report_periods": []}
    )
    app = create_app(settings, now=lambda: NOW)
    # The lifespan (broker, loops) is not run: the route needs only the engine and the authenticator.
    app.state.authenticator = Authenticator(signer, registry)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://turnaround") as http:
            yield Api(http, tokens, agency, office)
    finally:
        await app.state.engine.dispose()
        await engine.dispose()


def _pdf_text(body: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


async def test_every_format_holds_the_numbers_of_the_json_report(api: Api) -> None:
    scope = {"scope": "agency", "code": api.agency}
    answer = await api.get("operator", "/quality/reports/2026-Q3", **scope)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["report-status"] == "final"
    report: dict[str, Any] = answer.json()
    assert report["status"] == "final"
    assert report["resolved"] == {"early": 3, "on_time": 1, "late": 2, "total": 6, "on_time_share": 66.7}
    assert report["received_by_post"] == 5
    assert report["results_returned_by_post"]["late"] == 1
    agency_open = next(o for o in report["open_at_period_end"] if o["leg"] == "AGENCY_PROCESSING")
    assert agency_open == {"leg": "AGENCY_PROCESSING", "pending": 7, "overdue": 7}
    assert [(p["procedure_code"], p["late"], p["resolved"]) for p in report["top_late_procedures"]] == [
        (PASSPORT, 2, 6)
    ]
    name = report["top_late_procedures"][0]["name"]
    assert name and any(ord(c) > 0x1E00 for c in name), "the catalog's Vietnamese name"

    stem = f"quality-report-2026-Q3-agency-{api.agency}"
    as_csv = await api.get("operator", "/quality/reports/2026-Q3", format="csv", **scope)
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert as_csv.headers["content-disposition"] == f'attachment; filename="{stem}.csv"'
    rows = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert ["Resolved (đã giải quyết)", "6"] in rows
    assert ["Late (quá hạn)", "2"] in rows
    assert ["Received by post (tiếp nhận qua bưu chính)", "5"] in rows
    assert ["1", PASSPORT, name, "2", "6", "33.3"] in rows

    as_xlsx = await api.get("operator", "/quality/reports/2026-Q3", format="xlsx", **scope)
    assert as_xlsx.status_code == 200
    assert (
        as_xlsx.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert as_xlsx.headers["content-disposition"] == f'attachment; filename="{stem}.xlsx"'
    book = load_workbook(io.BytesIO(as_xlsx.content))
    assert book.sheetnames == [
        "Summary",
        "Resolved",
        "Open at period end",
        "Results by post",
        "Top late procedures",
        "Nonconformities",
    ]
    resolved = [tuple(r) for r in book["Resolved"].iter_rows(min_row=3, values_only=True)]
    assert [r[1] for r in resolved] == [3, 1, 2, 6]
    # The workbook's own parts (ECMA-376): one chart, drawn on the "Resolved" sheet (sheet 2).
    with zipfile.ZipFile(io.BytesIO(as_xlsx.content)) as parts:
        charts = [name for name in parts.namelist() if name.startswith("xl/charts/chart")]
        drawing_of_resolved = parts.read("xl/worksheets/_rels/sheet2.xml.rels").decode()
    assert len(charts) == 1
    assert "drawing" in drawing_of_resolved
    summary = {r[0]: r[1] for r in book["Summary"].iter_rows(min_row=3, values_only=True)}
    assert summary["Received by post (tiếp nhận qua bưu chính)"] == report["received_by_post"]
    assert summary["Resolved on time, % (tỷ lệ đúng hạn)"] == report["resolved"]["on_time_share"]
    assert summary["Overdue at period end (quá hạn)"] == 7
    top = list(book["Top late procedures"].iter_rows(min_row=3, values_only=True))
    assert top == [(1, PASSPORT, name, 2, 6, 33.3)]

    as_pdf = await api.get("operator", "/quality/reports/2026-Q3", format="pdf", **scope)
    assert as_pdf.status_code == 200
    assert as_pdf.headers["content-type"] == "application/pdf"
    assert as_pdf.headers["content-disposition"] == f'attachment; filename="{stem}.pdf"'
    text = _pdf_text(as_pdf.content)
    assert f"Quality report (báo cáo chất lượng) 2026-Q3 — agency {api.agency}" in text
    assert "6 in all, on time 66.7 %" in text
    assert "Resolved (đã giải quyết) 6" in text
    assert "Early (trước hạn) 3" in text
    assert "Late (quá hạn) 2" in text
    assert "Received by post (tiếp nhận qua bưu chính) 5" in text
    assert "Agency processing (giải quyết) 7 7" in text
    assert f"1 {PASSPORT} {name} 2 6 33.3" in text


async def test_a_running_periods_report_says_it_is_provisional(api: Api) -> None:
    answer = await api.get("agency", "/quality/reports/2026-Q4")
    assert answer.status_code == 200
    assert answer.headers["report-status"] == "provisional"
    assert answer.json()["status"] == "provisional"


async def test_an_agency_or_a_post_office_reads_its_own_reports_and_an_operator_all(api: Api) -> None:
    own = await api.get("agency", "/quality/reports/2026-Q3")
    assert own.status_code == 200
    assert (own.json()["scope_kind"], own.json()["scope_code"]) == ("agency", api.agency)
    assert (
        await api.get("agency", "/quality/reports/2026-Q3", scope="agency", code=api.agency)
    ).status_code == 200
    office = await api.get("office", "/quality/reports/2026-09", scope="post_office", code=api.office)
    assert office.status_code == 200
    assert office.json()["resolved"]["total"] == 0  # the agency clocks were finished in July and August
    national = await api.get("operator", "/quality/reports/2026-Q3")
    assert national.json()["scope_kind"] == "national"
    assert national.json()["resolved"]["total"] == 6

    for caller, params in [
        ("other_agency", {"scope": "agency", "code": api.agency}),
        ("agency", {"scope": "national"}),
        ("agency", {"scope": "province", "code": "ha_noi"}),
        ("office", {"scope": "agency", "code": api.agency}),
        ("office", {"scope": "post_office", "code": "999999"}),
    ]:
        refused = await api.get(caller, "/quality/reports/2026-Q3", **params)
        assert refused.status_code == 403, (caller, params)
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["reason"] == "forbidden"
    anonymous = await api.get(None, "/quality/reports/2026-Q3")
    assert (anonymous.status_code, anonymous.json()["reason"]) == (401, "unauthenticated")


@pytest.mark.parametrize(
    ("period", "params", "reason"),
    [
        ("2026-Q5", {}, "invalid_period"),
        ("2026-13", {}, "invalid_period"),
        ("Q3-2026", {}, "invalid_period"),
        ("2027", {}, "invalid_period"),  # not started on 20 Oct 2026
        ("2026-Q3", {"scope": "planet"}, "invalid_scope"),
        ("2026-Q3", {"scope": "agency"}, "invalid_scope"),
        ("2026-Q3", {"scope": "national", "code": "x"}, "invalid_scope"),
        ("2026-Q3", {"code": "000.00.01.H22"}, "invalid_scope"),
        ("2026-Q3", {"format": "docx"}, "invalid_format"),
        ("2026-Q3", {"format": "x" * 9}, "invalid_request"),
        ("2026-Q3-extra", {}, "invalid_request"),
    ],
)
async def test_a_bad_period_scope_or_format_is_a_422_problem(
    api: Api, period: str, params: dict[str, str], reason: str
) -> None:
    answer = await api.get("operator", f"/quality/reports/{period}", **params)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["reason"] == reason

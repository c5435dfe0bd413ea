"""The objectives' HTTP API: a caller lists the objectives of the scopes it may read and reads their
measurement; another unit's objective answers like an unknown one (404); a malformed period is a 422
problem with its reason. Served by the turnaround app against the real PostgreSQL (no broker: the app's
lifespan is not run, the routes need only the database)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from contracts.enums import Leg
from services.shared.auth import Role, TokenSigner
from services.shared.auth.authenticator import Authenticator
from services.shared.auth.registry import CredentialRegistry
from services.shared.db.engine import make_engine
from services.shared.timeliness import Timeliness
from services.turnaround.adapters import repository
from services.turnaround.app import create_app
from services.turnaround.domain import Clock, ClockState
from services.turnaround.settings import TurnaroundSettings

pytestmark = [pytest.mark.postgres]

SECRET = "quality-objectives-tests-signing-secret-0123"
AGENCY_X, AGENCY_Y = "000.00.01.H22", "000.00.02.H22"
OFFICE_A, OFFICE_B = "100000", "700000"
NOW = datetime(2026, 7, 10, 3, tzinfo=UTC)  # 10 July 2026, 10:00 in Vietnam


def _objective(objective_id: str, scope: dict[str, str], **changes: Any) -> dict[str, Any]:
    return {
        "id": objective_id,
        "title": "≥ 95 % hồ sơ được giải quyết đúng hạn",
        "scope": scope,
        "measure": "on_time_share",
        "leg": "AGENCY_PROCESSING",
        "target": {"at_least": 95},
        "period": "quarter",
        "owner": "Đơn vị",
        "source": "Quyết định 766/QĐ-TTg",
        **changes,
    }


OBJECTIVES = [
    _objective("national-on-time", {"kind": "national"}),
    _objective("province-on-time", {"kind": "province", "code": "ha_noi"}),
    _objective("agency-x-on-time", {"kind": "agency", "code": AGENCY_X}),
    _objective("agency-y-on-time", {"kind": "agency", "code": AGENCY_Y}),
    _objective(
        "office-a-inbound", {"kind": "post_office", "code": OFFICE_A}, leg="INBOUND_POSTAL", period="month"
    ),
]


@dataclass
class Api:
    client: httpx.AsyncClient
    tokens: dict[str, str]

    async def get(self, role: str, path: str, **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role in self.tokens else {}
        return await self.client.get(path, params=params, headers=headers)


def _finished(day: date, timeliness: Timeliness, agency: str) -> tuple[str, Clock]:
    started = datetime(2026, 4, 1, 2, tzinfo=UTC)
    return str(uuid.uuid4()), Clock(
        leg=Leg.AGENCY_PROCESSING,
        generation=1,
        state=ClockState.FINISHED,
        started_at=started,
        start_day=started.date(),
        due_date=date(2026, 6, 1),
        province="ha_noi",
        field_key="f",
        route="",
        agency_code=agency,
        post_office_code=OFFICE_A,
        procedure_code="1.001456",
        finished_at=datetime.combine(day, datetime.min.time(), UTC),
        finished_day=day,
        working_days=3,
        timeliness=timeliness,
        counted=True,
    )


@pytest.fixture
async def api(migrated_database: str, tmp_path: Path) -> AsyncIterator[Api]:
    path = tmp_path / "objectives.yaml"
    path.write_text(yaml.safe_dump({"objectives": OBJECTIVES}, allow_unicode=True), encoding="utf-8")
    settings = TurnaroundSettings.model_validate(
        {"DATABASE_URL": migrated_database, "DOSSIER_AUTH_SECRET": SECRET, "objectives_file": str(path)}
    )
    app = create_app(settings, now=lambda: NOW)
    engine = make_engine(migrated_database)
    registry = CredentialRegistry(engine, cache_seconds=0)
    signer = TokenSigner(SECRET)
    app.state.authenticator = Authenticator(signer, registry)
    tokens: dict[str, str] = {}
    issued = datetime.now(UTC)
    for role, kind, scope in [
        ("operator", Role.OPERATOR, None),
        ("agency_x", Role.AGENCY, AGENCY_X),
        ("agency_y", Role.AGENCY, AGENCY_Y),
        ("post_office_a", Role.POST_OFFICE, OFFICE_A),
        ("post_office_b", Role.POST_OFFICE, OFFICE_B),
    ]:
        principal, token = signer.issue(
            subject=f"{role}-{uuid.uuid4().hex[:8]}",
            role=kind,
            scope=scope,
            now=issued,
            valid_for=timedelta(hours=1),
        )
        await registry.register(principal, issued_at=issued, expires_at=issued + timedelta(hours=1))
        tokens[role] = token
    # Q2 2026 for agency X: 19 on time or early, 1 late (95 %); Q1: 1 on time, 1 late (50 %).
    clocks = [_finished(date(2026, 5, 4), Timeliness.ON_TIME, AGENCY_X) for _ in range(15)]
    clocks += [_finished(date(2026, 6, 30), Timeliness.EARLY, AGENCY_X) for _ in range(4)]
    clocks += [_finished(date(2026, 6, 30), Timeliness.LATE, AGENCY_X)]
    clocks += [_finished(date(2026, 2, 2), t, AGENCY_X) for t in (Timeliness.ON_TIME, Timeliness.LATE)]
    clocks += [_finished(date(2026, 5, 4), Timeliness.LATE, AGENCY_Y) for _ in range(3)]
    async with engine.begin() as conn:
        await repository.upsert_clocks(conn, clocks, NOW)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://turnaround") as client:
            yield Api(client, tokens)
    finally:
        await engine.dispose()
        await app.state.engine.dispose()


async def test_each_caller_lists_only_the_objectives_of_its_own_scope(api: Api) -> None:
    listed = {}
    for role in ("operator", "agency_x", "agency_y", "post_office_a", "post_office_b"):
        response = await api.get(role, "/quality/objectives")
        assert response.status_code == 200, response.text
        listed[role] = [o["id"] for o in response.json()["objectives"]]

    assert listed == {
        "operator": [o["id"] for o in OBJECTIVES],
        "agency_x": ["agency-x-on-time"],
        "agency_y": ["agency-y-on-time"],
        "post_office_a": ["office-a-inbound"],
        "post_office_b": [],
    }
    assert (await api.get("anonymous", "/quality/objectives")).status_code == 401


async def test_an_objective_is_measured_for_a_period_with_its_counts_verdict_and_trend(api: Api) -> None:
    response = await api.get(
        "agency_x", "/quality/objectives/agency-x-on-time/measurements", period="2026-Q2"
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["objective"]["id"] == "agency-x-on-time"
    assert body["objective"]["target"] == {"comparison": "at_least", "value": 95.0}
    assert body["objective"]["scope"] == {"kind": "agency", "code": AGENCY_X}
    assert body["measured"] == {
        "period": "2026-Q2",
        "first_day": "2026-04-01",
        "last_day": "2026-06-30",
        "numerator": 19,
        "denominator": 20,
        "value": 95.0,
        "status": "met",
    }
    assert body["ended"] is True  # judged on 10 July 2026
    assert body["trend"]["direction"] == "improving"  # 95 % after Q1's 50 %
    assert [
        (p["period"], p["numerator"], p["denominator"], p["status"]) for p in body["trend"]["previous"]
    ] == [
        ("2026-Q1", 1, 2, "not_met"),
        ("2025-Q4", 0, 0, "not_measurable"),
        ("2025-Q3", 0, 0, "not_measurable"),
        ("2025-Q2", 0, 0, "not_measurable"),
    ]
    q3 = (
        await api.get("operator", "/quality/objectives/agency-x-on-time/measurements", period="2026-Q3")
    ).json()
    assert (q3["measured"]["value"], q3["measured"]["status"], q3["ended"]) == (None, "not_measurable", False)
    one = await api.get(
        "operator", "/quality/objectives/agency-x-on-time/measurements", period="2026-05", trend=1
    )
    assert one.json()["measured"]["numerator"] == 15
    assert [p["period"] for p in one.json()["trend"]["previous"]] == ["2026-04"]


async def test_another_units_objective_answers_like_an_unknown_one(api: Api) -> None:
    path = "/quality/objectives/{}/measurements"
    hidden = await api.get("agency_x", path.format("agency-y-on-time"), period="2026-Q2")
    national = await api.get("post_office_a", path.format("national-on-time"), period="2026-Q2")
    unknown = await api.get("agency_x", path.format("no-such-objective"), period="2026-Q2")
    # Out of scope with a malformed period: still 404, so the period's check reveals nothing.
    hidden_malformed = await api.get("agency_x", path.format("agency-y-on-time"), period="Q2")

    for response in (hidden, national, unknown, hidden_malformed):
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json() == unknown.json()
    assert unknown.json()["reason"] == "not_found"
    assert (await api.get("operator", path.format("agency-y-on-time"), period="2026-Q2")).status_code == 200
    assert (await api.get("anonymous", path.format("agency-x-on-time"), period="2026-Q2")).status_code == 401


@pytest.mark.parametrize(
    "period", ["2026-Q5", "2026-13", "2026-H3", "26-Q1", "1999", "Q3-2026", "2026-q3", ""]
)
async def test_a_malformed_period_is_a_422_problem_with_its_reason(api: Api, period: str) -> None:
    response = await api.get("operator", "/quality/objectives/national-on-time/measurements", period=period)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["reason"] == "invalid_period"
    assert period not in problem["detail"] or not period, "the submitted value is not echoed"


async def test_a_missing_period_or_an_out_of_range_trend_is_a_422_problem(api: Api) -> None:
    path = "/quality/objectives/national-on-time/measurements"
    missing = await api.get("operator", path)
    too_long = await api.get("operator", path, period="2026-Q2", trend=13)

    for response in (missing, too_long):
        assert response.status_code == 422
        assert response.json()["reason"] == "invalid_request"


async def test_an_operator_measures_a_national_objective_on_one_agency(api: Api) -> None:
    national = await api.get(
        "operator", "/quality/objectives/national-on-time/measurements", period="2026-Q2"
    )
    agency_y = await api.get(
        "operator",
        "/quality/objectives/national-on-time/measurements",
        period="2026-Q2",
        scope="agency",
        code=AGENCY_Y,
    )

    assert national.status_code == agency_y.status_code == 200
    assert national.json()["measured_scope"] == {"kind": "national", "code": None}
    assert (national.json()["measured"]["numerator"], national.json()["measured"]["denominator"]) == (19, 23)
    body = agency_y.json()
    assert body["measured_scope"] == {"kind": "agency", "code": AGENCY_Y}
    assert body["objective"]["id"] == "national-on-time"
    assert (body["measured"]["numerator"], body["measured"]["denominator"]) == (0, 3)
    assert body["measured"]["status"] == "not_met"


async def test_a_unit_s_objective_is_measured_on_its_own_scope_only(api: Api) -> None:
    own = await api.get(
        "agency_x",
        "/quality/objectives/agency-x-on-time/measurements",
        period="2026-Q2",
        scope="agency",
        code=AGENCY_X,
    )
    wider = await api.get(
        "operator",
        "/quality/objectives/agency-x-on-time/measurements",
        period="2026-Q2",
        scope="national",
    )

    assert own.status_code == 200
    assert (own.json()["measured"]["numerator"], own.json()["measured"]["denominator"]) == (19, 20)
    assert wider.status_code == 422
    assert wider.json()["reason"] == "invalid_scope"


async def test_a_scope_the_caller_may_not_read_or_a_malformed_one_is_refused(api: Api) -> None:
    other = await api.get(
        "agency_x",
        "/quality/objectives/agency-x-on-time/measurements",
        period="2026-Q2",
        scope="agency",
        code=AGENCY_Y,
    )
    malformed = await api.get(
        "operator",
        "/quality/objectives/national-on-time/measurements",
        period="2026-Q2",
        scope="city",
        code="x",
    )
    without_code = await api.get(
        "operator", "/quality/objectives/national-on-time/measurements", period="2026-Q2", scope="province"
    )

    assert other.status_code == 422  # not the objective's own scope, and it is not national
    assert (malformed.status_code, malformed.json()["reason"]) == (422, "invalid_scope")
    assert (without_code.status_code, without_code.json()["reason"]) == (422, "invalid_scope")

"""The nonconformity register's HTTP API for staff (services/turnaround/quality/nonconformity_api.py):
each unit sees its own, operators all; one out of scope is answered like an unknown one; the steps
open → analysed → action_taken → verified → closed with their texts, refusals 409 with the reason, and
the audit trail of who changed what and when — against the real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from contracts.enums import Leg
from services.shared.auth import Role, TokenSigner
from services.shared.auth.authenticator import Authenticator
from services.shared.auth.registry import CredentialRegistry
from services.shared.db.engine import make_engine
from services.shared.http import install_error_handlers
from services.turnaround.quality import nonconformity_api
from services.turnaround.quality.breaches import Breach, BreachKind, Citation, Responsible
from services.turnaround.quality.nonconformities import MAX_TEXT
from services.turnaround.quality.nonconformity_repository import open_if_absent

pytestmark = [pytest.mark.postgres]

SECRET = "quality-register-tests-secret-0123456789"
NOW = datetime(2026, 4, 2, 3, tzinfo=UTC)
AGENCY_X, AGENCY_Y = "000.00.01.H22", "000.00.02.H22"
OFFICE_A, OFFICE_B = "100000", "700000"
CALLERS: dict[str, tuple[Role, str | None, str]] = {
    "agency_x": (Role.AGENCY, AGENCY_X, "officer-x-0001"),
    "agency_x_colleague": (Role.AGENCY, AGENCY_X, "officer-x-0002"),
    "agency_y": (Role.AGENCY, AGENCY_Y, "officer-y-0001"),
    "post_office_a": (Role.POST_OFFICE, OFFICE_A, "clerk-a-0001"),
    "post_office_b": (Role.POST_OFFICE, OFFICE_B, "clerk-b-0001"),
    "operator": (Role.OPERATOR, None, "ops-0001"),
}

Client = Callable[[str], Awaitable[httpx.AsyncClient]]


def _breach(kind: BreachKind, responsible: Responsible, code: str, detected: datetime) -> Breach:
    return Breach(
        dossier_id=str(uuid.uuid4()),
        kind=kind,
        occurrence="notice-1" if responsible is Responsible.AGENCY else Leg.INBOUND_POSTAL.value,
        leg=Leg.AGENCY_PROCESSING if responsible is Responsible.AGENCY else Leg.INBOUND_POSTAL,
        responsible=responsible,
        responsible_code=code,
        province="ha_noi",
        procedure_code="2.001610",
        citation=Citation("decree_118_2025", "Decree 118/2025/NĐ-CP Art. 19(6)"),
        detected_at=detected,
        facts={"issued_on": "2026-03-05", "notice_number": 1},
    )


@pytest.fixture
async def register(migrated_database: str) -> AsyncIterator[tuple[dict[str, Breach], Client]]:
    """Three nonconformities (agency X's, agency Y's, post office A's) and a client per caller."""
    engine = make_engine(migrated_database)
    breaches = {
        "x": _breach(BreachKind.LATE_DELAY_NOTICE, Responsible.AGENCY, AGENCY_X, NOW - timedelta(days=3)),
        "y": _breach(BreachKind.SECOND_DELAY_NOTICE, Responsible.AGENCY, AGENCY_Y, NOW - timedelta(days=2)),
        "a": _breach(BreachKind.POSTAL_LEG_LATE, Responsible.POST_OFFICE, OFFICE_A, NOW - timedelta(days=1)),
    }
    async with engine.begin() as conn:
        await open_if_absent(conn, list(breaches.values()), NOW - timedelta(hours=1))
    registry = CredentialRegistry(engine, cache_seconds=0)
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(nonconformity_api.router)
    app.state.engine = engine
    app.state.authenticator = Authenticator(TokenSigner(SECRET), registry)
    app.state.now = lambda: NOW
    clients: list[httpx.AsyncClient] = []

    async def client(caller: str) -> httpx.AsyncClient:
        role, scope, subject = CALLERS[caller]
        issued = datetime.now(UTC)
        principal, token = TokenSigner(SECRET).issue(
            subject=subject, role=role, scope=scope, now=issued, valid_for=timedelta(hours=1)
        )
        await registry.register(principal, issued_at=issued, expires_at=issued + timedelta(hours=1))
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://turnaround",
            headers={"Authorization": f"Bearer {token}"},
        )
        clients.append(http)
        return http

    try:
        yield breaches, client
    finally:
        for http in clients:
            await http.aclose()
        await engine.dispose()


def _ids(page: dict[str, Any]) -> list[str]:
    return [item["nonconformity_id"] for item in page["items"]]


async def test_each_unit_lists_only_the_nonconformities_it_is_responsible_for_and_operators_all(
    register: tuple[dict[str, Breach], Client],
) -> None:
    breaches, client = register
    x, y, a = (breaches[k].nonconformity_id for k in "xya")
    expected = {
        "agency_x": [x],
        "agency_y": [y],
        "post_office_a": [a],
        "post_office_b": [],
        "operator": [a, y, x],  # newest breach first
    }
    for caller, ids in expected.items():
        answer = await (await client(caller)).get("/quality/nonconformities")
        assert answer.status_code == 200, answer.text
        assert _ids(answer.json()) == ids, caller


async def test_the_list_is_filtered_by_state_kind_unit_and_dossier(
    register: tuple[dict[str, Breach], Client],
) -> None:
    breaches, client = register
    operator = await client("operator")
    x, y, a = (breaches[k].nonconformity_id for k in "xya")

    async def listed(**query: Any) -> list[str]:
        answer = await operator.get("/quality/nonconformities", params=query)
        assert answer.status_code == 200, answer.text
        return _ids(answer.json())

    assert await listed(kind="second_delay_notice") == [y]
    assert await listed(unit_kind="agency") == [y, x]
    assert await listed(unit_kind="agency", unit=AGENCY_X) == [x]
    assert await listed(unit=OFFICE_A) == [a]
    assert await listed(state="open", limit=2) == [a, y]
    assert await listed(state="closed") == []
    assert await listed(dossier_id=breaches["y"].dossier_id) == [y]
    own = await client("agency_x")
    assert _ids((await own.get("/quality/nonconformities", params={"unit": AGENCY_X})).json()) == [x]


@pytest.mark.parametrize(
    ("caller", "query", "status", "reason"),
    [
        ("agency_x", {"unit": AGENCY_Y}, 403, "forbidden"),
        ("agency_x", {"unit_kind": "post_office"}, 403, "forbidden"),
        ("post_office_a", {"unit_kind": "agency", "unit": AGENCY_X}, 403, "forbidden"),
        ("operator", {"state": "reopened"}, 422, "invalid_request"),
        ("operator", {"kind": "late"}, 422, "invalid_request"),
        ("operator", {"unit": "a b"}, 422, "invalid_request"),
        ("operator", {"limit": 501}, 422, "invalid_request"),
        ("operator", {"dossier_id": "not-a-dossier"}, 422, "invalid_dossier_id"),
    ],
)
async def test_a_list_outside_the_callers_unit_or_with_bad_filters_is_refused_with_its_reason(
    register: tuple[dict[str, Breach], Client], caller: str, query: dict[str, Any], status: int, reason: str
) -> None:
    _, client = register
    answer = await (await client(caller)).get("/quality/nonconformities", params=query)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["reason"] == reason


async def test_one_nonconformity_reads_with_its_rule_facts_and_audit_trail(
    register: tuple[dict[str, Breach], Client],
) -> None:
    breaches, client = register
    breach = breaches["x"]
    answer = await (await client("agency_x")).get(f"/quality/nonconformities/{breach.nonconformity_id}")

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert {k: body[k] for k in ("dossier_id", "kind", "occurrence", "leg", "state", "version")} == {
        "dossier_id": breach.dossier_id,
        "kind": "late_delay_notice",
        "occurrence": "notice-1",
        "leg": "AGENCY_PROCESSING",
        "state": "open",
        "version": 1,
    }
    assert (body["responsible_kind"], body["responsible_code"]) == ("agency", AGENCY_X)
    assert (body["rule_set"], body["article"]) == ("decree_118_2025", "Decree 118/2025/NĐ-CP Art. 19(6)")
    assert body["facts"] == {"issued_on": "2026-03-05", "notice_number": 1}
    assert datetime.fromisoformat(body["detected_at"]) == breach.detected_at
    assert [
        (e["actor"], e["actor_role"], e["action"], e["from_state"], e["to_state"]) for e in body["audit"]
    ] == [("turnaround", "system", "open", None, "open")]


@pytest.mark.parametrize("caller", ["agency_y", "post_office_a", "post_office_b"])
async def test_a_nonconformity_out_of_scope_is_answered_like_an_unknown_one(
    register: tuple[dict[str, Breach], Client], caller: str
) -> None:
    breaches, client = register
    http = await client(caller)
    hidden = await http.get(f"/quality/nonconformities/{breaches['x'].nonconformity_id}")
    unknown = await http.get(f"/quality/nonconformities/{uuid.uuid4()}")
    step = await http.post(
        f"/quality/nonconformities/{breaches['x'].nonconformity_id}/steps",
        json={"action": "analyse", "version": 1, "cause": "Not ours to say"},
    )

    for answer in (hidden, unknown, step):
        assert answer.status_code == 404, answer.text
        assert answer.json()["reason"] == "not_found"
    assert hidden.json()["detail"] == unknown.json()["detail"]


async def test_a_nonconformity_is_taken_from_open_to_closed_and_each_step_is_audited(
    register: tuple[dict[str, Breach], Client],
) -> None:
    breaches, client = register
    url = f"/quality/nonconformities/{breaches['x'].nonconformity_id}"
    officer, operator = await client("agency_x"), await client("operator")
    steps: list[tuple[httpx.AsyncClient, dict[str, Any]]] = [
        (officer, {"action": "analyse", "cause": "  Officer on leave, no substitute  "}),
        (
            officer,
            {
                "action": "take_action",
                "correction": "Result issued on 6 March",
                "corrective_action": "A substitute is named for every desk",
            },
        ),
        (operator, {"action": "verify", "verification": "No late notice in April"}),
        (operator, {"action": "close"}),
    ]
    version = 1
    for http, body in steps:
        answer = await http.post(f"{url}/steps", json={**body, "version": version})
        assert answer.status_code == 200, answer.text
        version = answer.json()["version"]

    final = (await officer.get(url)).json()
    assert (final["state"], final["version"]) == ("closed", 5)
    assert final["cause"] == "Officer on leave, no substitute"
    assert final["corrective_action"] == "A substitute is named for every desk"
    assert final["verification"] == "No late notice in April"
    assert datetime.fromisoformat(final["closed_at"]) == NOW
    audit = [
        (e["seq"], e["actor"], e["actor_role"], e["action"], e["from_state"], e["to_state"], e["changes"])
        for e in final["audit"]
    ]
    assert audit == [
        (1, "turnaround", "system", "open", None, "open", {}),
        (
            2,
            "officer-x-0001",
            "agency",
            "analyse",
            "open",
            "analysed",
            {"cause": "Officer on leave, no substitute"},
        ),
        (
            3,
            "officer-x-0001",
            "agency",
            "take_action",
            "analysed",
            "action_taken",
            {
                "correction": "Result issued on 6 March",
                "corrective_action": "A substitute is named for every desk",
            },
        ),
        (
            4,
            "ops-0001",
            "operator",
            "verify",
            "action_taken",
            "verified",
            {"verification": "No late notice in April"},
        ),
        (5, "ops-0001", "operator", "close", "verified", "closed", {}),
    ]
    assert all(datetime.fromisoformat(e["at"]) == NOW for e in final["audit"][1:])


async def test_a_step_out_of_order_without_its_text_or_on_a_stale_version_is_refused_409_and_not_audited(
    register: tuple[dict[str, Breach], Client],
) -> None:
    breaches, client = register
    url = f"/quality/nonconformities/{breaches['a'].nonconformity_id}"
    clerk, operator = await client("post_office_a"), await client("operator")

    async def refused(http: httpx.AsyncClient, body: dict[str, Any]) -> str:
        answer = await http.post(f"{url}/steps", json=body)
        assert answer.status_code == 409, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        return str(answer.json()["reason"])

    assert await refused(clerk, {"action": "close", "version": 1}) == "transition_not_allowed"
    assert await refused(clerk, {"action": "analyse", "version": 1}) == "missing_text"
    assert await refused(clerk, {"action": "analyse", "version": 1, "cause": " "}) == "missing_text"
    both = {"action": "analyse", "version": 1, "cause": "Van broke down", "verification": "n/a"}
    assert await refused(clerk, both) == "text_not_for_this_step"
    # Two staff read version 1; the first to write wins, the other must read again.
    first = await clerk.post(
        f"{url}/steps", json={"action": "analyse", "version": 1, "cause": "Van broke down"}
    )
    assert first.status_code == 200, first.text
    late = {"action": "analyse", "version": 1, "cause": "Sorting backlog"}
    assert await refused(operator, late) == "stale_version"

    after = (await operator.get(url)).json()
    assert (after["state"], after["version"], after["cause"]) == ("analysed", 2, "Van broke down")
    assert [e["action"] for e in after["audit"]] == ["open", "analyse"]


@pytest.mark.parametrize(
    "body",
    [
        {"action": "analyse", "version": 1, "cause": "x" * (MAX_TEXT + 1)},
        {"action": "reopen", "version": 1},
        {"action": "analyse", "cause": "No version"},
        {"action": "analyse", "version": 0, "cause": "Version zero"},
        {"action": "analyse", "version": 1, "cause": "Extra field", "state": "closed"},
    ],
)
async def test_a_malformed_step_is_refused_422_without_echoing_its_texts(
    register: tuple[dict[str, Breach], Client], body: dict[str, Any]
) -> None:
    breaches, client = register
    answer = await (await client("agency_x")).post(
        f"/quality/nonconformities/{breaches['x'].nonconformity_id}/steps", json=body
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["reason"] == "invalid_request"
    assert "x" * 50 not in answer.text


async def test_an_id_that_is_not_a_uuid_is_refused_422(register: tuple[dict[str, Breach], Client]) -> None:
    _, client = register
    answer = await (await client("operator")).get("/quality/nonconformities/1%20OR%201=1")
    assert answer.status_code == 422, answer.text
    assert answer.json()["reason"] == "invalid_request"

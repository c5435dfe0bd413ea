"""Every endpoint of every service × every caller, against the running stack: who is let in and who is
refused, and how. The endpoints come from the committed OpenAPI documents (contracts/openapi/*.json; the
turnaround service has none committed, so its app's own document), so an endpoint added later fails here until
the matrix says who may call it.

Allowed means past authentication and authorisation: a read answers 200; a write reaches the rules and
answers 2xx, or a business refusal (404 unknown item, 409 state conflict, 422 rule) — never 401 or 403.
Refused means 401 `unauthenticated` (with WWW-Authenticate) for a missing, expired, revoked, tampered,
forged, unregistered or unsigned credential, 401 `credential_mismatch` for one signed with the real key
whose claims differ from its registration, 401 `invalid_token` for one whose scope is a list or an
object (never a 500); 403 with the reason for a caller outside its role or scope;
and 404 where a service deliberately hides that a dossier exists (the tracker's staff lookup, like its
public one, answers an out-of-scope dossier as unknown; so do the turnaround's clocks and the
notifications' staff read of a dossier's messages). The notifications service's credential (role
notifier) is let in on the owners' contact reads only, for the purpose `notifications`, and refused with
403 everywhere else. The agency service answers another agency's
dossier with 403 `another_agency` (documented in its OpenAPI), which tells that the reference exists.

Not in the matrix: the notifications service's receipt endpoints (/receipts/sms, /receipts/zalo). They
are called by the SMS and Zalo providers, authenticated by each provider's signature, never by a bearer
credential, and exist only where the provider's secret is set; its committed document leaves them out
(services/notifications/openapi.py), and tests/notifications/test_receipts.py refuses unsigned and
wrongly signed receipts with 401.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts.values import make_agency_dossier_code
from services.shared.auth import Role, TokenSigner
from services.shared.auth.registry import CredentialRegistry
from services.shared.calendar import to_vietnam_time
from services.shared.db.engine import make_engine
from tests.fixtures.ids import unique_agency_dossier_code, unique_item_id
from tests.post_office import helpers as post_office_requests
from tests.reliability.support import eventually
from tests.security.conftest import (
    AGENCY_X,
    BY_POST,
    OFFICE_A,
    REFUSED,
    ROLES,
    Stack,
)
from tests.tracker.support import SECRET

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = ROOT / "contracts" / "openapi"


def operations() -> list[tuple[str, str, str]]:
    """(service, METHOD, path) of every operation the services document."""
    documents: dict[str, dict[str, Any]] = {
        path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted(DOCUMENTS.glob("*.json"))
    }
    if "turnaround" not in documents:
        from services.turnaround.app import create_app
        from services.turnaround.settings import TurnaroundSettings

        documents["turnaround"] = create_app(TurnaroundSettings()).openapi()
    return [
        (service, method.upper(), path)
        for service, document in documents.items()
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    ]


# --------------------------------------------------------------------------- expectations


@dataclass(frozen=True)
class Expect:
    statuses: frozenset[int]
    reason: str | None = None
    allowed: bool = False

    def __str__(self) -> str:
        return ("allow " if self.allowed else "deny ") + "/".join(map(str, sorted(self.statuses)))


OK = Expect(frozenset({200}), allowed=True)
PASSES = Expect(frozenset({200, 201, 404, 409, 422}), allowed=True)
UNAUTHENTICATED = Expect(frozenset({401}), "unauthenticated")
HIDDEN = Expect(frozenset({404}), "not_found")
DENIED = Expect(frozenset({401, 403, 404}))


def forbidden(reason: str) -> Expect:
    return Expect(frozenset({403}), reason)


# Why each refused credential is refused, on every authenticated endpoint.
REFUSAL = {
    **dict.fromkeys(REFUSED, UNAUTHENTICATED),
    "mismatched": Expect(frozenset({401}), "credential_mismatch"),
    "scope_list": Expect(frozenset({401}), "invalid_token"),
    "scope_object": Expect(frozenset({401}), "invalid_token"),
}


def by_role(**cells: Expect) -> dict[str, Expect]:
    """A row of the matrix; refused credentials are 401 on every authenticated endpoint."""
    assert set(cells) == set(ROLES), f"a row names every role: {sorted(cells)}"
    return {**cells, **REFUSAL}


POSTAL_ACT = by_role(
    anonymous=UNAUTHENTICATED,
    post_office_a=PASSES,
    post_office_b=forbidden("wrong_post_office"),
    agency_x=forbidden("role_not_allowed"),
    agency_y=forbidden("role_not_allowed"),
    operator=PASSES,
    notifier=forbidden("role_not_allowed"),
)
AGENCY_REPORT = by_role(
    anonymous=UNAUTHENTICATED,
    post_office_a=forbidden("not_an_agency"),
    post_office_b=forbidden("not_an_agency"),
    agency_x=PASSES,
    agency_y=forbidden("another_agency"),
    operator=forbidden("not_an_agency"),
    notifier=forbidden("not_an_agency"),
)
OPERATOR_ONLY = by_role(
    anonymous=UNAUTHENTICATED,
    post_office_a=forbidden("role_not_allowed"),
    post_office_b=forbidden("role_not_allowed"),
    agency_x=forbidden("role_not_allowed"),
    agency_y=forbidden("role_not_allowed"),
    operator=OK,
    notifier=forbidden("role_not_allowed"),
)
MATRIX: dict[tuple[str, str, str], dict[str, Expect]] = {
    **{
        ("post_office", "POST", path): POSTAL_ACT
        for path in (
            "/v1/dossiers",
            "/v1/handovers",
            "/v1/pickups",
            "/v1/scans/in-transit",
            "/v1/scans/out-for-delivery",
            "/v1/scans/delivery-failed",
            "/v1/scans/delivered",
            "/v1/scans/batches",
            "/v1/returns",
            "/v1/losses",
            "/v1/damages",
        )
    },
    # The applicant's contact: a clerk of an office holding the dossier's item, an operator, or the
    # notifications service for `notifications` (audited).
    ("post_office", "GET", "/v1/dossiers/{item_id}/contact"): by_role(
        anonymous=UNAUTHENTICATED,
        post_office_a=OK,
        post_office_b=forbidden("wrong_post_office"),
        agency_x=forbidden("role_not_allowed"),
        agency_y=forbidden("role_not_allowed"),
        operator=OK,
        notifier=OK,
    ),
    ("post_office", "GET", "/v1/audit/personal-data-reads"): by_role(
        anonymous=UNAUTHENTICATED,
        post_office_a=forbidden("role_not_allowed"),
        post_office_b=forbidden("role_not_allowed"),
        agency_x=forbidden("role_not_allowed"),
        agency_y=forbidden("role_not_allowed"),
        operator=OK,
        notifier=forbidden("role_not_allowed"),
    ),
    # A person's access and erasure requests: operators only, on each service that holds personal data.
    **{
        (service, "POST", path): OPERATOR_ONLY
        for service, prefix in (("post_office", "/v1"), ("agency", ""))
        for path in (f"{prefix}/personal-data/access-requests", f"{prefix}/personal-data/erasure-requests")
    },
    # Their audit: operators only.
    **{
        (service, "GET", f"{prefix}/audit/personal-data-requests"): OPERATOR_ONLY
        for service, prefix in (("post_office", "/v1"), ("agency", ""))
    },
    # Agency Y registering a code of agency X: the rules refuse it (the code names another agency).
    ("agency", "POST", "/dossiers"): {
        **AGENCY_REPORT,
        "agency_y": Expect(frozenset({422}), "code_of_another_agency"),
    },
    ("agency", "GET", "/dossiers/{ref}"): by_role(
        anonymous=UNAUTHENTICATED,
        post_office_a=forbidden("not_an_agency"),
        post_office_b=forbidden("not_an_agency"),
        agency_x=OK,
        agency_y=forbidden("another_agency"),
        operator=OK,
        notifier=forbidden("not_an_agency"),
    ),
    # A registration's contact: an officer of its agency, an operator, or the notifications service for
    # `notifications` (audited).
    ("agency", "GET", "/dossiers/{ref}/contact"): by_role(
        anonymous=UNAUTHENTICATED,
        post_office_a=forbidden("not_an_agency"),
        post_office_b=forbidden("not_an_agency"),
        agency_x=OK,
        agency_y=forbidden("another_agency"),
        operator=OK,
        notifier=OK,
    ),
    ("agency", "GET", "/audit/personal-data-reads"): by_role(
        anonymous=UNAUTHENTICATED,
        post_office_a=forbidden("role_not_allowed"),
        post_office_b=forbidden("role_not_allowed"),
        agency_x=forbidden("role_not_allowed"),
        agency_y=forbidden("role_not_allowed"),
        operator=OK,
        notifier=forbidden("role_not_allowed"),
    ),
    **{
        ("agency", "POST", f"/dossiers/{{ref}}/{report}"): AGENCY_REPORT
        for report in (
            "received",
            "refused",
            "supplement-requested",
            "supplement-received",
            "processing",
            "delay-notified",
            "withdrawn",
            "closed",
            "result-ready",
        )
    },
    # The public lookup ignores credentials: the reference and the phone's last digits are the key.
    ("tracker", "GET", "/public/dossiers/{reference}"): dict.fromkeys((*ROLES, *REFUSED), OK),
    ("tracker", "GET", "/dossiers/{dossier_id}"): by_role(
        anonymous=UNAUTHENTICATED,
        post_office_a=OK,
        post_office_b=HIDDEN,
        agency_x=OK,
        agency_y=HIDDEN,
        operator=OK,
        notifier=forbidden("forbidden"),
    ),
    ("tracker", "GET", "/dossiers"): by_role(
        anonymous=UNAUTHENTICATED,
        post_office_a=OK,
        post_office_b=OK,
        agency_x=OK,
        agency_y=forbidden("forbidden"),  # filtering by another agency
        operator=OK,
        notifier=forbidden("forbidden"),
    ),
    ("tracker", "GET", "/anomalies"): by_role(
        anonymous=UNAUTHENTICATED,
        post_office_a=forbidden("forbidden"),
        post_office_b=forbidden("forbidden"),
        agency_x=forbidden("forbidden"),
        agency_y=forbidden("forbidden"),
        operator=OK,
        notifier=forbidden("forbidden"),
    ),
    # Staff only, in scope, like the tracker's staff lookup.
    ("turnaround", "GET", "/dossiers/{dossier_id}/clocks"): {
        **by_role(
            anonymous=DENIED,
            post_office_a=OK,
            post_office_b=DENIED,
            agency_x=OK,
            agency_y=DENIED,
            operator=OK,
            notifier=forbidden("forbidden"),
        ),
        **dict.fromkeys(REFUSED, DENIED),
    },
    # What a dossier's applicant was told and how it went: staff in scope by the one rule
    # (services/shared/auth/scopes.py): the accepting office, the dossier's agency, operators.
    ("notifications", "GET", "/v1/dossiers/{dossier_id}/messages"): by_role(
        anonymous=UNAUTHENTICATED,
        post_office_a=OK,
        post_office_b=HIDDEN,
        agency_x=OK,
        agency_y=HIDDEN,
        operator=OK,
        notifier=forbidden("forbidden"),
    ),
    # Quality objectives: every staff caller lists those of the scopes it may read (scopes.may_read);
    # another unit's objective answers like an unknown one. The matrix reads the shipped objective of
    # post office A (100000).
    ("turnaround", "GET", "/quality/objectives"): by_role(
        anonymous=UNAUTHENTICATED,
        post_office_a=OK,
        post_office_b=OK,
        agency_x=OK,
        agency_y=OK,
        operator=OK,
        notifier=forbidden("forbidden"),
    ),
    ("turnaround", "GET", "/quality/objectives/{objective_id}/measurements"): by_role(
        anonymous=UNAUTHENTICATED,
        post_office_a=OK,
        post_office_b=HIDDEN,
        agency_x=HIDDEN,
        agency_y=HIDDEN,
        operator=OK,
        notifier=forbidden("forbidden"),
    ),
    # Asked for agency X's report: its own agency and operators; 403 (not hidden) for any other unit.
    ("turnaround", "GET", "/quality/reports/{period}"): by_role(
        anonymous=UNAUTHENTICATED,
        post_office_a=forbidden("forbidden"),
        post_office_b=forbidden("forbidden"),
        agency_x=OK,
        agency_y=forbidden("forbidden"),
        operator=OK,
        notifier=forbidden("forbidden"),
    ),
    # The nonconformity register: every unit lists its own (operators all); one nonconformity, in scope
    # or not, is asked for by an id no breach has, so each caller meets the 404 an out-of-scope one gets
    # (tests/quality/test_nonconformity_register_api.py shows who sees and steps which).
    ("turnaround", "GET", "/quality/nonconformities"): by_role(
        anonymous=UNAUTHENTICATED,
        post_office_a=OK,
        post_office_b=OK,
        agency_x=OK,
        agency_y=OK,
        operator=OK,
        notifier=forbidden("forbidden"),
    ),
    **{
        ("turnaround", method, path): by_role(
            anonymous=UNAUTHENTICATED,
            post_office_a=HIDDEN,
            post_office_b=HIDDEN,
            agency_x=HIDDEN,
            agency_y=HIDDEN,
            operator=HIDDEN,
            notifier=forbidden("forbidden"),
        )
        for method, path in (
            ("GET", "/quality/nonconformities/{nonconformity_id}"),
            ("POST", "/quality/nonconformities/{nonconformity_id}/steps"),
        )
    },
}

# --------------------------------------------------------------------------- requests


def _item(prefix: str = "EB") -> str:
    return unique_item_id(prefix)


def _at(hours_ago: float = 1) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours_ago)).isoformat()


def _today() -> date:
    """The services' today: the date in Vietnam of the wall clock they run on, not the host's date
    (seven hours apart every evening UTC)."""
    return to_vietnam_time(datetime.now(UTC)).date()


def _scan(kind: str, **fields: Any) -> dict[str, Any]:
    return {"scan_id": str(uuid.uuid4()), "item_id": _item("RR"), "scanned_at": _at(), "kind": kind, **fields}


def _postal(path: str) -> dict[str, Any]:
    """A schema-valid act for post office A, about an item the post never saw (except an acceptance)."""
    office = {"post_office_code": OFFICE_A}
    record = {
        "postal_worker_id": "postman-0007",
        "agency_officer_id": "officer-0003",
        "agency_code": AGENCY_X,
    }
    bodies: dict[str, dict[str, Any]] = {
        "/v1/dossiers": post_office_requests.acceptance(
            _item(),
            procedure_code=BY_POST,
            agency_code=AGENCY_X,
            service_form="SEND_DOSSIER",
            applicant={
                "name": "Người Thử Nghiệm",
                "phone": "0900000000",
                "id_number": "000000000000",
                "address": {"line": "1 Đường Thử", "commune": "Phường Thử", "province_code": "01"},
            },
            accepted_at=_at(),
            **office,
        ),
        "/v1/handovers": {
            "handover_record_id": f"BBGN-{uuid.uuid4().hex[:10]}",
            "signed_at": _at(),
            "item_ids": [_item()],
            **record,
            **office,
        },
        "/v1/pickups": {
            "result_item_id": _item("RR"),
            "dossier_item_id": _item(),
            "agency_dossier_code": make_agency_dossier_code(AGENCY_X, date(2026, 3, 2), 17),
            "pickup_record_id": f"PN-{uuid.uuid4().hex[:10]}",
            "route_class": "INTRA_PROVINCIAL",
            "picked_up_at": _at(),
            **record,
            **office,
        },
        "/v1/scans/in-transit": {**_scan("IN_TRANSIT", direction="DEPARTED"), **office},
        "/v1/scans/out-for-delivery": {**_scan("OUT_FOR_DELIVERY", courier_id="courier-0011"), **office},
        "/v1/scans/delivery-failed": {
            **_scan("DELIVERY_FAILED", courier_id="courier-0011", reason="NOT_AT_HOME", invitation_left=True),
            **office,
        },
        "/v1/scans/delivered": {
            **_scan(
                "DELIVERED",
                courier_id="courier-0011",
                recipient_kind="APPLICANT",
                id_document_type="CCCD",
                identity_verified=True,
            ),
            **office,
        },
        "/v1/scans/batches": {"scans": [_scan("IN_TRANSIT", direction="ARRIVED")], **office},
        "/v1/returns": {
            "result_item_id": _item("RR"),
            "return_record_id": f"BBTL-{uuid.uuid4().hex[:10]}",
            "returned_at": _at(),
            **record,
            **office,
        },
        "/v1/losses": {
            "item_id": _item(),
            "reported_by": "supervisor-0001",
            "at_fault": False,
            "reported_at": _at(),
            **office,
        },
        "/v1/damages": {
            "item_id": _item(),
            "reported_by": "supervisor-0001",
            "at_fault": False,
            "reported_at": _at(),
            **office,
        },
    }
    return bodies[path]


def _report(report: str) -> dict[str, Any]:
    today = _today()
    bodies: dict[str, dict[str, Any]] = {
        "received": {
            "agency_dossier_code": unique_agency_dossier_code(AGENCY_X),
            "appointment_date": (today + timedelta(days=10)).isoformat(),
        },
        "refused": {"reason": "Không thuộc thẩm quyền"},
        "supplement-requested": {"missing_documents": ["Giấy chứng sinh"], "reason": "Thiếu giấy tờ"},
        "supplement-received": {"received_at": _at(0.5)},
        "processing": {"department": "Phòng Tư pháp"},
        "delay-notified": {
            "new_due_date": (today + timedelta(days=30)).isoformat(),
            "reason": "Cần xác minh",
        },
        "withdrawn": {"reason": "Công dân rút hồ sơ"},
        "closed": {"reason": "supplement_declined"},
        "result-ready": {"outcome": "APPROVED", "result_reference": "KS-1"},
    }
    return bodies[report]


Request = tuple[str, dict[str, str], dict[str, Any] | None]


def request_for(service: str, method: str, path: str, stack: Stack) -> Request:
    """The concrete URL, query and body the matrix sends for an operation."""
    journey = stack.journey
    if path.endswith(("/personal-data/access-requests", "/personal-data/erasure-requests")):
        # A phone nobody gave (uuid-based): the operator's request finds and erases nothing the other
        # cells read.
        return path, {}, {"phone": f"09{uuid.uuid4().int % 10**8:08d}"}
    if path.endswith("/audit/personal-data-requests"):
        return path, {}, None
    if service == "post_office":
        if path == "/v1/dossiers/{item_id}/contact":
            return path.replace("{item_id}", journey.item_id), {"purpose": "notifications"}, None
        if path == "/v1/audit/personal-data-reads":
            return path, {"dossier": journey.item_id}, None
        return path, {}, _postal(path)
    if service == "agency":
        if path == "/dossiers":
            code = unique_agency_dossier_code(AGENCY_X)
            applicant = _postal("/v1/dossiers")["applicant"]
            body = {
                "agency_dossier_code": code,
                "procedure_code": BY_POST,
                "filing_channel": "ONLINE",
                "filed_at": _at(),
                "applicant": applicant,
                "delivery_address": applicant["address"],
            }
            return path, {}, body
        if path == "/dossiers/{ref}/contact":
            # A purpose every caller that reads contacts may ask for, the notifications service too; another
            # purpose is refused to the service (test below).
            return path.replace("{ref}", journey.registered_code), {"purpose": "notifications"}, None
        if path == "/audit/personal-data-reads":
            return path, {"dossier": journey.registered_code}, None
        url = path.replace("{ref}", journey.filed_item_id)
        return url, {}, None if method == "GET" else _report(path.rsplit("/", 1)[-1])
    if service == "tracker":
        if path == "/public/dossiers/{reference}":
            from tests.security.conftest import APPLICANT

            last4 = "".join(c for c in APPLICANT.phone if c.isdigit())[-4:]
            return path.replace("{reference}", journey.item_id), {"phone_last4": last4}, None
        if path == "/dossiers":
            return path, {"agency": AGENCY_X}, None
        return path.replace("{dossier_id}", journey.dossier_id), {}, None
    if service == "turnaround":
        if path == "/quality/objectives/{objective_id}/measurements":
            objective = "inbound-postal-on-time-100000-monthly"
            return path.replace("{objective_id}", objective), {"period": "2026-03"}, None
        if path == "/quality/reports/{period}":
            return path.replace("{period}", "2026-01"), {"scope": "agency", "code": AGENCY_X}, None
        if "{nonconformity_id}" in path:
            url = path.replace("{nonconformity_id}", str(uuid.uuid4()))
            step = {"action": "analyse", "version": 1, "cause": "Matrix"}
            return url, {}, step if method == "POST" else None
        return path.replace("{dossier_id}", journey.dossier_id), {}, None
    if service == "notifications":
        return path.replace("{dossier_id}", journey.dossier_id), {}, None
    raise AssertionError(f"no request for {service} {method} {path}: add it to the matrix")


CELLS = [
    pytest.param(
        operation,
        role,
        id=f"{operation[0]} {operation[1]} {operation[2]} as {role}",
    )
    for operation in operations()
    for role in (*ROLES, *REFUSED)
]


@pytest.mark.parametrize(("operation", "role"), CELLS)
async def test_each_caller_is_let_in_or_refused_as_the_matrix_says(
    stack: Stack, operation: tuple[str, str, str], role: str
) -> None:
    assert operation in MATRIX, f"{operation} is not in the authorisation matrix: say who may call it"
    expected = MATRIX[operation][role]
    service, method, path = operation
    url, query, body = request_for(service, method, path, stack)
    async with stack.client(service, role) as http:
        response = await http.request(method, url, params=query, json=body)
    problem = response.json() if "json" in response.headers.get("content-type", "") else {}
    reason = problem.get("reason") if isinstance(problem, dict) else None
    assert response.status_code in expected.statuses, (
        f"{role}: expected {expected}, got {response.status_code} {response.text[:300]}"
    )
    if expected.reason is not None:
        assert reason == expected.reason, response.text[:300]
    if response.status_code == 401:
        assert response.headers.get("www-authenticate") == "Bearer"
    token = stack.tokens.get(role)
    assert not token or token not in response.text, "a refusal never echoes the token"
    if expected.allowed:
        assert reason not in {"unauthenticated", "forbidden", "role_not_allowed", "wrong_post_office"}


def test_the_matrix_names_no_endpoint_the_services_do_not_have() -> None:
    assert set(MATRIX) == set(operations())


def test_the_matrix_tries_every_endpoint_with_seven_callers_and_nine_refused_credentials() -> None:
    assert (len(ROLES), len(REFUSED), len(operations())) == (7, 9, 44)
    assert len(CELLS) == 44 * 16 == 704
    assert all(set(row) == {*ROLES, *REFUSED} for row in MATRIX.values())


async def test_staff_lists_show_only_the_dossiers_within_the_callers_scope(stack: Stack) -> None:
    journey = stack.journey
    ours = {journey.dossier_id, journey.registered_id, journey.filed_id}
    expected = {
        "post_office_a": {journey.dossier_id, journey.filed_id},
        "post_office_b": set(),
        "agency_x": ours,
        "agency_y": set(),
        "operator": ours,
    }
    for role, visible in expected.items():
        async with stack.client("tracker", role) as http:
            listed: set[str] = set()
            cursor: str | None = None
            while True:
                page = (
                    await http.get(
                        "/dossiers", params={"limit": 200, **({"cursor": cursor} if cursor else {})}
                    )
                ).json()
                listed |= {item["dossier_id"] for item in page["items"]}
                if not (cursor := page["next_cursor"]):
                    break
        assert listed & ours == visible, role


async def test_a_credential_revoked_while_in_use_is_refused_by_every_service_within_five_seconds(
    stack: Stack,
) -> None:
    engine = make_engine(stack.database_url)
    now = datetime.now(UTC)
    principal, token = TokenSigner(SECRET).issue(
        subject="ops-revoked-later", role=Role.OPERATOR, scope=None, now=now, valid_for=timedelta(hours=1)
    )
    registry = CredentialRegistry(engine)
    await registry.register(principal, issued_at=now, expires_at=now + timedelta(hours=1))
    calls = {
        "tracker": ("GET", "/anomalies", None),
        "agency": ("GET", f"/dossiers/{stack.journey.filed_item_id}", None),
        "post_office": ("POST", "/v1/losses", _postal("/v1/losses")),
        "notifications": ("GET", f"/v1/dossiers/{stack.journey.dossier_id}/messages", None),
    }
    headers = {"Authorization": f"Bearer {token}"}

    async def status(service: str) -> int:
        method, path, body = calls[service]
        async with httpx.AsyncClient(base_url=stack.urls[service], headers=headers) as http:
            return (await http.request(method, path, json=body)).status_code

    async def refused_at(service: str) -> float:
        async def first_refusal() -> float | None:
            return time.monotonic() if await status(service) == 401 else None

        return await eventually(first_refusal, within=8, what=f"{service} to refuse it", every=0.05)

    try:
        in_use = await asyncio.gather(*(status(service) for service in calls))
        assert 401 not in in_use, "in use, so cached by every service"
        await registry.revoke(principal.credential_id, now=datetime.now(UTC))
        revoked = time.monotonic()
        # Each service is polled on its own, so one slow answer does not delay noticing the others.
        refused = await asyncio.gather(*(refused_at(service) for service in calls))
        took = max(refused) - revoked
    finally:
        await engine.dispose()
    # Each service caches a credential's registration for 5 s (credential_cache_s): the promise. What is
    # measured adds the answer time of the request that notices the refusal and of the poll before it,
    # on five services sharing two cores: 2 s of slack for that, far below the 8 s the poll waits.
    assert took <= 7.0, f"revocation took {took:.1f} s to take effect"


async def test_the_notifications_service_reads_contacts_for_notifications_only_each_read_audited_as_it(
    stack: Stack,
) -> None:
    journey = stack.journey
    owners = {
        "post_office": (
            f"/v1/dossiers/{journey.item_id}/contact",
            "/v1/audit/personal-data-reads",
            journey.item_id,
        ),
        "agency": (
            f"/dossiers/{journey.registered_code}/contact",
            "/audit/personal-data-reads",
            journey.registered_code,
        ),
    }
    for service, (contact, audit, dossier) in owners.items():
        async with stack.client(service, "notifier") as service_http:
            read = await service_http.get(contact, params={"purpose": "notifications"})
            other = await service_http.get(contact, params={"purpose": "result_delivery"})
        async with stack.client(service, "operator") as ops:
            reads = (await ops.get(audit, params={"dossier": dossier})).json()["reads"]
        assert read.status_code == 200, (service, read.text)
        assert (other.status_code, other.json()["reason"]) == (403, "role_not_allowed"), service
        by_service = [(r["purpose"], r["role"]) for r in reads if r["reader"] == "notifier-1"]
        assert by_service and set(by_service) == {("notifications", "notifier")}, (service, reads)

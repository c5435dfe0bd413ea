"""The whole stack as processes — post office, agency, tracker, turnaround, notifications — on the session's
broker and a database of its own, at LOG_LEVEL=DEBUG with every log captured, once for the security tests.

Credentials of seven callers (anonymous, post office A, post office B, agency X, agency Y, operator, and
the notifications service's, role notifier) and of nine that must be refused (expired, revoked, tampered,
forged, unregistered, alg none; and three signed with the real key, as a leaked key would allow: post
office B's credential id widened to an operator's claims, and post office A's with a scope that is a list
or an object). A journey is driven through the APIs with distinctive applicant data; test_privacy.py
scans for it at the end.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from contracts.topics import AGENCY_EVENTS, AGENCY_INTAKE, POSTAL_EVENTS, all_topics
from contracts.values import (
    dossier_id_for_agency_code,
    dossier_id_for_item,
    make_agency_dossier_code,
    make_s10,
)
from services.notifications import consumers as notifications_consumers
from services.shared.auth import Role, TokenSigner
from services.shared.auth.registry import CredentialRegistry
from services.shared.db import migrate
from services.shared.db.engine import make_engine
from tests.fixtures.kafka import KafkaBroker, KafkaLogin
from tests.fixtures.kafka_groups import start_group_at_end
from tests.fixtures.postgres import create_database
from tests.post_office import helpers as post_office_requests
from tests.reliability.support import (
    Offsets,
    Service,
    base_environment,
    end_offsets,
    eventually,
    free_port,
)
from tests.tracker.support import SECRET

OFFICE_A, OFFICE_B = "100000", "700000"
AGENCY_X, AGENCY_Y = "000.00.01.H22", "000.00.02.H22"
BY_POST = "1.001193"  # birth registration: by post, same day

ROLES = ("anonymous", "post_office_a", "post_office_b", "agency_x", "agency_y", "operator", "notifier")
# Refused with 401 `unauthenticated`, except the last three: `credential_mismatch` and `invalid_token`.
REFUSED = (
    "expired",
    "revoked",
    "tampered",
    "forged",
    "unregistered",
    "alg_none",
    "mismatched",
    "scope_list",
    "scope_object",
)


@dataclass(frozen=True)
class Applicant:
    """Personal data that must appear nowhere but in the postal and agency events' values."""

    name: str
    phone: str
    id_number: str
    address_line: str
    commune: str = "Phường Hoàn Kiếm"
    province_code: str = "01"

    def body(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "phone": self.phone,
            "id_number": self.id_number,
            "address": self.address(),
        }

    def address(self) -> dict[str, Any]:
        return {"line": self.address_line, "commune": self.commune, "province_code": self.province_code}


APPLICANT = Applicant("Hoàng Thị Quỳnh Như", "0398 271 645", "038195004271", "88 Hẻm Xóm Chiếu Mới")
RECIPIENT = Applicant("Lương Văn Khuê", "+84 362 718 094", "025087009316", "7 Ngách Bảo Khánh Lẻ")


@dataclass
class Journey:
    """The dossiers driven through the APIs and what identifies them."""

    item_id: str  # D1, form SEND_AND_RECEIVE: accepted by post office A for agency X, delivered
    result_item_id: str
    agency_dossier_code: str
    dossier_id: str
    registered_code: str  # D2, form RECEIVE_RESULT: registered by agency X for return by post
    registered_id: str
    filed_item_id: str  # D3: accepted by A and handed to X, left FILED (the matrix reports on it)
    filed_id: str


@dataclass
class Stack:
    urls: dict[str, str]
    services: dict[str, Service]
    tokens: dict[str, str | None]
    database_url: str
    kafka_admin: KafkaLogin
    topics_start: Offsets
    journey: Journey
    logs: dict[str, Path] = field(default_factory=dict)

    def client(self, service: str, role: str | None = None) -> httpx.AsyncClient:
        token = self.tokens.get(role) if role else None
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.urls[service], headers=headers, timeout=30)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


async def _credentials(database_url: str) -> dict[str, str | None]:
    engine = make_engine(database_url)
    registry = CredentialRegistry(engine, cache_seconds=0)
    signer = TokenSigner(SECRET)
    now = datetime.now(UTC)
    tokens: dict[str, str | None] = {"anonymous": None}

    async def issue(
        name: str, role: Role, scope: str | None, *, at: datetime = now, register: bool = True
    ) -> str:
        principal, token = signer.issue(
            subject=f"{name.replace('_', '-')}-1",
            role=role,
            scope=scope,
            now=at,
            valid_for=timedelta(hours=1),
        )
        if register:
            await registry.register(principal, issued_at=at, expires_at=at + timedelta(hours=1))
        tokens[name] = token
        return principal.credential_id

    try:
        await issue("post_office_a", Role.POST_OFFICE, OFFICE_A)
        await issue("post_office_b", Role.POST_OFFICE, OFFICE_B)
        await issue("agency_x", Role.AGENCY, AGENCY_X)
        await issue("agency_y", Role.AGENCY, AGENCY_Y)
        await issue("operator", Role.OPERATOR, None)
        await issue("notifier", Role.NOTIFIER, None)
        await issue("expired", Role.OPERATOR, None, at=now - timedelta(hours=3))
        revoked = await issue("revoked", Role.OPERATOR, None)
        await registry.revoke(revoked, now=now)
        await issue("unregistered", Role.OPERATOR, None, register=False)
    finally:
        await engine.dispose()
    # Post office B's own token, its claims changed to an operator's: the signature no longer matches.
    header, payload, signature = str(tokens["post_office_b"]).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    tokens["tampered"] = ".".join([header, _b64({**claims, "role": "operator", "scope": None}), signature])
    operator_claims = jwt.decode(str(tokens["operator"]), options={"verify_signature": False})
    tokens["forged"] = jwt.encode(operator_claims, "another-signing-secret-of-32-bytes-or-more", "HS256")
    tokens["alg_none"] = ".".join([_b64({"alg": "none", "typ": "JWT"}), _b64(operator_claims), ""])
    # Signed with the real key: a registered id whose claims differ from its registration, and scopes
    # of a type no credential has.
    office_b_claims = jwt.decode(str(tokens["post_office_b"]), options={"verify_signature": False})
    tokens["mismatched"] = jwt.encode({**office_b_claims, "role": "operator", "scope": None}, SECRET, "HS256")
    office_a_claims = jwt.decode(str(tokens["post_office_a"]), options={"verify_signature": False})
    tokens["scope_list"] = jwt.encode({**office_a_claims, "scope": [OFFICE_A, OFFICE_B]}, SECRET, "HS256")
    tokens["scope_object"] = jwt.encode(
        {**office_a_claims, "scope": {"post_office": OFFICE_A}}, SECRET, "HS256"
    )
    return tokens


def _service(name: str, args: list[str], env: dict[str, str], logs: Path, port: int) -> Service:
    return Service(name, ["-m", *args], env, logs / f"{name}.log", ready_url=f"http://127.0.0.1:{port}/ready")


async def _drive(stack: Stack) -> Journey:
    """A SEND_AND_RECEIVE dossier from acceptance to delivery, a RECEIVE_RESULT registration, and a
    dossier left with the agency — through the APIs, as clerks, couriers and officers would."""
    run = uuid.uuid4().int
    item_id, result_item_id, filed_item_id = (
        make_s10(p, (run >> s) % 10**8) for p, s in (("EB", 0), ("RR", 30), ("EE", 60))
    )
    code = make_agency_dossier_code(AGENCY_X, date(2026, 3, 2), (run >> 90) % 9000 + 1)
    registered_code = make_agency_dossier_code(AGENCY_X, date(2026, 3, 3), (run >> 100) % 9000 + 1)
    now = datetime.now(UTC)
    at = now - timedelta(days=3)

    def stamp(hours: float) -> str:
        return (at + timedelta(hours=hours)).isoformat()

    async def ok(http: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await http.post(path, json=body)
        assert response.is_success, (path, response.status_code, response.text)
        answer: dict[str, Any] = response.json()
        return answer

    def acceptance(item: str) -> dict[str, Any]:
        return post_office_requests.acceptance(
            item,
            procedure_code=BY_POST,
            agency_code=AGENCY_X,
            channel="AT_ADDRESS",
            applicant=APPLICANT.body(),
            post_office_code=OFFICE_A,
            accepted_at=stamp(0),
        )

    def scan(kind: str, item: str, hours: float, **fields: Any) -> dict[str, Any]:
        return {
            "kind": kind,
            "scan_id": str(uuid.uuid4()),
            "item_id": item,
            "scanned_at": stamp(hours),
            "post_office_code": OFFICE_A,
            **fields,
        }

    async with (
        stack.client("post_office", "post_office_a") as clerk,
        stack.client("agency", "agency_x") as officer,
    ):
        for item in (item_id, filed_item_id):
            await ok(clerk, "/v1/dossiers", acceptance(item))
            await ok(
                clerk,
                "/v1/handovers",
                {
                    "handover_record_id": f"BBGN-{uuid.uuid4().hex[:10]}",
                    "agency_code": AGENCY_X,
                    "post_office_code": OFFICE_A,
                    "postal_worker_id": "postman-0007",
                    "agency_officer_id": "officer-0003",
                    "signed_at": stamp(20),
                    "item_ids": [item],
                },
            )

        async def filed(item: str = item_id) -> bool:
            response = await officer.get(f"/dossiers/{item}")
            return response.status_code == 200 and response.json()["status"] == "FILED"

        await eventually(filed, within=60, what="the agency to learn of the handover")
        await eventually(lambda: filed(filed_item_id), within=30, what="the agency to learn of D3")
        await ok(
            officer,
            f"/dossiers/{item_id}/received",
            {"agency_dossier_code": code, "appointment_date": (now + timedelta(days=10)).date().isoformat()},
        )
        await ok(
            officer, f"/dossiers/{item_id}/result-ready", {"outcome": "APPROVED", "result_reference": "KS-77"}
        )
        await ok(
            clerk,
            "/v1/pickups",
            {
                "result_item_id": result_item_id,
                "dossier_item_id": item_id,
                "agency_dossier_code": code,
                "pickup_record_id": f"PN-{uuid.uuid4().hex[:10]}",
                "agency_code": AGENCY_X,
                "post_office_code": OFFICE_A,
                "postal_worker_id": "postman-0007",
                "agency_officer_id": "officer-0003",
                "route_class": "INTRA_PROVINCIAL",
                "picked_up_at": stamp(40),
            },
        )
        await ok(
            clerk,
            "/v1/scans/out-for-delivery",
            scan("OUT_FOR_DELIVERY", result_item_id, 44, courier_id="courier-0011"),
        )
        await ok(
            clerk,
            "/v1/scans/delivery-failed",
            scan(
                "DELIVERY_FAILED",
                result_item_id,
                46,
                courier_id="courier-0011",
                reason="OTHER",
                note=f"Gọi {APPLICANT.phone} trước; nhà {APPLICANT.address_line}, người nhà {RECIPIENT.name}",
                invitation_left=True,
            ),
        )
        await ok(
            clerk,
            "/v1/scans/out-for-delivery",
            scan("OUT_FOR_DELIVERY", result_item_id, 50, courier_id="courier-0011"),
        )
        await ok(
            clerk,
            "/v1/scans/delivered",
            scan(
                "DELIVERED",
                result_item_id,
                51,
                courier_id="courier-0011",
                recipient_kind="APPLICANT",
                id_document_type="CCCD",
                identity_verified=True,
            ),
        )
        await ok(
            officer,
            "/dossiers",
            {
                "agency_dossier_code": registered_code,
                "procedure_code": BY_POST,
                "filing_channel": "IN_PERSON",
                "filed_at": stamp(2),
                "applicant": RECIPIENT.body(),
                "delivery_address": RECIPIENT.address(),
            },
        )
    journey = Journey(
        item_id=item_id,
        result_item_id=result_item_id,
        agency_dossier_code=code,
        dossier_id=dossier_id_for_item(item_id),
        registered_code=registered_code,
        registered_id=dossier_id_for_agency_code(registered_code),
        filed_item_id=filed_item_id,
        filed_id=dossier_id_for_item(filed_item_id),
    )
    async with stack.client("tracker", "operator") as ops:

        async def tracked() -> bool:
            stages = [
                (await ops.get(f"/dossiers/{d}")).json().get("stage")
                for d in (journey.dossier_id, journey.registered_id, journey.filed_id)
            ]
            return stages[0] == "DELIVERED" and None not in stages

        await eventually(tracked, within=60, what="the tracker to follow the journey")
    async with stack.client("turnaround", "operator") as clocks:

        async def timed() -> bool:
            return (await clocks.get(f"/dossiers/{journey.dossier_id}/clocks")).status_code != 404

        await eventually(timed, within=60, what="the turnaround to start the clocks")
    async with stack.client("notifications", "operator") as messages:

        async def heard() -> bool:
            dossiers = (journey.dossier_id, journey.registered_id, journey.filed_id)
            answers = [(await messages.get(f"/v1/dossiers/{d}/messages")).status_code for d in dossiers]
            return answers == [200, 200, 200]

        await eventually(heard, within=60, what="the notifications service to learn of the journey")
    return journey


@pytest.fixture(scope="package")
async def stack(
    postgres_url: str, kafka_broker: KafkaBroker, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    database_url = await create_database(postgres_url, "security")
    await migrate.upgrade_async(database_url)
    tokens = await _credentials(database_url)
    logs = tmp_path_factory.mktemp("stack-logs")
    run = uuid.uuid4().hex[:8]
    groups = {
        "AGENCY_POSTAL_GROUP_ID": f"agency.postal.sec-{run}",
        "AGENCY_INTAKE_GROUP_ID": f"agency.intake.sec-{run}",
        "TRACKER_CONSUMER_GROUP": f"tracker-sec-{run}",
        "TURNAROUND_CONSUMER_GROUP": f"turnaround-sec-{run}",
        "NOTIFICATIONS_CONSUMER_GROUP": f"notifications-sec-{run}",
    }
    # Every group reads only what comes next, not the events of every earlier test.
    for key, topics in {
        "AGENCY_POSTAL_GROUP_ID": [POSTAL_EVENTS],
        "AGENCY_INTAKE_GROUP_ID": [AGENCY_INTAKE],
        "TRACKER_CONSUMER_GROUP": [POSTAL_EVENTS, AGENCY_EVENTS],
        "TURNAROUND_CONSUMER_GROUP": [POSTAL_EVENTS, AGENCY_EVENTS],
        "NOTIFICATIONS_CONSUMER_GROUP": list(notifications_consumers.TOPICS),
    }.items():
        await start_group_at_end(kafka_broker.admin, groups[key], topics)
    topics_start = await end_offsets(kafka_broker.admin, all_topics())
    ports = {
        name: free_port() for name in ("post_office", "agency", "tracker", "turnaround", "notifications")
    }

    def env(service: str) -> dict[str, str]:
        """Each service logs in as its own principal: the journey runs with least privilege."""
        return base_environment(database_url, kafka_broker.for_service(service), LOG_LEVEL="DEBUG", **groups)

    services = {
        "post_office": _service(
            "post_office",
            ["services.post_office"],
            {**env("post_office"), "POST_OFFICE_PORT": str(ports["post_office"])},
            logs,
            ports["post_office"],
        ),
        "agency": _service(
            "agency",
            ["services.agency"],
            {**env("agency"), "AGENCY_HTTP_PORT": str(ports["agency"])},
            logs,
            ports["agency"],
        ),
        "tracker": _service(
            "tracker",
            ["services.tracker", "serve"],
            {
                **env("tracker"),
                "TRACKER_PORT": str(ports["tracker"]),
                "TRACKER_PUBLIC_LOOKUP_FAILURES": "100000",
                "TRACKER_OUTBOX_IDLE_S": "0.2",
            },
            logs,
            ports["tracker"],
        ),
        "turnaround": _service(
            "turnaround",
            ["services.turnaround"],
            {
                **env("turnaround"),
                "TURNAROUND_HTTP_HOST": "127.0.0.1",
                "TURNAROUND_HTTP_PORT": str(ports["turnaround"]),
            },
            logs,
            ports["turnaround"],
        ),
        # No applicant of the journey consented to be told, so nothing is sent: the service records the
        # messages nobody may be sent, which its staff read answers (no SMTP server, no provider).
        "notifications": _service(
            "notifications",
            ["services.notifications"],
            {
                **env("notifications"),
                "NOTIFICATIONS_HTTP_HOST": "127.0.0.1",
                "NOTIFICATIONS_HTTP_PORT": str(ports["notifications"]),
                "NOTIFICATIONS_POST_OFFICE_URL": f"http://127.0.0.1:{ports['post_office']}",
                "NOTIFICATIONS_AGENCY_URL": f"http://127.0.0.1:{ports['agency']}",
            },
            logs,
            ports["notifications"],
        ),
    }
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    try:
        for service in services.values():
            await service.start()
        await asyncio.gather(*(service.wait_ready(90) for service in services.values()))
        stack = Stack(
            urls=urls,
            services=services,
            tokens=tokens,
            database_url=database_url,
            kafka_admin=kafka_broker.admin,
            topics_start=topics_start,
            journey=None,  # type: ignore[arg-type]
            logs={name: s.log for name, s in services.items()},
        )
        stack.journey = await _drive(stack)
        yield stack
    finally:
        await asyncio.gather(*(s.stop() for s in services.values()), return_exceptions=True)

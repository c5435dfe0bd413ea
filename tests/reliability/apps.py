"""The post office and agency APIs in this process (httpx through ASGI), on the session's broker (each
logged in as its own principal: `post_office_kafka`, `agency_kafka`) and a database of the test's own,
with credentials, and builders of the requests they take."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from contracts.topics import AGENCY_INTAKE, POSTAL_EVENTS
from services.agency.app import create_app as create_agency_app
from services.agency.settings import AgencySettings
from services.post_office.app import create_app as create_post_office_app
from services.post_office.settings import PostOfficeSettings
from services.shared.auth import Role, TokenSigner
from services.shared.auth.registry import CredentialRegistry
from services.shared.db.engine import make_engine
from tests.fixtures.ids import unique_agency_dossier_code, unique_item_id
from tests.fixtures.kafka import KafkaLogin
from tests.fixtures.kafka_groups import start_group_at_end
from tests.post_office import helpers as post_office_requests
from tests.tracker.support import SECRET

OFFICE = "700000"
AGENCY = "000.00.00.H29"
BY_POST = "1.001193"  # birth registration: by post, two original documents


async def issue(database_url: str, role: Role, scope: str | None, subject: str) -> str:
    """A registered bearer token, valid for two hours."""
    engine = make_engine(database_url)
    now = datetime.now(UTC)
    try:
        principal, token = TokenSigner(SECRET).issue(
            subject=subject, role=role, scope=scope, now=now, valid_for=timedelta(hours=2)
        )
        await CredentialRegistry(engine).register(
            principal, issued_at=now, expires_at=now + timedelta(hours=2)
        )
    finally:
        await engine.dispose()
    return token


@contextlib.asynccontextmanager
async def post_office(
    database_url: str, kafka: KafkaLogin, **settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_post_office_app(
        PostOfficeSettings.model_validate(
            {
                **kafka.env(),
                "DATABASE_URL": database_url,
                "DOSSIER_AUTH_SECRET": SECRET,
                "credential_cache_s": 5,
                **settings,
            }
        )
    )
    token = await issue(database_url, Role.POST_OFFICE, OFFICE, "clerk-0001")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://post-office", headers={"Authorization": f"Bearer {token}"}
        ) as client:
            yield client


@contextlib.asynccontextmanager
async def agency(database_url: str, kafka: KafkaLogin, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    run = uuid.uuid4().hex[:8]
    groups = {"postal_group_id": f"agency.postal.{run}", "intake_group_id": f"agency.intake.{run}"}
    # Its consumer groups read only what comes next, not every earlier test's events.
    await start_group_at_end(kafka, groups["postal_group_id"], [POSTAL_EVENTS])
    await start_group_at_end(kafka, groups["intake_group_id"], [AGENCY_INTAKE])
    app = create_agency_app(
        AgencySettings.model_validate(
            {
                **kafka.env(),
                "DATABASE_URL": database_url,
                "DOSSIER_AUTH_SECRET": SECRET,
                "kafka_client_id": f"agency-{run}",
                **groups,
                **settings,
            }
        )
    )
    token = await issue(database_url, Role.AGENCY, AGENCY, "officer-0001")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://agency", headers={"Authorization": f"Bearer {token}"}
        ) as client:
            client.app_settings = groups  # type: ignore[attr-defined]
            yield client


def new_item_id(prefix: str = "EB") -> str:
    return unique_item_id(prefix)


def new_agency_dossier_code() -> str:
    return unique_agency_dossier_code(AGENCY)


APPLICANT = {
    "name": "Trần Thị Bích",
    "phone": "0987 654 321",
    "address": {"line": "45 Đường Lê Lợi", "commune": "Phường Bến Thành", "province_code": "79"},
    "id_number": "079190001234",
}


def acceptance(item_id: str, accepted_at: datetime, **changes: Any) -> dict[str, Any]:
    return post_office_requests.acceptance(
        item_id,
        procedure_code=BY_POST,
        agency_code=AGENCY,
        applicant=APPLICANT,
        clerk_id="clerk-0001",
        post_office_code=OFFICE,
        accepted_at=accepted_at.isoformat(),
        **changes,
    )


def registration(code: str, filed_at: datetime, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "agency_dossier_code": code,
        "procedure_code": BY_POST,
        "filing_channel": "ONLINE",
        "filed_at": filed_at.isoformat(),
        "applicant": APPLICANT,
        "delivery_address": APPLICANT["address"],
    }
    return body | changes

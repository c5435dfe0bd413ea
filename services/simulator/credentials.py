"""Local credentials of the simulated staff: one per post office and sorting centre, one per agency, one
operator. Issued as an operator would with `dossier-credentials issue`, registered in the credential
registry, valid for a day; the tokens live in memory only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.shared.auth import Role, TokenSigner
from services.shared.auth.registry import CredentialRegistry
from services.shared.db.engine import make_engine
from services.simulator import geography
from services.simulator.clients import Credentials

VALID_FOR = timedelta(days=1)


async def issue_credentials(database_url: str, secret: str, *, now: datetime | None = None) -> Credentials:
    moment = now or datetime.now(UTC)
    signer = TokenSigner(secret)
    engine = make_engine(database_url)
    registry = CredentialRegistry(engine)

    async def issue(role: Role, scope: str | None, subject: str) -> str:
        principal, token = signer.issue(
            subject=subject, role=role, scope=scope, now=moment, valid_for=VALID_FOR
        )
        await registry.register(principal, issued_at=moment, expires_at=moment + VALID_FOR)
        return token

    try:
        offices = {
            office.code: await issue(Role.POST_OFFICE, office.code, f"sim-clerk-{office.code}")
            for _, office in geography.offices()
        }
        agencies = {
            agency.code: await issue(Role.AGENCY, agency.code, f"sim-officer-{agency.code}")
            for _, agency in geography.agencies()
        }
        operator = await issue(Role.OPERATOR, None, "sim-operator")
    finally:
        await engine.dispose()
    return Credentials(operator=operator, post_offices=offices, agencies=agencies)

"""The credential registry decides whether a validly signed credential is still in force."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.shared.auth import CredentialError, Role, TokenSigner
from services.shared.auth.authenticator import Authenticator
from services.shared.auth.registry import CredentialRegistry
from services.shared.db import migrate
from services.shared.db.engine import make_engine

SECRET = "k" * 32


@pytest.fixture
async def registry(tmp_path: Path) -> CredentialRegistry:
    url = f"sqlite+aiosqlite:///{tmp_path / 'auth.db'}"
    await migrate.upgrade_async(url)
    return CredentialRegistry(make_engine(url), cache_seconds=0)


async def test_an_issued_credential_authenticates_until_an_operator_revokes_it(
    registry: CredentialRegistry,
) -> None:
    now = datetime.now(UTC)
    signer = TokenSigner(SECRET)
    principal, token = signer.issue(
        subject="clerk-7", role=Role.POST_OFFICE, scope="100000", now=now, valid_for=timedelta(days=1)
    )
    await registry.register(principal, issued_at=now, expires_at=now + timedelta(days=1))
    auth = Authenticator(signer, registry)

    assert await auth.authenticate(f"Bearer {token}") == principal

    assert await registry.revoke(principal.credential_id, now=now) is True
    with pytest.raises(CredentialError, match="revoked"):
        await auth.authenticate(f"Bearer {token}")
    assert await registry.revoke(principal.credential_id, now=now) is False


async def test_a_signed_credential_missing_from_the_registry_is_refused(registry: CredentialRegistry) -> None:
    _, token = TokenSigner(SECRET).issue(
        subject="x", role=Role.OPERATOR, scope=None, now=datetime.now(UTC), valid_for=timedelta(days=1)
    )

    with pytest.raises(CredentialError, match="revoked"):
        await Authenticator(TokenSigner(SECRET), registry).authenticate(f"Bearer {token}")


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer ", "Bearer not-a-token"])
async def test_a_missing_or_malformed_authorization_header_is_refused(
    registry: CredentialRegistry, header: str | None
) -> None:
    with pytest.raises(CredentialError):
        await Authenticator(TokenSigner(SECRET), registry).authenticate(header)

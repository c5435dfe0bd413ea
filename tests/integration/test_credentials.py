"""The credential registry decides whether a validly signed credential is still in force."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest

from services.shared.auth import CredentialError, Principal, Role, TokenSigner
from services.shared.auth.authenticator import Authenticator
from services.shared.auth.registry import CredentialRegistry
from services.shared.db import migrate
from services.shared.db.engine import make_engine
from services.shared.db.schema import credential

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


def _resigned(token: str, **changes: object) -> str:
    """The token re-signed with the real key after changing claims: what a leaked key allows."""
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    return jwt.encode({**claims, **changes}, SECRET, algorithm="HS256")


async def _registered_clerk(registry: CredentialRegistry) -> tuple[Principal, str, datetime]:
    now = datetime.now(UTC)
    principal, token = TokenSigner(SECRET).issue(
        subject="clerk-9", role=Role.POST_OFFICE, scope="100000", now=now, valid_for=timedelta(days=1)
    )
    await registry.register(principal, issued_at=now, expires_at=now + timedelta(days=1))
    return principal, token, now


@pytest.mark.parametrize(
    "changes",
    [
        {"role": "operator", "scope": None},
        {"scope": "700000"},
        {"role": "agency", "scope": "000.00.01.H22"},
        {"sub": "clerk-10"},
        {"exp": "later"},
    ],
    ids=["widened_to_operator", "another_post_office", "turned_agency", "another_subject", "longer_expiry"],
)
async def test_a_token_signed_with_the_real_key_whose_claims_differ_from_its_registration_is_refused(
    registry: CredentialRegistry, changes: dict[str, object]
) -> None:
    _, token, now = await _registered_clerk(registry)
    if changes.get("exp") == "later":
        changes = {"exp": int((now + timedelta(days=365)).timestamp())}
    auth = Authenticator(TokenSigner(SECRET), registry)

    with pytest.raises(CredentialError, match="differ from its registration") as refused:
        await auth.authenticate(f"Bearer {_resigned(token, **changes)}")

    assert refused.value.reason == "credential_mismatch"
    assert token not in str(refused.value)


async def test_the_registered_claims_are_cached_with_the_credential(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cached.db'}"
    await migrate.upgrade_async(url)
    engine = make_engine(url)
    registry = CredentialRegistry(engine, cache_seconds=300)
    principal, token, _ = await _registered_clerk(registry)
    auth = Authenticator(TokenSigner(SECRET), registry)
    assert await auth.authenticate(f"Bearer {token}") == principal
    # The registry row is gone, so only the cache can know the registered binding now.
    async with engine.begin() as conn:
        await conn.execute(credential.delete())

    assert await auth.authenticate(f"Bearer {token}") == principal
    with pytest.raises(CredentialError) as refused:
        await auth.authenticate(f"Bearer {_resigned(token, role='operator', scope=None)}")
    assert refused.value.reason == "credential_mismatch"
    await engine.dispose()

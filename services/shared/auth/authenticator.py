"""Turn an Authorization header into a Principal, or refuse it with a reason that is safe to show."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from services.shared.auth.registry import CredentialRegistry
from services.shared.auth.tokens import CredentialError, Principal, TokenSigner


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Authenticator:
    def __init__(
        self,
        signer: TokenSigner,
        registry: CredentialRegistry,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._signer = signer
        self._registry = registry
        self._clock = clock

    async def authenticate(self, authorization: str | None) -> Principal:
        if not authorization:
            raise CredentialError("a bearer credential is required")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise CredentialError("the Authorization header must be 'Bearer <token>'")
        principal = self._signer.verify(token.strip(), now=self._clock())
        # A validly signed token that the registry does not know (or knows as revoked) is refused: the
        # registry, not the signature alone, decides whether a credential is still in force.
        if not await self._registry.is_active(principal.credential_id):
            raise CredentialError("the credential is unknown or has been revoked")
        return principal

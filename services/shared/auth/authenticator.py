"""Turn an Authorization header into a Principal, or refuse it with a reason that is safe to show."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from services.shared.auth.registry import CredentialRegistry
from services.shared.auth.tokens import CREDENTIAL_MISMATCH, CredentialError, Principal, TokenSigner


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
        signed = self._signer.verify_claims(token.strip(), now=self._clock())
        principal = signed.principal
        # A validly signed token that the registry does not know (or knows as revoked) is refused: the
        # registry, not the signature alone, decides whether a credential is still in force.
        registered = await self._registry.find(principal.credential_id)
        if registered is None or registered.revoked_at is not None:
            raise CredentialError("the credential is unknown or has been revoked")
        # Nor may the token claim more than was registered for its id: whoever obtained the signing key
        # could otherwise widen a known credential's role, scope or lifetime.
        differing = [
            name
            for name, claimed, recorded in (
                ("sub", principal.subject, registered.subject),
                ("role", principal.role, registered.role),
                ("scope", principal.scope, registered.scope),
                ("exp", signed.expires_at, registered.expires_at.replace(microsecond=0)),
            )
            if claimed != recorded
        ]
        if differing:
            raise CredentialError(
                f"the credential's claims ({', '.join(differing)}) differ from its registration",
                CREDENTIAL_MISMATCH,
            )
        return principal

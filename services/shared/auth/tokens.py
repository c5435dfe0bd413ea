"""Issuing and verifying signed bearer tokens (pure: no I/O, time is passed in)."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from jwt.exceptions import InvalidJTIError, InvalidSubjectError

ISSUER = "dossier-post"
ALGORITHM = "HS256"
# HS256 keys shorter than the hash output weaken the signature (RFC 7518 §3.2).
MIN_SECRET_BYTES = 32
CLOCK_SKEW_SECONDS = 120


class Role(enum.StrEnum):
    POST_OFFICE = "post_office"
    AGENCY = "agency"
    OPERATOR = "operator"
    NOTIFIER = "notifier"
    """A service's credential, not a person's: reads applicants' contacts for notifications, nothing
    else (services/shared/auth/access.py)."""


SCOPED_ROLES = frozenset({Role.POST_OFFICE, Role.AGENCY})
"""Roles bound to one post office or agency (the token's scope); the others are bound to none."""


UNAUTHENTICATED = "unauthenticated"
INVALID_TOKEN = "invalid_token"
CREDENTIAL_MISMATCH = "credential_mismatch"


# How a 401 is documented in every service's OpenAPI document.
REFUSAL_DOC = (
    "No credential, or a malformed, expired, revoked or unknown one (`unauthenticated`); one signed "
    "with the service's key whose claims differ from its registration (`credential_mismatch`) or have "
    "the wrong type (`invalid_token`)."
)


class CredentialError(Exception):
    """The credential is missing, malformed, tampered with, expired or revoked; the message is safe
    to show (it never quotes the token). `reason` is the problem's stable code: `unauthenticated`,
    `invalid_token` (validly signed, but a claim has the wrong type) or `credential_mismatch` (validly
    signed, but its claims differ from the credential's registration)."""

    def __init__(self, detail: str, reason: str = UNAUTHENTICATED) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True)
class Principal:
    """Who is calling: one post office's staff, one agency's officer, an operator, or the notifications
    service (role notifier)."""

    credential_id: str
    subject: str
    role: Role
    post_office: str | None = None
    agency: str | None = None

    def __post_init__(self) -> None:
        if self.role is Role.POST_OFFICE and not self.post_office:
            raise CredentialError("a post office credential must name its post office", INVALID_TOKEN)
        if self.role is Role.AGENCY and not self.agency:
            raise CredentialError("an agency credential must name its agency", INVALID_TOKEN)

    @property
    def scope(self) -> str | None:
        """The post office or agency code the credential is bound to (None for the unscoped roles)."""
        return self.post_office if self.role is Role.POST_OFFICE else self.agency


@dataclass(frozen=True)
class SignedClaims:
    """What a validly signed token claims: the caller, and the times it was issued and expires at
    (whole seconds, as signed)."""

    principal: Principal
    issued_at: datetime
    expires_at: datetime


def check_times(issued: float, expires: float, now: datetime) -> None:
    """A token's times (seconds since the epoch, as signed) against the time of the request."""
    # Expiry is checked against the injected clock, not the machine's, so tests can move time.
    if expires <= now.timestamp():
        raise CredentialError("the credential has expired")
    # A token issued in the future (beyond clock skew between hosts) was not issued by us.
    if issued > now.timestamp() + CLOCK_SKEW_SECONDS:
        raise CredentialError("the credential is not valid yet")


def _claim(claims: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = claims.get(name)
    # bool is an int to isinstance; a claim of true is not a time.
    if not isinstance(value, kind) or isinstance(value, bool):
        raise CredentialError(f"the credential's {name} claim has the wrong type", INVALID_TOKEN)
    return value


class TokenSigner:
    def __init__(self, secret: str) -> None:
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"the token signing secret must be at least {MIN_SECRET_BYTES} bytes")
        self._secret = secret

    def issue(
        self,
        *,
        subject: str,
        role: Role,
        scope: str | None,
        now: datetime,
        valid_for: timedelta,
        credential_id: str | None = None,
    ) -> tuple[Principal, str]:
        principal = Principal(
            credential_id=credential_id or str(uuid.uuid4()),
            subject=subject,
            role=role,
            post_office=scope if role is Role.POST_OFFICE else None,
            agency=scope if role is Role.AGENCY else None,
        )
        claims = {
            "iss": ISSUER,
            "sub": subject,
            "jti": principal.credential_id,
            "role": role.value,
            "scope": scope,
            "iat": int(now.timestamp()),
            "exp": int((now + valid_for).timestamp()),
        }
        return principal, jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str, *, now: datetime) -> Principal:
        return self.verify_claims(token, now=now).principal

    def verify_claims(self, token: str, *, now: datetime) -> SignedClaims:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={
                    "require": ["exp", "iat", "jti", "sub", "iss"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidSignatureError as exc:
            raise CredentialError("the credential's signature is not valid") from exc
        except (InvalidSubjectError, InvalidJTIError) as exc:
            # Raised only once the signature is verified: the sub or jti claim is not a string.
            raise CredentialError("a claim of the credential has the wrong type", INVALID_TOKEN) from exc
        except jwt.PyJWTError as exc:
            raise CredentialError("the credential is malformed") from exc
        # Whoever holds the key can sign any JSON: a claim of another type (a scope that is a list or an
        # object) must be refused here, before it reaches a database query as a parameter.
        expires = _claim(claims, "exp", int)
        issued = _claim(claims, "iat", int)
        credential_id = _claim(claims, "jti", str)
        subject = _claim(claims, "sub", str)
        scope = None if claims.get("scope") is None else _claim(claims, "scope", str)
        check_times(issued, expires, now)
        try:
            role = Role(_claim(claims, "role", str))
        except ValueError as exc:
            raise CredentialError("the credential names an unknown role", INVALID_TOKEN) from exc
        principal = Principal(
            credential_id=credential_id,
            subject=subject,
            role=role,
            post_office=scope if role is Role.POST_OFFICE else None,
            agency=scope if role is Role.AGENCY else None,
        )
        return SignedClaims(
            principal=principal,
            issued_at=datetime.fromtimestamp(issued, UTC),
            expires_at=datetime.fromtimestamp(expires, UTC),
        )

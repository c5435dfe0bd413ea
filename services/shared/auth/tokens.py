"""Issuing and verifying signed bearer tokens (pure: no I/O, time is passed in)."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

ISSUER = "dossier-post"
ALGORITHM = "HS256"
# HS256 keys shorter than the hash output weaken the signature (RFC 7518 §3.2).
MIN_SECRET_BYTES = 32
CLOCK_SKEW_SECONDS = 120


class Role(enum.StrEnum):
    POST_OFFICE = "post_office"
    AGENCY = "agency"
    OPERATOR = "operator"


class CredentialError(Exception):
    """The credential is missing, malformed, tampered with, expired or revoked; the message is safe
    to show."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: one post office's staff, one agency's officer, or an operator."""

    credential_id: str
    subject: str
    role: Role
    post_office: str | None = None
    agency: str | None = None

    def __post_init__(self) -> None:
        if self.role is Role.POST_OFFICE and not self.post_office:
            raise CredentialError("a post office credential must name its post office")
        if self.role is Role.AGENCY and not self.agency:
            raise CredentialError("an agency credential must name its agency")

    @property
    def scope(self) -> str | None:
        """The post office or agency code the credential is bound to (None for operators)."""
        return self.post_office if self.role is Role.POST_OFFICE else self.agency


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
        except jwt.PyJWTError as exc:
            raise CredentialError("the credential is malformed") from exc
        # Expiry is checked against the injected clock, not the machine's, so tests can move time.
        if int(claims["exp"]) <= now.timestamp():
            raise CredentialError("the credential has expired")
        # A token issued in the future (beyond clock skew between hosts) was not issued by us.
        if int(claims["iat"]) > now.timestamp() + CLOCK_SKEW_SECONDS:
            raise CredentialError("the credential is not valid yet")
        try:
            role = Role(str(claims.get("role")))
        except ValueError as exc:
            raise CredentialError("the credential names an unknown role") from exc
        scope = claims.get("scope")
        return Principal(
            credential_id=str(claims["jti"]),
            subject=str(claims["sub"]),
            role=role,
            post_office=scope if role is Role.POST_OFFICE else None,
            agency=scope if role is Role.AGENCY else None,
        )

"""The applicant's phone and e-mail, asked of the service that collected them — the post office or the
agency — over its authenticated, audited contact API with purpose ``notifications``, and kept here only
sealed and only for ``contact_retention_h``.

Why ask, rather than carry the contact in events: the contact never enters the log (contracts/README.md,
Personal data); every read is recorded in the owner's audit under this service's credential; an erasure
at the owner answers ``erased`` from then on, and its announcement (``*.personal_data_erased``) deletes
our sealed copy at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.enums import PersonalDataHolder
from services.notifications.adapters import repository as repo
from services.shared.personal_data.keys import Keyring, UnknownKeyIdError
from services.shared.personal_data.sealing import SealBrokenError, Sealed, open_sealed, seal

SEALED_KIND = "notification_contact"
PURPOSE = "notifications"


@dataclass(frozen=True)
class Contact:
    phone: str | None
    """E.164 (+84…)."""
    email: str | None


class _Erased:
    pass


ERASED: Final = _Erased()


class ContactUnavailableError(Exception):
    """The owner could not answer now (down, timeout, 5xx): worth retrying."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ContactRefusedError(Exception):
    """The owner refused for this dossier (unknown, not allowed, key unavailable): retrying cannot help."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def e164(phone: str) -> str:
    """A Vietnamese number in national form (0912 345 678) as E.164 (+84912345678)."""
    digits = "".join(c for c in phone if c.isdigit())
    if phone.strip().startswith("+"):
        return f"+{digits}"
    if digits.startswith("84") and len(digits) > 10:
        return f"+{digits}"
    return f"+84{digits.removeprefix('0')}"


class OwnerContacts:
    """The two owners' contact APIs, called with the service's own credential."""

    def __init__(self, http: httpx.AsyncClient, *, post_office_url: str, agency_url: str, token: str) -> None:
        self._http = http
        self._urls = {
            PersonalDataHolder.POST_OFFICE: post_office_url.rstrip("/") + "/v1/dossiers/{ref}/contact",
            PersonalDataHolder.AGENCY: agency_url.rstrip("/") + "/dossiers/{ref}/contact",
        }
        self._token = token

    async def fetch(self, owner: PersonalDataHolder, reference: str) -> Contact | _Erased:
        url = self._urls.get(owner)
        if url is None:
            raise ContactRefusedError("personal_data_not_held")
        try:
            answer = await self._http.get(
                url.format(ref=reference),
                params={"purpose": PURPOSE},
                headers={"Authorization": f"Bearer {self._token}"},
            )
        except httpx.HTTPError as exc:
            raise ContactUnavailableError(type(exc).__name__) from None
        if answer.status_code >= 500 or answer.status_code == 429:
            raise ContactUnavailableError(f"http_{answer.status_code}")
        if answer.status_code != 200:
            raise ContactRefusedError(_problem_reason(answer))
        body = answer.json()
        if body.get("erased"):
            return ERASED
        held = body.get("contact") or {}
        phone = held.get("phone")
        return Contact(phone=None if phone is None else e164(phone), email=held.get("email"))


def _problem_reason(answer: httpx.Response) -> str:
    try:
        reason = answer.json().get("reason")
    except ValueError:
        reason = None
    return str(reason or f"http_{answer.status_code}")[:48]


class ContactStore:
    """Our sealed copy first (within its retention), else the owner's answer, sealed and kept."""

    def __init__(
        self, engine: AsyncEngine, owners: OwnerContacts, keyring: Keyring, retention: timedelta
    ) -> None:
        self._engine = engine
        self._owners = owners
        self._keyring = keyring
        self._retention = retention

    async def contact(
        self, dossier_id: str, owner: PersonalDataHolder, reference: str, now: datetime
    ) -> Contact | _Erased:
        async with self._engine.connect() as conn:
            kept = await repo.sealed_contact(conn, dossier_id, now)
        if kept is not None:
            try:
                plain = open_sealed(
                    Sealed(kept.kid, kept.wrapped_key, kept.blob),
                    dossier_id=dossier_id,
                    kind=SEALED_KIND,
                    keyring=self._keyring,
                )
            except (UnknownKeyIdError, SealBrokenError):
                plain = None  # sealed under a key no longer listed: ask the owner again, reseal
            if plain is not None:
                data = json.loads(plain)
                return Contact(phone=data.get("phone"), email=data.get("email"))
        answer = await self._owners.fetch(owner, reference)
        if isinstance(answer, Contact):
            sealed = seal(
                json.dumps({"phone": answer.phone, "email": answer.email}).encode(),
                dossier_id=dossier_id,
                kind=SEALED_KIND,
                keyring=self._keyring,
            )
            async with self._engine.begin() as conn:
                # Under the dossier's lock: an erasure announced while the owner was answering wins.
                await repo.lock_dossier(conn, dossier_id, now)
                erased = await repo.dossier_row(conn, dossier_id)
                if erased is not None and erased.erased_at is not None:
                    return ERASED
                await repo.keep_contact(
                    conn,
                    dossier_id,
                    kid=sealed.kid,
                    wrapped_key=sealed.wrapped_key,
                    blob=sealed.blob,
                    now=now,
                    until=now + self._retention,
                )
        return answer

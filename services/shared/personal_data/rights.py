"""A person's rights on the data a service holds about them: access (what is held, for what, until when)
and erasure, asked by an operator on the person's behalf, each request appended to an audit table.

A request names the person by phone number or ID number (found through the vault's keyed HMAC indexes,
no record opened) or, for an erasure, by dossier. The audit keeps who asked, when, how the person was
named (the phone or ID number only as its keyed HMAC index, never in plain) and what was found or erased.
An erasure publishes the owner's erasure event in the transaction that erases (services/shared/
personal_data/erasure.py), so consumers drop what they derived.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.enums import ErasureReason
from contracts.events.base import PERSONAL_DATA
from contracts.values import AwareTime, DossierId, VnPhoneNumber
from services.shared.personal_data.vault import Erasure, Holding, Vault

By = Literal["phone", "id_number", "dossier"]


class Announce(Protocol):
    def __call__(
        self, conn: AsyncConnection, erasures: Sequence[Erasure], officer_id: str = ...
    ) -> Awaitable[None]: ...


class AccessRequest(BaseModel):
    """Who the person is: exactly one of their phone number or ID number, as they gave it."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    phone: VnPhoneNumber | None = Field(default=None, json_schema_extra=PERSONAL_DATA)
    """A Vietnamese phone number (any usual spelling: +84, spaces, dots)."""
    id_number: str | None = Field(
        default=None, min_length=6, max_length=20, pattern=r"^[0-9A-Za-z]+$", json_schema_extra=PERSONAL_DATA
    )
    """The number of an identity document (CCCD, passport)."""

    @model_validator(mode="after")
    def _exactly_one(self) -> AccessRequest:
        if len(self.named()) != 1:
            raise ValueError(f"name the person by exactly one of: {', '.join(self._choices())}")
        return self

    @classmethod
    def _choices(cls) -> tuple[str, ...]:
        return ("phone", "id_number")

    def named(self) -> list[tuple[By, str]]:
        given: list[tuple[By, str]] = []
        if self.phone is not None:
            given.append(("phone", self.phone))
        if self.id_number is not None:
            given.append(("id_number", self.id_number))
        return given


class ErasureRequest(AccessRequest):
    """Whose data to erase: exactly one of a phone number, an ID number or a dossier id."""

    dossier: DossierId | None = None
    """A dossier id: every record of that dossier."""

    @classmethod
    def _choices(cls) -> tuple[str, ...]:
        return ("phone", "id_number", "dossier")

    def named(self) -> list[tuple[By, str]]:
        given = super().named()
        if self.dossier is not None:
            given.append(("dossier", str(self.dossier)))
        return given


class HeldRecord(BaseModel):
    """One record a service holds (or held: a tombstone) about the person, never its content."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    service: str
    dossier_id: DossierId
    kind: str
    """``applicant`` (contact), ``delivery_address``, ``delivery_note:<item>:<attempt>``."""
    purposes: list[str]
    purpose_ends: dict[str, AwareTime | None]
    """When each purpose ends; null while the fact that ends it has not happened."""
    held_until: AwareTime | None
    """When the record is erased (the end of its last purpose); null while a purpose is open."""
    collected_at: AwareTime
    erased_at: AwareTime | None = None
    erasure_reason: str | None = None


class AccessAnswer(BaseModel):
    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    service: str
    request_id: int
    """The audit row of this request."""
    records: list[HeldRecord]


class ErasedDossier(BaseModel):
    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    service: str
    dossier_id: DossierId
    kinds: list[str]
    erased_at: AwareTime


class ErasureAnswer(BaseModel):
    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    service: str
    request_id: int
    erased: list[ErasedDossier]
    """What this request erased (an erasure event was published for each dossier)."""
    already_erased: list[HeldRecord]
    """Records found already erased (by retention or an earlier request)."""


class RecordRef(BaseModel):
    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    dossier_id: DossierId
    kind: str


class RightsRequestEntry(BaseModel):
    """One access or erasure request as the audit keeps it: never the phone or ID number it named."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    request_id: int
    kind: Literal["access", "erasure"]
    by: By
    """How the person was named: by phone, ID number or dossier (the number itself is not shown)."""
    requester: str
    """The operator's credential subject."""
    role: str
    requested_at: AwareTime
    found: list[RecordRef]
    """The records held when the request was answered."""
    erased: list[RecordRef]
    """The records the request erased (an erasure only)."""


class RightsRequests(BaseModel):
    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    service: str
    requests: list[RightsRequestEntry]
    """Newest first."""


@dataclass(frozen=True)
class Requester:
    subject: str
    role: str


class RightsDesk:
    def __init__(
        self,
        engine: AsyncEngine,
        vault: Vault,
        announce: Announce,
        clock: Callable[[], datetime],
        *,
        service: str,
    ) -> None:
        self._engine = engine
        self._vault = vault
        self._announce = announce
        self._clock = clock
        self._service = service

    def _subject(self, by: By, value: str) -> str:
        if by == "phone":
            return self._vault.index.phone(value)
        if by == "id_number":
            return self._vault.index.id_number(value)
        return value

    async def _found(self, conn: AsyncConnection, by: By, value: str) -> list[Holding]:
        if by == "phone":
            return await self._vault.find_by_phone(conn, value)
        if by == "id_number":
            return await self._vault.find_by_id_number(conn, value)
        return await self._vault.holding(conn, value)

    def _held(self, h: Holding) -> HeldRecord:
        return HeldRecord(
            service=self._service,
            dossier_id=h.dossier_id,
            kind=h.kind,
            purposes=list(h.purposes),
            purpose_ends=dict(h.purpose_ends),
            held_until=h.held_until,
            collected_at=h.collected_at,
            erased_at=h.erased_at,
            erasure_reason=h.erasure_reason,
        )

    async def access(self, request: AccessRequest, requester: Requester) -> AccessAnswer:
        ((by, value),) = request.named()
        now = self._clock()
        async with self._engine.begin() as conn:
            found = await self._found(conn, by, value)
            request_id = await self._audit(
                conn, "access", by, value, requester, now, found=[(h.dossier_id, h.kind) for h in found]
            )
        return AccessAnswer(
            service=self._service, request_id=request_id, records=[self._held(h) for h in found]
        )

    async def erase(self, request: ErasureRequest, requester: Requester) -> ErasureAnswer:
        """Erase every record found, publish one erasure event per dossier (acks=all) and audit it, all
        in one transaction: a failed publication erases nothing and records nothing."""
        ((by, value),) = request.named()
        now = self._clock()
        async with self._engine.begin() as conn:
            found = await self._found(conn, by, value)
            erasures: list[Erasure] = []
            for dossier_id in sorted({h.dossier_id for h in found}):
                done = await self._vault.erase_dossier(
                    conn, dossier_id, reason=ErasureReason.REQUEST.value, at=now
                )
                if done is not None:
                    erasures.append(done)
            if erasures:
                await self._announce(conn, erasures, officer_id=_officer(requester))
            request_id = await self._audit(
                conn,
                "erasure",
                by,
                value,
                requester,
                now,
                found=[(h.dossier_id, h.kind) for h in found],
                erased=[(e.dossier_id, kind) for e in erasures for kind in e.kinds],
            )
        erased_now = {(e.dossier_id, k) for e in erasures for k in e.kinds}
        return ErasureAnswer(
            service=self._service,
            request_id=request_id,
            erased=[
                ErasedDossier(
                    service=self._service, dossier_id=e.dossier_id, kinds=list(e.kinds), erased_at=e.at
                )
                for e in erasures
            ],
            already_erased=[
                self._held(h)
                for h in found
                if h.erased_at is not None and (h.dossier_id, h.kind) not in erased_now
            ],
        )

    async def requests(self, limit: int = 1000) -> RightsRequests:
        """The audit of the access and erasure requests, newest first (at most `limit`)."""
        t = self._vault.tables.requests
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(t).order_by(t.c.id.desc()).limit(limit))).all()
        return RightsRequests(
            service=self._service,
            requests=[
                RightsRequestEntry(
                    request_id=r.id,
                    kind=r.kind,
                    by=r.by,
                    requester=r.requester,
                    role=r.role,
                    requested_at=r.requested_at,
                    found=[RecordRef.model_validate(x) for x in json.loads(r.found)],
                    erased=[RecordRef.model_validate(x) for x in json.loads(r.erased)],
                )
                for r in rows
            ],
        )

    async def _audit(
        self,
        conn: AsyncConnection,
        kind: str,
        by: By,
        value: str,
        requester: Requester,
        at: datetime,
        *,
        found: list[tuple[str, str]],
        erased: list[tuple[str, str]] | None = None,
    ) -> int:
        result = await conn.execute(
            self._vault.tables.requests.insert()
            .values(
                kind=kind,
                by=by,
                subject=self._subject(by, value),
                requester=requester.subject[:64],
                role=requester.role,
                requested_at=at,
                found=json.dumps([{"dossier_id": d, "kind": k} for d, k in found]),
                erased=json.dumps([{"dossier_id": d, "kind": k} for d, k in erased or []]),
            )
            .returning(self._vault.tables.requests.c.id)
        )
        return int(result.scalar_one())


def _officer(requester: Requester) -> str:
    """The requester as a staff id in an event (its own subject when it fits the pattern)."""
    subject = requester.subject
    if 0 < len(subject) <= 64 and all(c.isascii() and (c.isalnum() or c in "._:/-") for c in subject):
        return subject
    return f"operator:{uuid.uuid5(uuid.NAMESPACE_URL, subject).hex[:16]}"

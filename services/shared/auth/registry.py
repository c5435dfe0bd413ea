"""The credential registry: which issued credentials exist and which an operator has revoked."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from services.shared.auth.tokens import Principal, Role
from services.shared.db.schema import credential


@dataclass(frozen=True)
class CredentialRecord:
    credential_id: str
    subject: str
    role: Role
    scope: str | None
    issued_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


class CredentialRegistry:
    """Backed by the shared database. Lookups, the registered binding included, are cached briefly so
    that authentication costs no database round trip on most requests; a revocation therefore takes
    effect within `cache_seconds`."""

    def __init__(self, engine: AsyncEngine, *, cache_seconds: float = 5.0) -> None:
        self._engine = engine
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, CredentialRecord | None]] = {}

    async def register(self, principal: Principal, *, issued_at: datetime, expires_at: datetime) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                credential.insert().values(
                    credential_id=principal.credential_id,
                    subject=principal.subject,
                    role=principal.role.value,
                    scope=principal.scope,
                    issued_at=issued_at.astimezone(UTC),
                    expires_at=expires_at.astimezone(UTC),
                    revoked_at=None,
                )
            )

    async def revoke(self, credential_id: str, *, now: datetime) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(credential)
                .where(credential.c.credential_id == credential_id, credential.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        self._cache.pop(credential_id, None)
        return bool(result.rowcount)

    async def find(self, credential_id: str) -> CredentialRecord | None:
        """The credential as registered (revoked or not), or None when no such id was ever issued."""
        read_at = time.monotonic()
        cached = self._cache.get(credential_id)
        if cached is not None and cached[0] > read_at:
            return cached[1]
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(select(credential).where(credential.c.credential_id == credential_id))
            ).first()
        record = None if row is None else _record(row)
        # The answer is as old as the read's start, not its end: a revocation committed while the query
        # ran still takes effect within `cache_seconds`, however slow the database was.
        self._cache[credential_id] = (read_at + self._cache_seconds, record)
        return record

    async def list(self) -> list[CredentialRecord]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(credential).order_by(credential.c.issued_at))).all()
        return [_record(r) for r in rows]


def _utc(moment: datetime) -> datetime:
    # SQLite hands timestamps back without their zone; they were written in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _record(row: Row[Any]) -> CredentialRecord:
    return CredentialRecord(
        credential_id=row.credential_id,
        subject=row.subject,
        role=Role(row.role),
        scope=row.scope,
        issued_at=_utc(row.issued_at),
        expires_at=_utc(row.expires_at),
        revoked_at=None if row.revoked_at is None else _utc(row.revoked_at),
    )

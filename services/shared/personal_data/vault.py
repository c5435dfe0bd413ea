"""The vault: store a dossier's personal data sealed, read it back, erase it, find a person's rows, rotate.

One row per (dossier, kind). Erasure deletes the sealed blob, the wrapped data key and the indexes; the
row stays as a tombstone (when, why), so a read answers ``Erased`` instead of nothing.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from typing import Any

from sqlalchemy import Row, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.shared.personal_data.index import BlindIndex
from services.shared.personal_data.keys import Keyring
from services.shared.personal_data.sealing import SealBrokenError, Sealed, open_sealed, rewrap, seal
from services.shared.personal_data.tables import VaultTables


@dataclass(frozen=True)
class Sealing:
    """A record to seal: its kind, why it is kept, the data, and what indexes it."""

    kind: str
    purposes: tuple[str, ...]
    data: Mapping[str, Any]
    phone: str | None = None
    id_number: str | None = None


@dataclass(frozen=True)
class Held:
    """A record as collected."""

    kind: str
    purposes: tuple[str, ...]
    collected_at: datetime
    data: dict[str, Any]


@dataclass(frozen=True)
class Erased:
    """A record erased: only the tombstone is left."""

    kind: str
    at: datetime
    reason: str


@dataclass(frozen=True)
class Holding:
    """What an access request learns of a row without opening it."""

    dossier_id: str
    kind: str
    purposes: tuple[str, ...]
    collected_at: datetime
    erased_at: datetime | None
    held_until: datetime | None = None
    """The end of its last purpose; None while one of them has not ended yet."""
    purpose_ends: Mapping[str, datetime | None] = field(default_factory=dict)
    """Each purpose's end, None while the fact that ends it has not happened."""
    erasure_reason: str | None = None


@dataclass(frozen=True)
class Erasure:
    """Records of one dossier erased together: what an erasure event reports."""

    dossier_id: str
    kinds: tuple[str, ...]
    at: datetime
    reason: str


@dataclass(frozen=True)
class Unopened:
    """A record the rotation could not re-wrap: which one (ids only, no personal data) and why."""

    dossier_id: str
    kind: str
    reason: str


@dataclass(frozen=True)
class Rotation:
    rewrapped: int
    """Data keys wrapped again under the current KEK."""
    unknown: int
    """Records under a KEK that is not listed: they cannot be re-wrapped until it is listed again."""
    remaining: int = 0
    """Records still under an older listed KEK (locked by a live request meanwhile): run it again."""
    unopened: tuple[Unopened, ...] = ()
    """The records it could not re-wrap (a KEK not listed, a data key that does not unwrap), each named
    (at most ``UNOPENED_LISTED`` under unknown KEKs): the operator's to fix; the others were re-wrapped."""


UNOPENED_LISTED = 100


class Vault:
    def __init__(self, tables: VaultTables, keyring: Keyring, index: BlindIndex) -> None:
        self.tables = tables
        self._keyring = keyring
        self._index = index

    @property
    def index(self) -> BlindIndex:
        """The keyed HMAC indexes: how the audit of a request names a person without their number."""
        return self._index

    async def store(
        self,
        conn: AsyncConnection,
        *,
        dossier_id: str,
        kind: str,
        purposes: Collection[str],
        data: Mapping[str, Any],
        collected_at: datetime,
        phone: str | None = None,
        id_number: str | None = None,
    ) -> None:
        """Seal ``data`` into the caller's transaction (the same one that records the act)."""
        plaintext = json.dumps(data, ensure_ascii=False, sort_keys=True).encode()
        sealed = seal(plaintext, dossier_id=dossier_id, kind=kind, keyring=self._keyring)
        await conn.execute(
            self.tables.records.insert().values(
                dossier_id=dossier_id,
                kind=kind,
                purposes=",".join(sorted(purposes)),
                purpose_ends=json.dumps(dict.fromkeys(sorted(purposes))),
                kid=sealed.kid,
                wrapped_key=sealed.wrapped_key,
                sealed=sealed.blob,
                phone_index=None if phone is None else self._index.phone(phone),
                id_number_index=None if id_number is None else self._index.id_number(id_number),
                collected_at=collected_at,
            )
        )

    async def store_all(
        self, conn: AsyncConnection, dossier_id: str, records: Collection[Sealing], collected_at: datetime
    ) -> None:
        for r in records:
            await self.store(
                conn,
                dossier_id=dossier_id,
                kind=r.kind,
                purposes=r.purposes,
                data=r.data,
                collected_at=collected_at,
                phone=r.phone,
                id_number=r.id_number,
            )

    async def read(self, conn: AsyncConnection, dossier_id: str, kind: str) -> Held | Erased | None:
        """The record, ``Erased`` for a tombstone, None if none was collected.

        Raises UnknownKeyIdError or SealBrokenError for this one record when it does not open."""
        t = self.tables.records
        row = (await conn.execute(select(t).where(t.c.dossier_id == dossier_id, t.c.kind == kind))).first()
        if row is None:
            return None
        return self._opened(row)

    async def read_all(self, conn: AsyncConnection, dossier_id: str) -> list[Held | Erased]:
        t = self.tables.records
        rows = (await conn.execute(select(t).where(t.c.dossier_id == dossier_id).order_by(t.c.kind))).all()
        return [self._opened(row) for row in rows]

    def _opened(self, row: Row[Any]) -> Held | Erased:
        if row.erased_at is not None:
            return Erased(row.kind, row.erased_at, row.erasure_reason or "")
        sealed = Sealed(row.kid, row.wrapped_key, row.sealed)
        plaintext = open_sealed(sealed, dossier_id=row.dossier_id, kind=row.kind, keyring=self._keyring)
        return Held(row.kind, _purposes(row.purposes), row.collected_at, json.loads(plaintext))

    async def erase(self, conn: AsyncConnection, dossier_id: str, reason: str, at: datetime) -> int:
        """Erase every record of a dossier not erased yet; the rows erased (0 when already erased)."""
        t = self.tables.records
        result = await conn.execute(
            update(t)
            .where(t.c.dossier_id == dossier_id, t.c.erased_at.is_(None))
            .values(
                kid=None,
                wrapped_key=None,
                sealed=None,
                phone_index=None,
                id_number_index=None,
                erased_at=at,
                erasure_reason=reason[:200],
            )
        )
        return result.rowcount

    async def find_by_phone(self, conn: AsyncConnection, phone: str) -> list[Holding]:
        return await self._find(conn, self.tables.records.c.phone_index == self._index.phone(phone))

    async def find_by_id_number(self, conn: AsyncConnection, id_number: str) -> list[Holding]:
        return await self._find(
            conn, self.tables.records.c.id_number_index == self._index.id_number(id_number)
        )

    async def _find(self, conn: AsyncConnection, condition: Any) -> list[Holding]:
        t = self.tables.records
        dossiers = select(t.c.dossier_id).where(condition).scalar_subquery()
        rows = (
            await conn.execute(
                select(t).where(t.c.dossier_id.in_(dossiers)).order_by(t.c.dossier_id, t.c.kind)
            )
        ).all()
        return [_holding(r) for r in rows]

    async def holding(self, conn: AsyncConnection, dossier_id: str) -> list[Holding]:
        """What is held about one dossier, without opening it (tombstones included)."""
        t = self.tables.records
        rows = (await conn.execute(select(t).where(t.c.dossier_id == dossier_id).order_by(t.c.kind))).all()
        return [_holding(r) for r in rows]

    async def end_purposes(
        self,
        conn: AsyncConnection,
        dossier_id: str,
        ends: Mapping[str, datetime],
        *,
        adding: Collection[str] = (),
    ) -> int:
        """Record when purposes of a dossier's records end (in the transaction of the fact that ends
        them), and store each record's ``held_until``: the last end once every purpose has one.

        ``ends`` applies to the purposes a record has; a purpose in ``adding`` is added to every record
        (the dispute window that a delivery opens). A purpose already ended keeps its first end, so a
        replayed fact does not extend the retention. How many records changed."""
        t = self.tables.records
        rows = (
            await conn.execute(
                select(t.c.kind, t.c.purposes, t.c.purpose_ends)
                .where(t.c.dossier_id == dossier_id, t.c.erased_at.is_(None))
                .with_for_update()
            )
        ).all()
        changed = 0
        for row in rows:
            known = _ends(row.purposes, row.purpose_ends)
            updated = dict(known)
            for purpose, end in ends.items():
                if (purpose in known or purpose in adding) and updated.get(purpose) is None:
                    updated[purpose] = end
            if updated == known:
                continue
            dates = [e for e in updated.values() if e is not None]
            held_until = max(dates) if len(dates) == len(updated) else None
            await conn.execute(
                update(t)
                .where(t.c.dossier_id == dossier_id, t.c.kind == row.kind)
                .values(
                    purposes=",".join(sorted(updated)),
                    purpose_ends=json.dumps(
                        {p: None if e is None else e.isoformat() for p, e in sorted(updated.items())}
                    ),
                    held_until=held_until,
                )
            )
            changed += 1
        return changed

    async def erase_expired(
        self, conn: AsyncConnection, now: datetime, *, reason: str, batch: int = 100
    ) -> list[Erasure]:
        """Erase, in the caller's transaction, up to ``batch`` records whose every purpose ended by
        ``now``; the erasures by dossier, for the caller to publish in the same transaction.

        Exactly once across replicas: the rows are claimed ``FOR UPDATE SKIP LOCKED`` (a replica skips
        what another holds) and erased only if still not erased, so a record claimed by two runs one
        after the other is erased by the first only."""
        t = self.tables.records
        claimed = (
            await conn.execute(
                select(t.c.dossier_id, t.c.kind)
                .where(t.c.held_until <= now, t.c.erased_at.is_(None))
                .order_by(t.c.held_until, t.c.dossier_id, t.c.kind)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
        ).all()
        erased: list[tuple[str, str]] = []
        for dossier_id, kind in claimed:
            if await self._erase_where(
                conn, t.c.dossier_id == dossier_id, t.c.kind == kind, reason=reason, at=now
            ):
                erased.append((dossier_id, kind))
        return _by_dossier(erased, now, reason)

    async def erase_dossier(
        self, conn: AsyncConnection, dossier_id: str, *, reason: str, at: datetime
    ) -> Erasure | None:
        """Erase every record of a dossier not erased yet (a person's request); None when none was left."""
        t = self.tables.records
        kinds = (
            (
                await conn.execute(
                    select(t.c.kind)
                    .where(t.c.dossier_id == dossier_id, t.c.erased_at.is_(None))
                    .order_by(t.c.kind)
                    .with_for_update()
                )
            )
            .scalars()
            .all()
        )
        done = [
            k
            for k in kinds
            if await self._erase_where(
                conn, t.c.dossier_id == dossier_id, t.c.kind == k, reason=reason, at=at
            )
        ]
        return Erasure(dossier_id, tuple(done), at, reason) if done else None

    async def _erase_where(self, conn: AsyncConnection, *conditions: Any, reason: str, at: datetime) -> int:
        t = self.tables.records
        result = await conn.execute(
            update(t)
            .where(*conditions, t.c.erased_at.is_(None))
            .values(
                kid=None,
                wrapped_key=None,
                sealed=None,
                phone_index=None,
                id_number_index=None,
                erased_at=at,
                erasure_reason=reason[:200],
            )
        )
        return result.rowcount

    async def rotate(self, engine: AsyncEngine, batch: int = 500) -> Rotation:
        """Re-wrap every data key not under the current KEK, ``batch`` rows per transaction.

        Runs beside the live service: readers accept every listed KEK meanwhile, a row locked by another
        transaction is skipped (counted in ``remaining``: run it again), and an update applies only if the
        row still names the KEK it was read under. A record whose data key does not unwrap is named in
        the result and left as it is: one broken record must not stop the rotation of the others."""
        t = self.tables.records
        current = self._keyring.current_id
        older = [kid for kid, _ in self._keyring.keys[1:]]
        rewrapped = 0
        broken: list[Unopened] = []
        after: tuple[str, str] | None = None  # keyset paging: a broken row is not read again
        while older:
            query = (
                select(t.c.dossier_id, t.c.kind, t.c.kid, t.c.wrapped_key, t.c.sealed)
                .where(t.c.kid.in_(older), t.c.erased_at.is_(None))
                .order_by(t.c.dossier_id, t.c.kind)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
            if after is not None:
                query = query.where(tuple_(t.c.dossier_id, t.c.kind) > tuple_(*after))
            async with engine.begin() as conn:
                rows = (await conn.execute(query)).all()
                for row in rows:
                    try:
                        fresh = rewrap(Sealed(row.kid, row.wrapped_key, row.sealed), self._keyring)
                    except SealBrokenError as error:
                        broken.append(Unopened(row.dossier_id, row.kind, str(error)))
                        continue
                    await conn.execute(
                        update(t)
                        .where(t.c.dossier_id == row.dossier_id, t.c.kind == row.kind, t.c.kid == row.kid)
                        .values(kid=current, wrapped_key=fresh.wrapped_key)
                    )
                    rewrapped += 1
            if len(rows) < batch:
                break
            after = (rows[-1].dossier_id, rows[-1].kind)
        async with engine.connect() as conn:
            listed = [kid for kid, _ in self._keyring.keys]
            not_listed = t.c.kid.is_not(None) & t.c.kid.not_in(listed)
            unknown = await conn.scalar(select(func.count()).select_from(t).where(not_listed))
            named = (
                await conn.execute(
                    select(t.c.dossier_id, t.c.kind, t.c.kid)
                    .where(not_listed)
                    .order_by(t.c.dossier_id, t.c.kind)
                    .limit(UNOPENED_LISTED)
                )
            ).all()
            remaining: int | None = 0
            if older:
                remaining = await conn.scalar(select(func.count()).select_from(t).where(t.c.kid.in_(older)))
        unlisted = [Unopened(r.dossier_id, r.kind, f"key {r.kid!r} is not listed") for r in named]
        return Rotation(
            rewrapped,
            int(unknown or 0),
            int(remaining or 0) - len(broken),
            tuple(sorted([*unlisted, *broken], key=lambda u: (u.dossier_id, u.kind))),
        )


def _purposes(text: str) -> tuple[str, ...]:
    return tuple(p for p in text.split(",") if p)


def _ends(purposes: str, stored: str | None) -> dict[str, datetime | None]:
    """Each purpose's end; a record from before retention was stored has every end still open."""
    ends: dict[str, str | None] = json.loads(stored) if stored else {}
    return {
        p: None if ends.get(p) is None else datetime.fromisoformat(str(ends[p]))
        for p in sorted({*_purposes(purposes), *ends})
    }


def _holding(r: Row[Any]) -> Holding:
    return Holding(
        r.dossier_id,
        r.kind,
        _purposes(r.purposes),
        r.collected_at,
        r.erased_at,
        r.held_until,
        _ends(r.purposes, r.purpose_ends),
        r.erasure_reason,
    )


def _by_dossier(erased: list[tuple[str, str]], at: datetime, reason: str) -> list[Erasure]:
    return [
        Erasure(dossier_id, tuple(kind for _, kind in group), at, reason)
        for dossier_id, group in groupby(sorted(erased), key=lambda pair: pair[0])
    ]

"""The nonconformity register in the turnaround database (tables quality_nonconformity and
quality_nonconformity_audit, migration ta_0003), inside a caller's transaction.

Opening is insert-if-absent on the breach's key (uq_quality_nonconformity_breach), in the projector's
transaction: the inbox, the clocks and the register commit together, so each breach is opened once
across redeliveries, replays and replicas. A step locks the row, checks it against the state machine
(nonconformities.py) and appends its audit row under that lock, so audit numbers never collide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from services.shared.auth import Principal, Role
from services.turnaround.adapters.tables import nonconformity, nonconformity_audit
from services.turnaround.quality.breaches import Breach, BreachKind, Responsible
from services.turnaround.quality.nonconformities import Action, Change, State, Text

SYSTEM_ACTOR = "turnaround"
SYSTEM_ROLE = "system"
OPENED = "open"


def _insert(conn: AsyncConnection, table: Any) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _read(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)  # SQLite keeps no offset: stored in UTC


async def open_if_absent(conn: AsyncConnection, breaches: Sequence[Breach], now: datetime) -> list[Breach]:
    """Open a nonconformity for each breach not opened before; returns those this transaction opened.
    In key order, so two replicas opening the same breaches lock the unique index in one order."""
    opened: list[Breach] = []
    for breach in sorted(breaches, key=lambda b: b.nonconformity_id):
        statement = (
            _insert(conn, nonconformity)
            .values(
                nonconformity_id=breach.nonconformity_id,
                dossier_id=breach.dossier_id,
                kind=breach.kind.value,
                occurrence=breach.occurrence,
                leg=breach.leg.value,
                responsible_kind=breach.responsible.value,
                responsible_code=breach.responsible_code,
                province=breach.province,
                procedure_code=breach.procedure_code,
                rule_set=breach.citation.rule_set,
                article=breach.citation.article,
                facts=dict(breach.facts),
                detected_at=_utc(breach.detected_at),
                opened_at=_utc(now),
                state=State.OPEN.value,
                version=1,
                updated_at=_utc(now),
            )
            .on_conflict_do_nothing(index_elements=["dossier_id", "kind", "occurrence"])
            .returning(nonconformity.c.nonconformity_id)
        )
        if (await conn.execute(statement)).first() is None:
            continue
        opened.append(breach)
        await conn.execute(
            nonconformity_audit.insert().values(
                nonconformity_id=breach.nonconformity_id,
                seq=1,
                actor=SYSTEM_ACTOR,
                actor_role=SYSTEM_ROLE,
                action=OPENED,
                from_state=None,
                to_state=State.OPEN.value,
                changes={},
                at=_utc(now),
            )
        )
    return opened


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Nonconformity:
    nonconformity_id: str
    dossier_id: str
    kind: BreachKind
    occurrence: str
    leg: str | None
    responsible: Responsible
    responsible_code: str
    province: str
    procedure_code: str | None
    rule_set: str
    article: str
    facts: dict[str, Any]
    detected_at: datetime
    opened_at: datetime
    state: State
    texts: dict[Text, str | None]
    closed_at: datetime | None
    version: int
    updated_at: datetime


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    actor: str
    actor_role: str
    action: str
    from_state: State | None
    to_state: State
    changes: dict[str, Any]
    at: datetime


def _of(row: Any) -> Nonconformity:
    return Nonconformity(
        nonconformity_id=row.nonconformity_id,
        dossier_id=row.dossier_id,
        kind=BreachKind(row.kind),
        occurrence=row.occurrence,
        leg=row.leg,
        responsible=Responsible(row.responsible_kind),
        responsible_code=row.responsible_code,
        province=row.province,
        procedure_code=row.procedure_code,
        rule_set=row.rule_set,
        article=row.article,
        facts=dict(row.facts),
        detected_at=_read(row.detected_at) or row.detected_at,
        opened_at=_read(row.opened_at) or row.opened_at,
        state=State(row.state),
        texts={text: getattr(row, text.value) for text in Text},
        closed_at=_read(row.closed_at),
        version=row.version,
        updated_at=_read(row.updated_at) or row.updated_at,
    )


def visible_to(caller: Principal) -> ColumnElement[bool]:
    """What a caller may read: an operator every nonconformity; an agency or a post office those it is
    the responsible unit of (the read rule of services/turnaround/quality/scopes.py)."""
    if caller.role is Role.OPERATOR:
        return true()
    if caller.role is Role.AGENCY and caller.agency is not None:
        return and_(
            nonconformity.c.responsible_kind == Responsible.AGENCY.value,
            nonconformity.c.responsible_code == caller.agency,
        )
    if caller.role is Role.POST_OFFICE and caller.post_office is not None:
        return and_(
            nonconformity.c.responsible_kind == Responsible.POST_OFFICE.value,
            nonconformity.c.responsible_code == caller.post_office,
        )
    return ~true()


@dataclass(frozen=True)
class Filters:
    state: State | None = None
    kind: BreachKind | None = None
    responsible: Responsible | None = None
    responsible_code: str | None = None
    dossier_id: str | None = None


async def listed(
    conn: AsyncConnection, caller: Principal, filters: Filters, limit: int
) -> list[Nonconformity]:
    """The latest nonconformities (by when the breach happened) the caller may read, filtered."""
    conditions: list[ColumnElement[bool]] = [visible_to(caller)]
    if filters.state is not None:
        conditions.append(nonconformity.c.state == filters.state.value)
    if filters.kind is not None:
        conditions.append(nonconformity.c.kind == filters.kind.value)
    if filters.responsible is not None:
        conditions.append(nonconformity.c.responsible_kind == filters.responsible.value)
    if filters.responsible_code is not None:
        conditions.append(nonconformity.c.responsible_code == filters.responsible_code)
    if filters.dossier_id is not None:
        conditions.append(nonconformity.c.dossier_id == filters.dossier_id)
    rows = await conn.execute(
        select(nonconformity)
        .where(*conditions)
        .order_by(nonconformity.c.detected_at.desc(), nonconformity.c.nonconformity_id)
        .limit(limit)
    )
    return [_of(row) for row in rows]


async def one(
    conn: AsyncConnection, caller: Principal, nonconformity_id: str, *, lock: bool = False
) -> Nonconformity | None:
    """The nonconformity if the caller may read it; None for an unknown one or one out of scope alike."""
    statement = select(nonconformity).where(
        nonconformity.c.nonconformity_id == nonconformity_id, visible_to(caller)
    )
    row = (await conn.execute(statement.with_for_update() if lock else statement)).first()
    return _of(row) if row is not None else None


async def audit_of(conn: AsyncConnection, nonconformity_id: str) -> list[AuditEntry]:
    rows = await conn.execute(
        select(nonconformity_audit)
        .where(nonconformity_audit.c.nonconformity_id == nonconformity_id)
        .order_by(nonconformity_audit.c.seq)
    )
    return [
        AuditEntry(
            seq=row.seq,
            actor=row.actor,
            actor_role=row.actor_role,
            action=row.action,
            from_state=State(row.from_state) if row.from_state is not None else None,
            to_state=State(row.to_state),
            changes=dict(row.changes),
            at=_read(row.at) or row.at,
        )
        for row in rows
    ]


# --------------------------------------------------------------------------- a step


async def record_step(
    conn: AsyncConnection,
    nonconformity_id: str,
    change: Change,
    action: Action,
    caller: Principal,
    now: datetime,
) -> None:
    """Store a step checked on the locked row (nonconformities.step), and its audit row."""
    values: dict[str, Any] = {text.value: value for text, value in change.texts.items()}
    values |= {"state": change.target.value, "version": change.version, "updated_at": _utc(now)}
    if change.target is State.CLOSED:
        values["closed_at"] = _utc(now)
    await conn.execute(
        nonconformity.update()
        .where(
            nonconformity.c.nonconformity_id == nonconformity_id,
            nonconformity.c.version == change.version - 1,
        )
        .values(**values)
    )
    seq = await conn.scalar(
        select(func.coalesce(func.max(nonconformity_audit.c.seq), 0)).where(
            nonconformity_audit.c.nonconformity_id == nonconformity_id
        )
    )
    await conn.execute(
        nonconformity_audit.insert().values(
            nonconformity_id=nonconformity_id,
            seq=int(seq or 0) + 1,
            actor=caller.subject,
            actor_role=caller.role.value,
            action=action.value,
            from_state=change.source.value,
            to_state=change.target.value,
            changes={text.value: value for text, value in change.texts.items()},
            at=_utc(now),
        )
    )

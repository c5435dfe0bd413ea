"""Use cases of the tracker's lookups: the public lookup by reference and phone digits, and what staff
may see and list (the projection is written by services.tracker.handlers.Projector)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.shared.auth import Principal, Role
from services.shared.personal_data.phone_check import PhoneDigest
from services.tracker.adapters import repository
from services.tracker.adapters.lookup_budget import LookupBudget
from services.tracker.adapters.repository import DossierFilter, Position
from services.tracker.domain import AgencyDuePolicy, AnomalyReason, DossierView, PartyKind, Step, fold


def matching_dossier(rows: Sequence[Row[Any]], last4: str, digest: PhoneDigest) -> Row[Any] | None:
    """The dossier a reference and the phone's last four digits point to (the latest if several)."""
    found = [
        row
        for row in rows
        if row.phone_digest and row.stage and digest.matches(row.dossier_id, last4, row.phone_digest)
    ]
    return max(
        found,
        key=lambda row: repository.utc(row.last_event_at) or datetime.min.replace(tzinfo=UTC),
        default=None,
    )


@dataclass(frozen=True)
class PublicAnswer:
    row: Row[Any] | None
    """The dossier the reference and digits point to; None: no such dossier (a failed lookup)."""
    retry_after: int | None = None
    """Set when the lookup was refused because a budget of failed lookups is used up."""


def budgets_of(client: str, ref: str, rows: Sequence[Row[Any]]) -> list[str]:
    """The budgets a lookup draws on: its client's, and every dossier's the reference leads to (so all the
    references of a dossier share one), or the reference's own when it leads to none (so guessing
    references is limited too, whichever clients guess)."""
    targets = [f"dossier:{row.dossier_id}" for row in rows] or [f"reference:{ref}"]
    return [f"client:{client}", *targets]


async def public_lookup(
    engine: AsyncEngine, ref: str, last4: str, client: str, digest: PhoneDigest, budget: LookupBudget
) -> PublicAnswer:
    """The dossier a reference and the phone's last four digits point to, within the budgets of failed
    lookups. Only a failed lookup spends them: a refused one and a successful one give their unit back."""
    async with engine.connect() as conn:
        rows = await repository.dossiers_by_reference(conn, ref)
    reservation = await budget.reserve(budgets_of(client, ref, rows))
    if reservation.retry_after is not None:
        await budget.give_back(reservation)
        return PublicAnswer(None, reservation.retry_after)
    row = matching_dossier(rows, last4, digest)
    if row is not None:
        await budget.give_back(reservation)
    return PublicAnswer(row)


async def public_history(engine: AsyncEngine, dossier_id: str, due: AgencyDuePolicy) -> list[Step]:
    """The ordered steps of a dossier the public lookup found, for the tracking page's timeline (its
    entries hold no personal data: the history is stored without it)."""
    async with engine.connect() as conn:
        history = await repository.history_of(conn, dossier_id)
    return list(fold(dossier_id, history, due).steps)


async def may_see(conn: AsyncConnection, principal: Principal, row: Row[Any]) -> bool:
    """Operators see every dossier; an agency the dossiers addressed to it or that it handled; a post
    office the dossiers it handled (accepted, carried, handed over, picked up, delivered, returned)."""
    if principal.role is Role.OPERATOR:
        return True
    if principal.role is Role.AGENCY and principal.agency is not None:
        if row.agency_code == principal.agency:
            return True
        return await repository.is_party(conn, row.dossier_id, PartyKind.AGENCY, principal.agency)
    if principal.role is Role.POST_OFFICE and principal.post_office is not None:
        return await repository.is_party(conn, row.dossier_id, PartyKind.POST_OFFICE, principal.post_office)
    return False


@dataclass(frozen=True)
class DossierDetail:
    row: Row[Any]
    view: DossierView
    parties: list[tuple[str, str]]
    references: list[tuple[str, str]]


async def dossier_detail(
    conn: AsyncConnection, dossier_id: str, principal: Principal, due: AgencyDuePolicy
) -> DossierDetail | None:
    """The dossier with its history, or None when it is unknown or outside the principal's scope."""
    row = await repository.get_dossier(conn, dossier_id)
    if row is None or not await may_see(conn, principal, row):
        return None
    history = await repository.history_of(conn, dossier_id)
    return DossierDetail(
        row=row,
        view=fold(dossier_id, history, due),
        parties=await repository.parties_of(conn, dossier_id),
        references=await repository.references_of(conn, dossier_id),
    )


class OutOfScopeError(Exception):
    """The principal asked for dossiers outside its scope."""


def scoped(where: DossierFilter, principal: Principal) -> DossierFilter:
    """The filter restricted to what the principal may list."""
    if principal.role is Role.OPERATOR:
        return where
    if principal.role is Role.AGENCY:
        if where.agency is not None and where.agency != principal.agency:
            raise OutOfScopeError("an agency's officers list only the dossiers addressed to their agency")
        return replace(where, scope_agency=principal.agency)
    if principal.role is Role.POST_OFFICE:
        return replace(where, scope_post_office=principal.post_office)
    raise OutOfScopeError("this credential may not list dossiers")


async def list_dossiers(
    conn: AsyncConnection, where: DossierFilter, principal: Principal, after: Position | None, limit: int
) -> list[Row[Any]]:
    return await repository.list_dossiers(conn, scoped(where, principal), after, limit)


async def list_anomalies(
    conn: AsyncConnection, reason: AnomalyReason | None, after: tuple[datetime, str] | None, limit: int
) -> list[Row[Any]]:
    return await repository.list_anomalies(conn, reason.value if reason else None, after, limit)

"""Read-only HTTP API: a dossier's clocks. Dates, states and codes only — no personal data."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.enums import Leg
from contracts.values import parse_dossier_id
from services.shared.http import ProblemError
from services.turnaround.adapters import repository
from services.turnaround.domain import ClockState, Timeliness

router = APIRouter()


class ClockView(BaseModel):
    leg: Leg
    generation: int
    state: ClockState
    started_at: datetime
    start_day: date
    due_date: date | None
    finished_at: datetime | None
    working_days: int | None
    timeliness: Timeliness | None


class DossierClocks(BaseModel):
    dossier_id: str
    clocks: list[ClockView]


@router.get("/dossiers/{dossier_id}/clocks", response_model=DossierClocks)
async def dossier_clocks(request: Request, dossier_id: Annotated[str, Path(max_length=36)]) -> DossierClocks:
    """The legal clocks of a dossier: due dates, state and, once finished, timeliness."""
    try:
        dossier_id = parse_dossier_id(dossier_id)
    except ValueError as exc:
        raise ProblemError(422, "invalid_dossier_id", str(exc)) from None
    engine: AsyncEngine = request.app.state.engine
    async with engine.connect() as conn:
        clocks = await repository.clocks_of_dossier(conn, dossier_id)
    if not clocks:
        raise ProblemError(404, "not_found", "no clock of this dossier is known")
    return DossierClocks(
        dossier_id=dossier_id,
        clocks=[
            ClockView(
                leg=c.leg,
                generation=c.generation,
                state=c.state,
                started_at=c.started_at,
                start_day=c.start_day,
                due_date=c.due_date,
                finished_at=c.finished_at,
                working_days=c.working_days,
                timeliness=c.timeliness,
            )
            for c in clocks
        ],
    )

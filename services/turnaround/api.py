"""Read-only HTTP API: a dossier's clocks. Dates, states and codes only — no personal data.

Staff only, in scope, like the tracker's staff lookup: an operator sees every dossier, an agency the
dossiers addressed to it, a post office the dossiers it accepted, handed over or picked the result up
for. A dossier out of the caller's scope is answered like an unknown one (404), so a dossier id — derived
from an item id anyone can read off a parcel — reveals nothing.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.enums import Leg
from contracts.values import AwareTime, parse_dossier_id
from services.shared.auth import Principal
from services.shared.auth.access import NOT_STAFF_DOC
from services.shared.auth.authenticator import Authenticator
from services.shared.auth.scopes import may_read_dossier
from services.shared.http import ProblemError, authenticated, problem_response, staff
from services.turnaround.adapters import repository
from services.turnaround.domain import ClockState, Facts, Timeliness

router = APIRouter()

bearer = HTTPBearer(
    auto_error=False,
    description="A credential issued by `dossier-credentials issue` (post office, agency or operator; a "
    "notifier credential, the notifications service's, is refused: it only reads contacts).",
)


async def principal(
    request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    authenticator: Authenticator = request.app.state.authenticator
    return staff(await authenticated(authenticator, request))


Caller = Annotated[Principal, Depends(principal)]


def may_see(caller: Principal, facts: Facts) -> bool:
    handled = {facts.accepting_post_office, facts.handover_post_office, facts.pickup_post_office}
    return may_read_dossier(caller, agency_code=facts.agency_code, post_offices=handled)


class ClockView(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    leg: Leg
    generation: int
    """Starts at 1; a supplement request restarts the agency clock as a new generation."""
    state: ClockState
    started_at: AwareTime
    """When the clock started."""
    start_day: date
    """Day J, the day the working days count from."""
    due_date: date | None
    finished_at: AwareTime | None
    """When the clock stopped, once finished or cancelled."""
    working_days: int | None
    """Working days taken, once finished."""
    timeliness: Timeliness | None


class DossierClocks(BaseModel):
    dossier_id: str
    clocks: list[ClockView]


REFUSALS: dict[int | str, dict[str, Any]] = {
    401: problem_response(
        "No valid bearer credential (missing, malformed, expired or revoked): `unauthenticated`.",
        {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}},
    ),
    403: problem_response(f"`forbidden`: {NOT_STAFF_DOC}; staff only."),
    404: problem_response(
        "No clock of this dossier, or the dossier is outside the caller's scope: `not_found`."
    ),
    422: problem_response(
        "The dossier id is not a lower-case UUID: `invalid_dossier_id` or `invalid_request`."
    ),
    503: problem_response(
        "The database did not answer: `database_unavailable`. Retry after Retry-After seconds.",
        {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}},
    ),
}


@router.get("/dossiers/{dossier_id}/clocks", response_model=DossierClocks, responses=REFUSALS)
async def dossier_clocks(
    request: Request, caller: Caller, dossier_id: Annotated[str, Path(max_length=36)]
) -> DossierClocks:
    """The legal clocks of a dossier: due dates, state and, once finished, timeliness."""
    try:
        dossier_id = parse_dossier_id(dossier_id)
    except ValueError as exc:
        raise ProblemError(422, "invalid_dossier_id", str(exc)) from None
    engine: AsyncEngine = request.app.state.engine
    async with engine.connect() as conn:
        facts = await repository.facts_of(conn, dossier_id)
        clocks = await repository.clocks_of_dossier(conn, dossier_id) if facts is not None else []
    if not clocks or facts is None or not may_see(caller, facts):
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

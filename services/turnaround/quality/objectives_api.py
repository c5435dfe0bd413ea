"""HTTP API of the quality objectives: which objectives a caller may read, and their measurement.

Staff only. A caller reads the objectives whose scope it may read (scopes.may_read: an operator every
one, an agency its own agency's, a post office its own office's); an objective out of its scope is
answered like an unknown one (404), so the list of objectives of other units is not revealed.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.enums import Leg
from services.shared.calendar import to_vietnam_time
from services.shared.http import ProblemError, problem_response
from services.turnaround.api import REFUSALS, Caller
from services.turnaround.quality.measurement import Direction, Status
from services.turnaround.quality.objective_figures import PeriodMeasurement, measure
from services.turnaround.quality.objectives import Comparison, Measure, Objective, Objectives
from services.turnaround.quality.periods import Period, PeriodError, PeriodKind
from services.turnaround.quality.scopes import Scope, ScopeError, ScopeKind, may_read

router = APIRouter(prefix="/quality/objectives", tags=["quality"])


class ScopeView(BaseModel):
    kind: ScopeKind
    code: str | None
    """The province key, agency code or post office code; null for the national scope."""


class TargetView(BaseModel):
    comparison: Comparison
    value: float
    """A percent for a share, a count for a count."""


class ObjectiveView(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    id: str
    title: str
    scope: ScopeView
    measure: Measure
    leg: Leg | None
    """The clock measured (on_time_share)."""
    nonconformity_kind: str | None
    """The nonconformities counted (nonconformity_count)."""
    procedure_code: str | None
    target: TargetView
    period: PeriodKind
    owner: str
    source: str


class ObjectiveList(BaseModel):
    objectives: list[ObjectiveView]


class PeriodFigures(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    period: str
    first_day: date
    last_day: date
    numerator: int
    """Clocks finished early or on time (a share), or the nonconformities counted (a count)."""
    denominator: int | None
    """Clocks finished in the period (a share); null for a count."""
    value: float | None
    """Percent with two decimals, rounded down (a share), or the count; null when not measurable."""
    status: Status
    """met, not_met, or not_measurable (a share of a period in which no clock finished)."""


class Trend(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    direction: Direction
    """Against the most recent earlier period that was measurable."""
    previous: list[PeriodFigures]
    """The earlier periods of the same kind, most recent first."""


class MeasurementView(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    objective: ObjectiveView
    measured_scope: ScopeView
    """The scope measured: the objective's own, or the narrower one asked for (``scope`` and ``code``)."""
    measured: PeriodFigures
    ended: bool
    """Whether the period is over (Vietnam day); a running period's figures still grow."""
    trend: Trend


def objective_view(objective: Objective) -> ObjectiveView:
    return ObjectiveView(
        id=objective.id,
        title=objective.title,
        scope=ScopeView(kind=objective.scope.kind, code=objective.scope.code or None),
        measure=objective.measure,
        leg=objective.leg,
        nonconformity_kind=objective.nonconformity_kind,
        procedure_code=objective.procedure_code,
        target=TargetView(comparison=objective.comparison, value=float(objective.target)),
        period=objective.period,
        owner=objective.owner,
        source=objective.source,
    )


def _figures(measured: PeriodMeasurement) -> PeriodFigures:
    period = measured.period
    return PeriodFigures(
        period=period.name,
        first_day=period.first_day,
        last_day=period.end_day - timedelta(days=1),
        numerator=measured.figures.numerator,
        denominator=measured.figures.denominator,
        value=None if measured.value is None else float(measured.value),
        status=measured.status,
    )


def _objectives(request: Request) -> Objectives:
    objectives: Objectives = request.app.state.objectives
    return objectives


_INVALID_PERIOD = (
    "the period is not a month (2026-07), quarter (2026-Q3), half-year (2026-H2) or year (2026) "
    "between 2000 and 2999"
)
_NOT_FOUND = "no objective with this id is known"
_AUTH: dict[int | str, dict[str, Any]] = {k: v for k, v in REFUSALS.items() if k in (401, 403, 503)}


def _measured_scope(objective: Objective, kind: str | None, code: str | None) -> Scope:
    """The scope to measure: the objective's own, or within a national objective one the caller reads."""
    if kind is None and code is None:
        return objective.scope
    try:
        scope = Scope.parse(kind or "", code)
    except ScopeError as exc:
        raise ProblemError(422, "invalid_scope", str(exc)) from None
    if scope != objective.scope and objective.scope.kind is not ScopeKind.NATIONAL:
        raise ProblemError(422, "invalid_scope", "only a national objective is measured on a narrower scope")
    # Whoever may read a national objective (an operator) may read every scope within it.
    return scope


@router.get("", response_model=ObjectiveList, responses=_AUTH)
async def list_objectives(request: Request, caller: Caller) -> ObjectiveList:
    """The quality objectives the caller may read: an operator every one, a unit its own."""
    return ObjectiveList(
        objectives=[objective_view(o) for o in _objectives(request) if may_read(caller, o.scope)]
    )


@router.get(
    "/{objective_id}/measurements",
    response_model=MeasurementView,
    responses={
        **_AUTH,
        404: problem_response("No such objective, or it is outside the caller's scope: `not_found`."),
        422: problem_response(
            "The period is malformed or out of range (`invalid_period`), the scope is malformed or not "
            "within the objective's (`invalid_scope`), or another parameter is (`invalid_request`)."
        ),
    },
)
async def objective_measurements(
    request: Request,
    caller: Caller,
    objective_id: Annotated[str, Path(max_length=64)],
    period: Annotated[
        str, Query(max_length=16, description="2026-07 (month), 2026-Q3, 2026-H2 or 2026 (year).")
    ],
    trend: Annotated[
        int, Query(ge=0, le=12, description="How many earlier periods of the same kind to compare.")
    ] = 4,
    scope: Annotated[
        str | None,
        Query(
            max_length=16, description="Measure a national objective on one province, agency or post office."
        ),
    ] = None,
    code: Annotated[str | None, Query(max_length=32, description="The code of that scope.")] = None,
) -> MeasurementView:
    """The objective measured in a period, with the counts behind the value and the trend against the
    earlier periods of the same kind. A national objective can be measured on a narrower scope the
    caller may read (an operator's drill-down: the same target, the unit's own figures)."""
    objective = _objectives(request).get(objective_id)
    if objective is None or not may_read(caller, objective.scope):
        raise ProblemError(404, "not_found", _NOT_FOUND)
    try:
        measured_period = Period.parse(period)
    except PeriodError:
        raise ProblemError(422, "invalid_period", _INVALID_PERIOD) from None
    measured = _measured_scope(objective, scope, code)
    engine: AsyncEngine = request.app.state.engine
    async with engine.connect() as conn:
        measurement = await measure(conn, replace(objective, scope=measured), measured_period, trend)
    now: datetime = request.app.state.quality_now()
    return MeasurementView(
        objective=objective_view(objective),
        measured_scope=ScopeView(kind=measured.kind, code=measured.code or None),
        measured=_figures(measurement.current),
        ended=measured_period.ended_by(to_vietnam_time(now).date()),
        trend=Trend(direction=measurement.direction, previous=[_figures(p) for p in measurement.previous]),
    )

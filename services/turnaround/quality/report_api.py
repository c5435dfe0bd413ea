"""GET /quality/reports/{period}: the periodic report of a period and scope, as JSON, CSV, XLSX or PDF.

Staff only. The scope is ``scope`` (national, province, agency, post_office) and ``code``; without them,
the caller's own (an operator the nation, an agency or a post office itself). Authorisation is
scopes.may_read: an agency reads its own reports, a post office its own, an operator all. A scope outside
the caller's is refused with 403 `forbidden`, not hidden as 404: the units a report is about (provinces,
agencies by their published codes, post offices by their postal codes) are public, so a refusal reveals
nothing, and a 403 tells the caller it asked outside its scope rather than that no such report exists.

An ended period's report is generated once and served as stored; a period not yet ended is counted live
and not stored — the JSON says which in ``status`` and every answer in the header ``Report-Status``.
The router's lifespan runs the reports' schedule (report_schedule.py) beside the service's own loops.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from services.shared.auth.access import NOT_STAFF_DOC
from services.shared.calendar import to_vietnam_time
from services.shared.http import ProblemError, problem_response
from services.turnaround.api import REFUSALS, Caller
from services.turnaround.quality.periods import Period, PeriodError
from services.turnaround.quality.report_archive import Now, Trigger, report_of
from services.turnaround.quality.report_formats import FILES, Format, file_name
from services.turnaround.quality.report_schedule import ReportSchedule, plan_of
from services.turnaround.quality.reports import Report
from services.turnaround.quality.scopes import Scope, ScopeError, may_read, own_scope

REPORT_REFUSALS: dict[int | str, dict[str, Any]] = {
    401: REFUSALS[401],
    403: problem_response(
        f"The scope is not the caller's own (operators read every scope), or {NOT_STAFF_DOC}: `forbidden`."
    ),
    422: problem_response(
        "A period that is not a month, quarter, half-year or year, or has not started (`invalid_period`); "
        "a scope that is unknown or lacks its code (`invalid_scope`); a format other than json, csv, "
        "xlsx or pdf (`invalid_format`); or a parameter too long (`invalid_request`)."
    ),
    503: REFUSALS[503],
}

_FILE_CONTENT: dict[str, Any] = {
    "text/csv": {"schema": {"type": "string"}},
    FILES[Format.XLSX].media_type: {"schema": {"type": "string", "format": "binary"}},
    "application/pdf": {"schema": {"type": "string", "format": "binary"}},
}


def procedure_names(request: Request) -> dict[str, str]:
    catalog = request.app.state.turnaround.rules.catalog
    return {procedure.code: procedure.name for procedure in catalog}


def _scope_of(caller: Caller, kind: str | None, code: str | None) -> Scope:
    if kind is None:
        if code is not None:
            raise ProblemError(422, "invalid_scope", "a code needs its scope (province, agency, post_office)")
        return own_scope(caller)
    try:
        return Scope.parse(kind, code)
    except ScopeError as exc:
        raise ProblemError(422, "invalid_scope", str(exc)) from None


def reports_router(now: Now) -> APIRouter:
    """The reports' route and, in its lifespan, their schedule; ``now`` is the service's time source."""

    @contextlib.asynccontextmanager
    async def schedule(app: FastAPI) -> AsyncIterator[None]:
        service = app.state.turnaround
        settings = service.settings
        provinces = settings.quality_report_provinces
        plan = plan_of(
            settings.quality_report_periods,
            service.rules.provinces.keys() if provinces is None else provinces,
        )
        names = {procedure.code: procedure.name for procedure in service.rules.catalog}
        runner = ReportSchedule(
            service.engine, plan, now, names, interval_s=settings.quality_report_interval_s
        )
        task = asyncio.create_task(runner.run(), name="quality-reports")
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    router = APIRouter(lifespan=schedule, tags=["quality"])

    @router.get(
        "/quality/reports/{period}",
        response_model=Report,
        responses={200: {"content": _FILE_CONTENT}, **REPORT_REFUSALS},
    )
    async def quality_report(
        request: Request,
        caller: Caller,
        period: Annotated[str, Path(max_length=8, description="2026-07, 2026-Q3, 2026-H2 or 2026.")],
        scope: Annotated[
            str | None, Query(max_length=16, description="national, province, agency or post_office.")
        ] = None,
        code: Annotated[
            str | None, Query(max_length=32, description="The province, agency or post office.")
        ] = None,
        format: Annotated[str, Query(max_length=8, description="json, csv, xlsx or pdf.")] = "json",
    ) -> Response:
        """The periodic report of a period and scope: dossiers received by post, resolved early, on time
        and late, returned, pending and overdue at period end, results returned by post, the top late
        procedures and the nonconformities opened and closed. Final (stored once) for an ended period,
        provisional (counted live, not stored) for the running one."""
        try:
            wanted = Period.parse(period)
        except PeriodError as exc:
            raise ProblemError(422, "invalid_period", str(exc)) from None
        moment = now()
        if to_vietnam_time(moment).date() < wanted.first_day:
            raise ProblemError(422, "invalid_period", f"period {wanted} has not started")
        try:
            fmt = Format(format)
        except ValueError:
            raise ProblemError(422, "invalid_format", "format is one of json, csv, xlsx, pdf") from None
        unit = _scope_of(caller, scope, code)
        if not may_read(caller, unit):
            raise ProblemError(403, "forbidden", "this report's scope is not the caller's own")
        made = await report_of(
            request.app.state.engine, wanted, unit, procedure_names(request), moment, Trigger.ON_DEMAND
        )
        headers = {"Report-Status": made.status.value}
        if fmt is Format.JSON:
            return Response(made.model_dump_json(), media_type="application/json", headers=headers)
        target = FILES[fmt]
        body = await run_in_threadpool(target.render, made)  # rendering a PDF takes a CPU moment
        headers["Content-Disposition"] = f'attachment; filename="{file_name(made, fmt)}"'
        return Response(body, media_type=target.media_type, headers=headers)

    return router

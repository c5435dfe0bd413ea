"""The tracker's HTTP API: a public lookup for citizens and staff lookups for post offices, agencies and
operators. Thin: parse, authorise, call one handler, shape the answer. Errors are problem details.

Public lookup: ``GET /public/dossiers/{reference}?phone_last4=`` with an item id (or, for a dossier filed
at the agency, its agency dossier code) and the last four digits of the applicant's phone. It answers
the stage, dates, the expected date and office names — never personal data, never staff ids. A wrong
pair gets the same 404 as an unknown reference, so it cannot tell whether a reference exists. Four
digits are only 10,000 possibilities, so failed lookups are limited per client and per dossier (all its
references share one budget; a reference that leads to no dossier has its own) in a fixed window (429 with
Retry-After until the window ends). The budgets are kept in the database: every replica and a restarted
one see the same.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.openapi.utils import get_openapi
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.enums import Stage
from contracts.values import parse_agency_code, parse_agency_dossier_code
from services.shared import cursors
from services.shared.auth import REFUSAL_DOC, Principal, Role
from services.shared.auth.access import NOT_STAFF_DOC
from services.shared.auth.authenticator import Authenticator
from services.shared.cursors import CursorSigner
from services.shared.http import (
    ProblemError,
    authenticated,
    checked_item_id,
    looks_like_item_id,
    parameter_error,
    staff,
)
from services.shared.legal_rules import LegalRules, default_legal_rules
from services.tracker import lookups
from services.tracker.adapters.lookup_budget import LookupBudget
from services.tracker.adapters.repository import DossierFilter, utc
from services.tracker.answers import (
    AnomalyPage,
    DossierDetailOut,
    DossierPage,
    DossierSummary,
    OfficeDirectory,
    Problem,
    PublicDossier,
    anomaly_row,
    detail_of,
    public_of,
    summary_fields,
)
from services.tracker.domain import AgencyDuePolicy, AnomalyReason
from services.tracker.handlers import PhoneDigest
from services.tracker.metrics import TrackerMetrics

API_TITLE = "Dossier tracker"
API_VERSION = "1.0.0"

UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
S10_PATTERN = r"[A-Za-z]{2}[0-9]{9}[A-Za-z]{2}"
AGENCY_CODE_PATTERN = r"[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Za-z][0-9]{2}"
AGENCY_DOSSIER_CODE_PATTERN = AGENCY_CODE_PATTERN + r"-[0-9]{6}-[0-9]{4}"
REFERENCE_PATTERN = rf"^({S10_PATTERN}|{AGENCY_DOSSIER_CODE_PATTERN})$"
PHONE_LAST4_PATTERN = r"^[0-9]{4}$"


# --------------------------------------------------------------------------- collaborators


@dataclass
class ApiContext:
    engine: AsyncEngine
    authenticator: Authenticator
    digest: PhoneDigest
    due: AgencyDuePolicy
    budget: LookupBudget
    cursors: CursorSigner
    directory: OfficeDirectory
    metrics: TrackerMetrics
    today: Callable[[], date]
    # The on-time formula of each day; the deployment's cut-off override does not change it.
    legal: LegalRules = field(default_factory=default_legal_rules)


# --------------------------------------------------------------------------- cursors


# Each list's cursors hold its sort value and the id that breaks ties, under the list's kind: "recent"
# (last event time, dossier id), "due" (due date, dossier id), "anomaly" (occurrence time, event id).


def encode_cursor(signer: CursorSigner, kind: str, value: date | datetime, key: str) -> str:
    return signer.encode(kind, [value.isoformat(), key])


def decode_cursor(signer: CursorSigner, cursor: str, kind: str) -> tuple[Any, str]:
    value, key = signer.decode(cursor, kind, 2)
    return (cursors.day(value) if kind == "due" else cursors.moment(value)), cursors.uuid_key(key)


CursorParam = Annotated[
    str | None,
    Query(
        max_length=cursors.MAX_CURSOR_CHARS,
        pattern=cursors.CURSOR_PATTERN,
        description="The next_cursor of the previous page, unchanged (it is signed); any other value is "
        "refused with 400 invalid_cursor.",
    ),
]


# --------------------------------------------------------------------------- routes

_DESCRIPTIONS = {
    400: "invalid_cursor: the cursor is not one this list handed out (edited, forged, from another list, "
    "or signed with a key since changed); start again from the first page.",
    401: REFUSAL_DOC,
    403: "The credential's role may not use this endpoint (`forbidden`: " + NOT_STAFF_DOC + " on every "
    "staff endpoint), or asked outside its scope.",
    404: "Unknown, or outside the credential's scope (the two are not told apart).",
    422: "A parameter does not match its schema (`invalid_request`, with `errors`). A wrong item id has a "
    "reason of its own, with a sentence in `detail`: `item_id_length`, `item_id_service_indicator`, "
    "`item_id_serial`, `item_id_check_digit`, `item_id_country_code` (when it is the only problem); an "
    "agency dossier code of the right shape that is not one, `invalid_reference`.",
    429: "too_many_failed_lookups: the failed lookups allowed for this dossier (or unknown reference) or "
    "from this client in one window are used up; Retry-After says when the window ends.",
    503: "The database is not available; retry later.",
}


_HEADERS = {
    401: {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
    503: {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {
        code: {
            "model": Problem,
            "description": _DESCRIPTIONS[code],
            **({"headers": _HEADERS[code]} if code in _HEADERS else {}),
        }
        for code in codes
    }


bearer = HTTPBearer(
    auto_error=False,
    description="A credential issued by `dossier-credentials issue` (post office, agency or operator; a "
    "notifier credential, the notifications service's, is refused: it only reads contacts).",
)


_REFERENCE = re.compile(REFERENCE_PATTERN)


def normalised_reference(text: str, loc: tuple[str, str]) -> str:
    """An item id or agency dossier code in canonical form. A wrong item id answers 422 with its own
    reason (item_id_check_digit, …); anything of neither shape, invalid_request; an agency dossier code
    of the right shape that is not one (a date that does not exist), invalid_reference."""
    if looks_like_item_id(text):
        return checked_item_id(text, loc)
    if not _REFERENCE.fullmatch(text):
        raise parameter_error(
            loc, "string_pattern_mismatch", f"String should match pattern '{REFERENCE_PATTERN}'"
        )
    try:
        return parse_agency_dossier_code(text)
    except ValueError as exc:
        raise ProblemError(422, "invalid_reference", str(exc)) from None


async def context(request: Request) -> ApiContext:
    # async: FastAPI runs a plain function dependency in a worker thread, a hop per request.
    found: ApiContext = request.app.state.tracker
    return found


Context = Annotated[ApiContext, Depends(context)]


async def principal(
    request: Request,
    ctx: Context,
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    return staff(await authenticated(ctx.authenticator, request))


Caller = Annotated[Principal, Depends(principal)]

router = APIRouter()


def install(app: FastAPI, ctx: ApiContext) -> None:
    app.state.tracker = ctx
    app.include_router(router)
    app.openapi = problem_json_openapi(app)  # type: ignore[method-assign]


@router.get(
    "/public/dossiers/{reference}",
    response_model=PublicDossier,
    responses=problems(404, 422, 429, 503),
    tags=["public"],
    summary="Where is my dossier? (citizens, no login)",
)
async def public_lookup(
    ctx: Context,
    request: Request,
    reference: Annotated[
        str,
        PathParam(
            # Documented, checked by normalised_reference: a mistyped item id is refused for what is
            # wrong with it rather than as a bare pattern mismatch.
            json_schema_extra={"pattern": REFERENCE_PATTERN},
            description="The item id on the dossier slip (S10, e.g. EB123456785VN), the result's item id, "
            "or the agency dossier code on the appointment slip.",
        ),
    ],
    phone_last4: Annotated[
        str, Query(pattern=PHONE_LAST4_PATTERN, description="The last four digits of the applicant's phone.")
    ],
) -> PublicDossier:
    ref = normalised_reference(reference, ("path", "reference"))
    row = await find_public_dossier(ctx, request, ref, phone_last4)
    return public_of(row, ref, ctx.directory, ctx.today())


async def find_public_dossier(ctx: ApiContext, request: Request, ref: str, phone_last4: str) -> Row[Any]:
    """The one public lookup, shared by this API and the tracking page (services/tracker/page): the dossier
    a normalised reference and the phone's last four digits point to, within the budgets of failed lookups.
    Raises 429 too_many_failed_lookups (Retry-After) or 404 not_found, counted in the lookup metric."""
    # The peer address as Starlette gives it; which proxies may set it is the HTTP server's business.
    client = request.client.host if request.client else "unknown"
    answer = await lookups.public_lookup(ctx.engine, ref, phone_last4, client, ctx.digest, ctx.budget)
    if answer.retry_after is not None:
        ctx.metrics.public_lookups.labels("rate_limited").inc()
        raise ProblemError(
            429,
            "too_many_failed_lookups",
            "too many failed lookups; try again later",
            headers={"Retry-After": str(answer.retry_after)},
        )
    row = answer.row
    if row is None:
        ctx.metrics.public_lookups.labels("not_found").inc()
        raise ProblemError(404, "not_found", "no dossier matches this reference and phone number")
    ctx.metrics.public_lookups.labels("found").inc()
    return row


@router.get(
    "/dossiers/{dossier_id}",
    response_model=DossierDetailOut,
    responses=problems(401, 403, 404, 422, 503),
    tags=["staff"],
    summary="A dossier with its custody and full history",
)
async def get_dossier(
    ctx: Context,
    caller: Caller,
    dossier_id: Annotated[str, PathParam(pattern=UUID_PATTERN, description="The dossier id.")],
) -> DossierDetailOut:
    async with ctx.engine.connect() as conn:
        detail = await lookups.dossier_detail(conn, dossier_id, caller, ctx.due)
    if detail is None:
        raise ProblemError(404, "not_found", "no such dossier within this credential's scope")
    return detail_of(detail, ctx.today(), ctx.legal)


@router.get(
    "/dossiers",
    response_model=DossierPage,
    responses=problems(400, 401, 403, 422, 503),
    tags=["staff"],
    summary="Dossiers within the credential's scope, newest activity first (overdue: most overdue first)",
)
async def list_dossiers(
    ctx: Context,
    caller: Caller,
    agency: Annotated[
        str | None, Query(pattern=f"^{AGENCY_CODE_PATTERN}$", description="Addressed to this agency.")
    ] = None,
    procedure: Annotated[
        str | None, Query(pattern=r"^[0-9]\.[0-9]{6}$", description="For this procedure code.")
    ] = None,
    stage: Annotated[Stage | None, Query(description="In this stage.")] = None,
    overdue: Annotated[
        bool, Query(description="Only dossiers whose running leg is past its due date, most overdue first.")
    ] = False,
    reference: Annotated[
        str | None,
        Query(
            json_schema_extra={"pattern": REFERENCE_PATTERN},
            description="Holding this item id or agency dossier code.",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size.")] = 50,
    cursor: CursorParam = None,
) -> DossierPage:
    kind = "due" if overdue else "recent"
    after = decode_cursor(ctx.cursors, cursor, kind) if cursor else None
    today = ctx.today()
    where = DossierFilter(
        agency=parse_agency_code(agency) if agency else None,
        procedure=procedure,
        stage=stage,
        reference=normalised_reference(reference, ("query", "reference")) if reference else None,
        overdue_before=today if overdue else None,
    )
    try:
        async with ctx.engine.connect() as conn:
            rows = await lookups.list_dossiers(conn, where, caller, after, limit + 1)
    except lookups.OutOfScopeError as exc:
        raise ProblemError(403, "forbidden", str(exc)) from None
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        value: date | datetime | None = last.due_date if overdue else utc(last.last_event_at)
        assert value is not None  # the overdue list holds only dossiers with a due date
        next_cursor = encode_cursor(ctx.cursors, kind, value, last.dossier_id)
    return DossierPage(
        items=[DossierSummary(**summary_fields(row, today)) for row in page], next_cursor=next_cursor
    )


@router.get(
    "/anomalies",
    response_model=AnomalyPage,
    responses=problems(400, 401, 403, 422, 503),
    tags=["operators"],
    summary="Events that contradict the state machine, newest first (operators)",
)
async def list_anomalies(
    ctx: Context,
    caller: Caller,
    reason: Annotated[AnomalyReason | None, Query(description="Only this reason.")] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size.")] = 50,
    cursor: CursorParam = None,
) -> AnomalyPage:
    if caller.role is not Role.OPERATOR:
        raise ProblemError(403, "forbidden", "only operators list anomalies")
    after = decode_cursor(ctx.cursors, cursor, "anomaly") if cursor else None
    async with ctx.engine.connect() as conn:
        rows = await lookups.list_anomalies(conn, reason, after, limit + 1)
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        occurred = utc(page[-1].occurred_at)
        assert occurred is not None
        next_cursor = encode_cursor(ctx.cursors, "anomaly", occurred, page[-1].event_id)
    return AnomalyPage(
        items=[anomaly_row(row) for row in page],
        next_cursor=next_cursor,
    )


def problem_json_openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """The OpenAPI document, with error responses declared as application/problem+json."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            for operations in document.get("paths", {}).values():
                for operation in operations.values():
                    for status, response in operation.get("responses", {}).items():
                        content = response.get("content", {})
                        if int(status) >= 400 and "application/json" in content:
                            content["application/problem+json"] = content.pop("application/json")
            app.openapi_schema = document
        return app.openapi_schema

    return openapi

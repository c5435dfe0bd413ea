"""The nonconformity register for staff (ISO 9001:2015 cl. 10.2): list, read one with its audit trail,
and take it through open → analysed → action_taken → verified → closed.

Who sees what: an operator every nonconformity; an agency those it is responsible for; a post office
those it is responsible for (scopes.py's read rule). One out of the caller's scope is answered like an
unknown one (404). A step is refused 409 with its reason when it is out of order, lacks a required text,
carries a text of another step, or was made on a stale version (the client sends the version it read).
Each step appends an audit row: who (the credential's subject and role), from and to which state, the
texts recorded, when.

The texts are free texts, at most MAX_TEXT characters each, and must not hold personal data (the
applicant's name, phone, address or ID numbers): the register is kept for years and read by units that
never see the applicant; its facts already say which dossier it is.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.values import AwareTime, parse_dossier_id
from services.shared.auth import Principal, Role
from services.shared.auth.access import NOT_STAFF_DOC
from services.shared.http import ProblemError, problem_response
from services.turnaround.api import REFUSALS, Caller
from services.turnaround.quality import nonconformity_repository as register
from services.turnaround.quality.breaches import BreachKind, Responsible
from services.turnaround.quality.nonconformities import (
    MAX_TEXT,
    Action,
    State,
    StepRefusedError,
    Text,
    step,
)
from services.turnaround.quality.nonconformity_repository import AuditEntry, Filters, Nonconformity

router = APIRouter(prefix="/quality/nonconformities", tags=["quality"])

MAX_LIST = 500
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
UNIT_CODE_PATTERN = r"^[A-Za-z0-9._-]{1,32}$"


class NonconformityView(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    nonconformity_id: str
    dossier_id: str
    kind: BreachKind
    occurrence: str
    """Which notice, request, leg or result of the dossier the breach is about."""
    leg: str | None
    responsible_kind: Responsible
    responsible_code: str
    """The agency or post office code of the unit that must analyse it."""
    province: str
    procedure_code: str | None
    rule_set: str
    """The rule set in force on the day of the breach (deploy/rules, deploy/postal/breach_rules.yaml)."""
    article: str
    """The instrument and article the breach goes against."""
    facts: dict[str, Any]
    """Dates, codes and counts that show the breach; never personal data."""
    detected_at: AwareTime
    """When the breach happened (the time of the event that revealed it)."""
    opened_at: AwareTime
    state: State
    cause: str | None
    correction: str | None
    corrective_action: str | None
    verification: str | None
    closed_at: AwareTime | None
    version: int
    """Send it back with a step: a step on an older version is refused (409 stale_version)."""
    updated_at: AwareTime


class AuditView(BaseModel):
    seq: int
    actor: str
    actor_role: str
    action: str
    from_state: State | None
    to_state: State
    changes: dict[str, Any]
    at: AwareTime


class NonconformityDetail(NonconformityView):
    audit: list[AuditView]


class NonconformityList(BaseModel):
    items: list[NonconformityView]


class StepRequest(BaseModel):
    """A step of the nonconformity, with the texts it records. No personal data in the texts."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    action: Action
    version: int = Field(ge=1)
    """The version read: a step on an older one is refused (409 stale_version)."""
    cause: str | None = Field(default=None, max_length=MAX_TEXT)
    """analyse: why the breach happened."""
    correction: str | None = Field(default=None, max_length=MAX_TEXT)
    """take_action: what was done about this dossier."""
    corrective_action: str | None = Field(default=None, max_length=MAX_TEXT)
    """take_action: what was changed so that it does not happen again."""
    verification: str | None = Field(default=None, max_length=MAX_TEXT)
    """verify: how the corrective action was found effective."""

    def texts(self) -> dict[Text, str]:
        return {text: value for text in Text if (value := getattr(self, text.value)) is not None}


def _view(n: Nonconformity) -> dict[str, Any]:
    return {
        "nonconformity_id": n.nonconformity_id,
        "dossier_id": n.dossier_id,
        "kind": n.kind,
        "occurrence": n.occurrence,
        "leg": n.leg,
        "responsible_kind": n.responsible,
        "responsible_code": n.responsible_code,
        "province": n.province,
        "procedure_code": n.procedure_code,
        "rule_set": n.rule_set,
        "article": n.article,
        "facts": n.facts,
        "detected_at": n.detected_at,
        "opened_at": n.opened_at,
        "state": n.state,
        **{text.value: n.texts[text] for text in Text},
        "closed_at": n.closed_at,
        "version": n.version,
        "updated_at": n.updated_at,
    }


def _audit(entries: list[AuditEntry]) -> list[AuditView]:
    return [
        AuditView(
            seq=e.seq,
            actor=e.actor,
            actor_role=e.actor_role,
            action=e.action,
            from_state=e.from_state,
            to_state=e.to_state,
            changes=e.changes,
            at=e.at,
        )
        for e in entries
    ]


def _own_unit(caller: Principal, responsible: Responsible | None, code: str | None) -> None:
    """A unit filters only on itself: asking for another unit's register is refused, not answered empty."""
    if caller.role is Role.OPERATOR or (responsible is None and code is None):
        return
    own = (
        (Responsible.AGENCY, caller.agency)
        if caller.role is Role.AGENCY
        else (Responsible.POST_OFFICE, caller.post_office)
    )
    if (responsible or own[0], code or own[1]) != own:
        raise ProblemError(403, "forbidden", "a unit reads only the nonconformities it is responsible for")


NOT_FOUND = "no nonconformity with this id is known"

GET_REFUSALS: dict[int | str, dict[str, Any]] = {
    **{status: answer for status, answer in REFUSALS.items() if status != 404},
    404: problem_response("No such nonconformity, or it is outside the caller's scope: `not_found`."),
}
LIST_REFUSALS: dict[int | str, dict[str, Any]] = {
    **{status: answer for status, answer in REFUSALS.items() if status != 404},
    403: problem_response(
        f"A unit asked for another unit's nonconformities, or {NOT_STAFF_DOC}: `forbidden`."
    ),
}
STEP_REFUSALS: dict[int | str, dict[str, Any]] = {
    **GET_REFUSALS,
    400: problem_response("The body is not valid JSON: `malformed_json`."),
    409: problem_response(
        "The step is refused: `stale_version` (read it again), `transition_not_allowed` (out of order), "
        "`missing_text`, `text_not_for_this_step` or `text_too_long`."
    ),
}


def _engine(request: Request) -> AsyncEngine:
    engine: AsyncEngine = request.app.state.engine
    return engine


def _clock(request: Request) -> Callable[[], datetime]:
    now: Callable[[], datetime] | None = getattr(request.app.state, "now", None)
    return now or (lambda: datetime.now(UTC))


@router.get("", response_model=NonconformityList, responses=LIST_REFUSALS)
async def list_nonconformities(
    request: Request,
    caller: Caller,
    state: State | None = None,
    kind: BreachKind | None = None,
    unit_kind: Responsible | None = None,
    unit: Annotated[str | None, Query(pattern=UNIT_CODE_PATTERN)] = None,
    dossier_id: Annotated[str | None, Query(max_length=36)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 100,
) -> NonconformityList:
    """The latest nonconformities the caller may read (by when the breach happened, newest first),
    filtered by state, kind, responsible unit (`unit_kind` and its code `unit`) or dossier."""
    _own_unit(caller, unit_kind, unit)
    if dossier_id is not None:
        try:
            dossier_id = parse_dossier_id(dossier_id)
        except ValueError as exc:
            raise ProblemError(422, "invalid_dossier_id", str(exc)) from None
    filters = Filters(state, kind, unit_kind, unit, dossier_id)
    async with _engine(request).connect() as conn:
        found = await register.listed(conn, caller, filters, limit)
    return NonconformityList(items=[NonconformityView(**_view(n)) for n in found])


@router.get("/{nonconformity_id}", response_model=NonconformityDetail, responses=GET_REFUSALS)
async def get_nonconformity(
    request: Request,
    caller: Caller,
    nonconformity_id: Annotated[str, Path(pattern=UUID_PATTERN)],
) -> NonconformityDetail:
    """One nonconformity and its audit trail (who changed what and when, oldest first)."""
    async with _engine(request).connect() as conn:
        found = await register.one(conn, caller, nonconformity_id)
        if found is None:
            raise ProblemError(404, "not_found", NOT_FOUND)
        audit = await register.audit_of(conn, nonconformity_id)
    return NonconformityDetail(**_view(found), audit=_audit(audit))


@router.post("/{nonconformity_id}/steps", response_model=NonconformityDetail, responses=STEP_REFUSALS)
async def take_step(
    request: Request,
    caller: Caller,
    nonconformity_id: Annotated[str, Path(pattern=UUID_PATTERN)],
    body: StepRequest,
) -> NonconformityDetail:
    """Take the nonconformity one step on: analyse (cause), take_action (correction and corrective
    action), verify (verification), close. The texts must not hold personal data."""
    now = _clock(request)()
    async with _engine(request).begin() as conn:
        found = await register.one(conn, caller, nonconformity_id, lock=True)
        if found is None:
            raise ProblemError(404, "not_found", NOT_FOUND)
        try:
            change = step(found.state, found.version, body.action, body.version, body.texts())
        except StepRefusedError as refused:
            raise ProblemError(409, refused.reason.value, refused.detail) from None
        await register.record_step(conn, nonconformity_id, change, body.action, caller, now)
        updated = await register.one(conn, caller, nonconformity_id)
        audit = await register.audit_of(conn, nonconformity_id)
    assert updated is not None  # locked by this transaction
    return NonconformityDetail(**_view(updated), audit=_audit(audit))

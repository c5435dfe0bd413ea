"""The officers' HTTP API: parse, authenticate, call one use case, map its refusals to problem responses.

Dossiers are addressed by what an officer has in hand: the inbound postal item id (S10, on the package
and the handover record) or the agency dossier code (once assigned). A 2xx answer means Kafka has
acknowledged the event; 503 means nothing was recorded and the same request may be retried.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, FastAPI, Path, Query, Request, Response, Security
from fastapi.openapi.utils import get_openapi
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict
from starlette.responses import JSONResponse

from contracts.enums import Outcome, ServiceForm
from contracts.values import AwareTime, parse_agency_code
from services.agency import commands as cmd
from services.agency.contact_reads import ContactReads, NotHeldError, RegistrationContact
from services.agency.domain import Actor, Dossier, DossierRef, Status, parse_reference
from services.agency.handlers import AgencyDesk, Recorded
from services.agency.rejections import ReportRejectedError, Verdict
from services.shared.auth import REFUSAL_DOC, Principal, Role
from services.shared.auth.access import NOT_STAFF_DOC, contact_refusal
from services.shared.auth.authenticator import Authenticator
from services.shared.http import (
    ProblemError,
    authenticated,
    checked_item_id,
    looks_like_item_id,
    parameter_error,
    problem,
)
from services.shared.kafka import BrokerUnavailableError
from services.shared.personal_data.answers import PersonalDataReads
from services.shared.personal_data.keys import UnknownKeyIdError
from services.shared.personal_data.purposes import Purpose
from services.shared.personal_data.rights import (
    AccessAnswer,
    AccessRequest,
    ErasureAnswer,
    ErasureRequest,
    Requester,
    RightsDesk,
    RightsRequests,
)
from services.shared.personal_data.sealing import SealBrokenError

router = APIRouter()

REFERENCE_PATTERN = (
    r"^([A-Za-z]{2}[0-9]{9}[A-Za-z]{2}|[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Za-z][0-9]{2}-[0-9]{6}-[0-9]{4})$"
)
_REFERENCE = re.compile(REFERENCE_PATTERN)
_STAFF_ID = re.compile(r"^[A-Za-z0-9._:/-]{1,64}$")

_STATUS = {Verdict.NOT_FOUND: 404, Verdict.FORBIDDEN: 403, Verdict.INVALID: 422, Verdict.CONFLICT: 409}


# --------------------------------------------------------------------------- response bodies


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)


class FieldError(_Out):
    loc: list[str | int]
    """Where: body, path or header, then the field names and list indexes."""
    type: str
    """The kind of error: pydantic's error type, or for a wrong item id what is wrong with it (item_id_…)."""
    msg: str
    """What is wrong, without the submitted value."""


class Problem(_Out):
    """An RFC 9457 problem: the HTTP status, a stable machine-readable reason and a sentence."""

    status: int
    """The HTTP status code."""
    reason: str
    """Stable reason code, e.g. `another_agency`, `delay_already_notified`, `broker_unavailable`."""
    detail: str
    """What went wrong and what to do; never repeats personal data."""
    errors: list[FieldError] | None = None
    """For `invalid_request`: each field that does not match the schema."""


class DossierView(_Out):
    """The agency service's record of a dossier (no personal data)."""

    dossier_id: str
    """The dossier's id for its whole journey."""
    agency_code: str
    """The agency the dossier is addressed to."""
    status: Status
    """Where the dossier is, as far as the agency is concerned."""
    service_form: ServiceForm | None
    """The public-post service form, when known."""
    item_id: str | None
    """The inbound postal item, for a dossier that came by post."""
    procedure_code: str | None
    """The procedure."""
    agency_dossier_code: str | None
    """The agency's code, once assigned."""
    filed_at: AwareTime | None
    """The filing time the clock counts from (handover signing, filing in person or online, or the
    arrival of the latest supplement)."""
    filing_day: date | None
    """The day counted as the filing day, after the cut-off rule."""
    received_at: AwareTime | None
    """When the desk received the dossier (the receipt's occurrence time, whenever it was recorded)."""
    legal_due_date: date | None
    """The filing day plus the procedure's target in working days."""
    appointment_date: date | None
    """The date on the appointment slip."""
    appointment_later_than_legal: bool | None
    """Whether the appointment date is after the legal due date."""
    due_date: date | None
    """The date the clock runs to now (the legal one, or the apology slip's); none while stopped."""
    delay_notified: bool
    """Whether the apology slip was issued."""
    delay_breach: bool | None
    """Whether the apology slip was issued too late (less than the lead time before the due date)."""
    supplement_requests: int
    """Supplement requests recorded on the dossier; the rules allow one, and each request beyond it or
    after the window is recorded and flagged on its event (`breach_reasons`)."""
    supplement_requested_at: AwareTime | None
    """When the latest supplement was requested (its occurrence time)."""
    closure_due_at: AwareTime | None = None
    """When the dossier is closed if its supplement has not come by then (the end of the closure
    period's last day); none when the rules in force on the day of the request set no period."""
    outcome: Outcome | None
    """The result's outcome, once ready."""

    @classmethod
    def of(cls, dossier: Dossier) -> DossierView:
        later = (
            dossier.appointment_date > dossier.legal_due_date
            if dossier.appointment_date is not None and dossier.legal_due_date is not None
            else None
        )
        return cls(
            dossier_id=dossier.dossier_id,
            agency_code=dossier.agency_code,
            status=dossier.status,
            service_form=dossier.service_form,
            item_id=dossier.item_id,
            procedure_code=dossier.procedure_code,
            agency_dossier_code=dossier.agency_dossier_code,
            filed_at=dossier.filed_at,
            filing_day=dossier.filing_day,
            received_at=dossier.received_at,
            legal_due_date=dossier.legal_due_date,
            appointment_date=dossier.appointment_date,
            appointment_later_than_legal=later,
            due_date=dossier.due_date,
            delay_notified=dossier.delay_notices > 0,
            delay_breach=dossier.delay_breach,
            supplement_requests=dossier.supplement_requests,
            supplement_requested_at=dossier.supplement_requested_at,
            closure_due_at=dossier.closure_due_at,
            outcome=dossier.outcome,
        )


class ReportRecorded(_Out):
    """The event published on agency.events.v1 (acknowledged by Kafka) and the dossier's record after it."""

    event_id: UUID
    """The event id; a retry of the same report after a 503 gets the same one."""
    event_type: str
    """The event type, e.g. `agency.dossier_received`."""
    dossier: DossierView
    """The dossier's record after the event."""

    @classmethod
    def of(cls, recorded: Recorded) -> ReportRecorded:
        return cls(
            event_id=recorded.envelope.id,
            event_type=recorded.envelope.type,
            dossier=DossierView.of(recorded.dossier),
        )


# --------------------------------------------------------------------------- documented problems

_PROBLEMS: dict[int, str] = {
    400: "The body is not valid JSON (`malformed_json`).",
    401: REFUSAL_DOC,
    403: "The credential is not an agency officer's (`not_an_agency`; `role_not_allowed` on the operators' "
    "endpoints), or the dossier is addressed to another agency (`another_agency`). Nothing is published. "
    "On the contact read, `role_not_allowed` for " + NOT_STAFF_DOC + " asking for another purpose than "
    "`notifications`.",
    404: "No dossier with this reference is known (`unknown_dossier`): the post office has not reported "
    "it, or it was not registered; or the reference has the shape of an agency dossier code but is not "
    "one, e.g. a date that does not exist (`invalid_reference`).",
    409: "The report makes no sense in the dossier's current state, or contradicts its record; `reason` "
    "says which (`not_received`, `delay_already_notified`, `dossier_withdrawn`, …; `before_previous_fact` "
    "when it happened before the fact it follows, both named with their times; `dossier_closed` once the "
    "dossier is closed). Nothing is published.",
    422: "The request does not match the schema (`invalid_request`, with `errors`; `time_without_offset` "
    "for a time without its UTC offset), or the rules find a value invalid (`unknown_procedure`, "
    "`code_of_another_agency`, `time_in_future` beyond the clock skew allowed, `times_disagree`, …). A wrong "
    "item id, in the URL or the body, has a reason of its own, with a sentence for the clerk in `detail`: "
    "`item_id_length`, `item_id_service_indicator`, `item_id_serial`, `item_id_check_digit`, "
    "`item_id_country_code` (when it is the request's only problem; beside others it is listed in "
    "`errors` under that type and the reason is `invalid_request`).",
    503: "Kafka (`broker_unavailable`) or the database (`database_unavailable`) did not answer in time. "
    "Nothing was recorded; retry after `Retry-After` seconds with the same request. "
    "`kafka_not_authorised`: Kafka refused this service's principal (an ACL is missing, see /ready).",
}


def _responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    out: dict[int | str, dict[str, Any]] = {
        code: {"model": Problem, "description": _PROBLEMS[code]} for code in codes
    }
    if 401 in out:
        out[401]["headers"] = {
            "WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}},
        }
    if 503 in out:
        out[503]["headers"] = {
            "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}},
        }
    return out


_REPORT_ERRORS = _responses(400, 401, 403, 404, 409, 422, 503)


# --------------------------------------------------------------------------- dependencies

_bearer = HTTPBearer(
    auto_error=False,
    description="A credential from `dossier-credentials issue --role agency --scope <agency code>` "
    "(officers), `--role operator`, or `--role notifier` (the notifications service's: it only reads "
    "contacts, for `notifications`).",
)


async def _desk(request: Request) -> AgencyDesk:
    desk: AgencyDesk = request.app.state.desk
    return desk


async def _principal(
    request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]
) -> Principal:
    authenticator: Authenticator = request.app.state.authenticator
    return await authenticated(authenticator, request)


def _officer(principal: Annotated[Principal, Depends(_principal)]) -> Actor:
    if principal.role is not Role.AGENCY or principal.agency is None:
        raise ProblemError(403, "not_an_agency", "only an agency's officer reports on dossiers")
    if not _STAFF_ID.fullmatch(principal.subject):
        raise ProblemError(403, "not_an_agency", "the credential's subject is not an officer's staff id")
    try:
        agency_code = parse_agency_code(principal.agency)
    except ValueError:
        raise ProblemError(
            403, "not_an_agency", "the credential is not bound to a valid agency code"
        ) from None
    return Actor(agency_code=agency_code, officer_id=principal.subject)


def _reference(
    ref: Annotated[
        str,
        Path(
            description="The inbound postal item id (S10, e.g. `EB123456785VN`) or the agency dossier code "
            "(e.g. `000.00.01.H22-250314-0007`).",
            # Documented, checked below rather than by FastAPI: a mistyped item id is then refused for
            # what is wrong with it (item_id_check_digit, …) instead of a bare pattern mismatch.
            json_schema_extra={"pattern": REFERENCE_PATTERN},
            examples=["EB123456785VN", "000.00.01.H22-250314-0007"],
        ),
    ],
) -> DossierRef:
    if looks_like_item_id(ref):
        return DossierRef(item_id=checked_item_id(ref, ("path", "ref")))
    if not _REFERENCE.fullmatch(ref):
        raise parameter_error(
            ("path", "ref"), "string_pattern_mismatch", f"String should match pattern '{REFERENCE_PATTERN}'"
        )
    try:
        return parse_reference(ref)
    except ValueError as exc:
        # Shaped like an agency dossier code but not one (a date that does not exist): the URL names
        # no dossier.
        raise ProblemError(404, "invalid_reference", str(exc)) from None


# Reports whose every field is optional may come without a body.
_EMPTY_STARTPROCESSING = cmd.StartProcessing()
_EMPTY_WITHDRAWDOSSIER = cmd.WithdrawDossier()
_EMPTY_RECEIVESUPPLEMENT = cmd.ReceiveSupplement()

Desk = Annotated[AgencyDesk, Depends(_desk)]
Officer = Annotated[Actor, Depends(_officer)]
Caller = Annotated[Principal, Depends(_principal)]
Ref = Annotated[DossierRef, Depends(_reference)]


# --------------------------------------------------------------------------- routes


@router.post(
    "/dossiers",
    status_code=201,
    response_model=ReportRecorded,
    responses={
        **_responses(400, 401, 403, 409, 422, 503),
        201: {
            "description": "Registered: `agency.dossier_registered_for_return` is published.",
            "headers": {"Location": {"description": "The dossier's URL.", "schema": {"type": "string"}}},
        },
    },
    operation_id="register_dossier_for_return",
    summary="Register a dossier filed in person or online for return of its result by post",
    tags=["registration"],
)
async def register_for_return(
    body: cmd.RegisterForReturn, actor: Officer, desk: Desk, response: Response
) -> ReportRecorded:
    """Form RECEIVE_RESULT: the citizen filed at the desk or online and wants the result by post. The
    dossier id derives from the agency dossier code; the contact and the delivery address are sealed in
    the agency's vault (never in the event): staff read them back with `GET /dossiers/{ref}/contact`."""
    recorded = await desk.register(actor, body)
    response.headers["Location"] = f"/dossiers/{body.agency_dossier_code}"
    return ReportRecorded.of(recorded)


@router.get(
    "/dossiers/{ref}",
    response_model=DossierView,
    responses=_responses(401, 403, 404, 422, 503),
    operation_id="get_dossier",
    summary="The agency's record of a dossier",
    tags=["dossiers"],
)
async def get_dossier(ref: Ref, caller: Caller, desk: Desk) -> DossierView:
    """An officer sees the dossiers addressed to their agency; an operator sees every dossier."""
    if caller.role is Role.OPERATOR:
        return DossierView.of(await desk.view(ref, None))
    if caller.role is not Role.AGENCY or caller.agency is None:
        raise ProblemError(403, "not_an_agency", "only agency officers and operators read dossier records")
    return DossierView.of(await desk.view(ref, caller.agency.strip().upper()))


def _report_route(path: str, operation_id: str, summary: str) -> Callable[[Any], Any]:
    return router.post(
        f"/dossiers/{{ref}}/{path}",
        status_code=201,
        response_model=ReportRecorded,
        responses={**_REPORT_ERRORS, 201: {"description": "Recorded: the event is published."}},
        operation_id=operation_id,
        summary=summary,
        tags=["reports"],
    )


@_report_route("received", "report_received", "The desk received the dossier and issued the appointment slip")
async def report_received(ref: Ref, body: cmd.ReceiveDossier, actor: Officer, desk: Desk) -> ReportRecorded:
    """Publishes `agency.dossier_received` with the legal due date computed from the filing time, the
    cut-off hour, the procedure's target and the working-day calendar; an appointment date later than
    the legal one is recorded and flagged (`appointment_later_than_legal`)."""
    return ReportRecorded.of(await desk.report(actor, ref, body))


@_report_route("refused", "report_refused", "The desk refused the dossier")
async def report_refused(ref: Ref, body: cmd.RefuseDossier, actor: Officer, desk: Desk) -> ReportRecorded:
    """Publishes `agency.dossier_refused`. Only before the dossier is received; a received dossier is
    denied with a result."""
    return ReportRecorded.of(await desk.report(actor, ref, body))


@_report_route("supplement-requested", "report_supplement_requested", "The agency asked for a supplement")
async def report_supplement_requested(
    ref: Ref, body: cmd.RequestSupplement, actor: Officer, desk: Desk
) -> ReportRecorded:
    """Publishes `agency.supplement_requested`. Stops the agency clock."""
    return ReportRecorded.of(await desk.report(actor, ref, body))


@_report_route("supplement-received", "report_supplement_received", "The agency received the supplement")
async def report_supplement_received(
    ref: Ref,
    actor: Officer,
    desk: Desk,
    body: Annotated[cmd.ReceiveSupplement, Body()] = _EMPTY_RECEIVESUPPLEMENT,
) -> ReportRecorded:
    """Publishes `agency.supplement_received`. The clock restarts from zero: the supplement's arrival is
    the new filing time, and a received dossier gets a new legal due date."""
    return ReportRecorded.of(await desk.report(actor, ref, body))


@_report_route("processing", "report_processing", "The dossier is being processed")
async def report_processing(
    ref: Ref,
    actor: Officer,
    desk: Desk,
    body: Annotated[cmd.StartProcessing, Body()] = _EMPTY_STARTPROCESSING,
) -> ReportRecorded:
    """Publishes `agency.dossier_processing` (optional report)."""
    return ReportRecorded.of(await desk.report(actor, ref, body))


@_report_route(
    "delay-notified", "report_delay_notified", "The agency issued its apology slip with a new date"
)
async def report_delay_notified(
    ref: Ref, body: cmd.NotifyDelay, actor: Officer, desk: Desk
) -> ReportRecorded:
    """Publishes `agency.delay_notified` and moves the due date. At most one per dossier; a slip issued
    later than one working day before the due date is recorded and flagged as a breach."""
    return ReportRecorded.of(await desk.report(actor, ref, body))


@_report_route("withdrawn", "report_withdrawn", "The citizen withdrew the dossier")
async def report_withdrawn(
    ref: Ref,
    actor: Officer,
    desk: Desk,
    body: Annotated[cmd.WithdrawDossier, Body()] = _EMPTY_WITHDRAWDOSSIER,
) -> ReportRecorded:
    """Publishes `agency.dossier_withdrawn`. Nothing can be reported on the dossier afterwards."""
    return ReportRecorded.of(await desk.report(actor, ref, body))


@_report_route("closed", "report_closed", "The agency closed a dossier awaiting its supplement")
async def report_closed(ref: Ref, body: cmd.CloseDossier, actor: Officer, desk: Desk) -> ReportRecorded:
    """Publishes `agency.dossier_closed` with the officer's reason (`supplement_declined`, or `other` with
    a `note`). Only while the dossier awaits its supplement (409 `no_supplement_requested` otherwise; a
    final state answers its own 409, `dossier_closed` once closed). The agency service closes such a
    dossier on its own (reason `supplement_not_completed`) once the closure period of the rules in force
    on the day of the request has ended (Decree 118/2025 Art. 19(5): 15 days after the notice).
    Nothing can be reported on a closed dossier."""
    return ReportRecorded.of(await desk.report(actor, ref, body))


@_report_route("result-ready", "report_result_ready", "The result is ready")
async def report_result_ready(ref: Ref, body: cmd.ReadyResult, actor: Officer, desk: Desk) -> ReportRecorded:
    """Publishes `agency.result_ready` (approved or denied). Ends the agency clock."""
    return ReportRecorded.of(await desk.report(actor, ref, body))


# --------------------------------------------------------------------------- wiring


# --------------------------------------------------------------------------- personal data, audited


async def _contact_reads(request: Request) -> ContactReads:
    reads: ContactReads = request.app.state.contact_reads
    return reads


Reads = Annotated[ContactReads, Depends(_contact_reads)]


@router.get(
    "/dossiers/{ref}/contact",
    response_model=RegistrationContact,
    responses={
        **_responses(401, 403, 404, 422, 503),
        409: {
            "model": Problem,
            "description": "`personal_data_key_unavailable`: the record is sealed under a key-encryption key "
            "this service does not hold (or a wrong one under its id), named in `detail`; an operator "
            "restores it in PERSONAL_DATA_KEYS. Only this dossier is concerned: the service is healthy.",
        },
    },
    operation_id="read_contact",
    summary="Read a registration's contact (and delivery address), for a purpose (audited)",
    tags=["personal data"],
)
async def read_contact(
    ref: Ref,
    caller: Caller,
    reads: Reads,
    purpose: Annotated[Purpose, Query(description="Why it is read: `result_delivery` or `notifications`.")],
) -> RegistrationContact:
    """The contact the agency collected when it registered the dossier for return by post, and for
    `result_delivery` the delivery address. Every read is recorded in the audit (who, when, which dossier,
    which purpose): `GET /audit/personal-data-reads`. An erased record answers 200 with `erased: true`.
    An officer of the dossier's agency (`another_agency` otherwise), an operator, or the notifications
    service (role notifier) for `notifications` only (`role_not_allowed` for another purpose);
    `not_an_agency` for others. 404 `personal_data_not_held` for a dossier that came by post; 403
    `purpose_not_allowed`."""
    refusal = contact_refusal(caller, purpose)
    if refusal is not None:
        raise ProblemError(403, "role_not_allowed", refusal)
    if caller.role is Role.POST_OFFICE:
        raise ProblemError(403, "not_an_agency", "only agency officers and operators read a contact")
    try:
        return await reads.contact(caller, ref, purpose)
    except NotHeldError as refused:
        status = 404 if refused.reason == "personal_data_not_held" else 403
        raise ProblemError(status, refused.reason, refused.detail) from None
    except (UnknownKeyIdError, SealBrokenError) as broken:
        raise ProblemError(409, "personal_data_key_unavailable", str(broken)) from None


@router.get(
    "/audit/personal-data-reads",
    response_model=PersonalDataReads,
    responses=_responses(401, 403, 404, 422, 503),
    operation_id="list_personal_data_reads",
    summary="List the reads of registrations' contacts (operators)",
    tags=["personal data"],
)
async def personal_data_reads(
    caller: Caller,
    reads: Reads,
    desk: Desk,
    dossier: Annotated[
        str | None,
        Query(
            max_length=40, description="A dossier's item id or agency dossier code; every dossier if none."
        ),
    ] = None,
) -> PersonalDataReads:
    """The append-only audit of every read on this API, newest first (at most 1,000). Operators only
    (`role_not_allowed`)."""
    if caller.role is not Role.OPERATOR:
        raise ProblemError(403, "role_not_allowed", "only operators list the audit")
    dossier_id = None
    if dossier is not None:
        try:
            ref = parse_reference(dossier)
        except ValueError as exc:
            raise ProblemError(422, "invalid_request", str(exc)) from None
        dossier_id = (await desk.view(ref, None)).dossier_id
    return await reads.reads(dossier_id)


# --------------------------------------------------------------------------- a person's rights

_RIGHTS_DOC = (
    " Operators only (`role_not_allowed`), on the person's behalf; every request is appended to the audit "
    "table `agency_personal_data_request` (who, when, the phone or ID number only as its keyed HMAC, what "
    "was found or erased)."
)


async def _rights(request: Request) -> RightsDesk:
    rights: RightsDesk = request.app.state.rights
    return rights


Rights = Annotated[RightsDesk, Depends(_rights)]


def _operator_only(caller: Principal) -> Requester:
    if caller.role is not Role.OPERATOR:
        raise ProblemError(
            403, "role_not_allowed", "only operators answer a person's access or erasure request"
        )
    return Requester(subject=caller.subject, role=caller.role.value)


@router.post(
    "/personal-data/access-requests",
    response_model=AccessAnswer,
    responses=_responses(400, 401, 403, 422, 503),
    operation_id="personal_data_access_request",
    summary="What the agency holds about a person (by phone or ID number)",
    description="Every record the agency's vault holds (or held: erased ones) about the person named by a "
    "phone number or an ID number: dossier, kind, purposes, when each ends and until when it is held, when "
    "it was collected; never the data itself. 422 `invalid_request`: not exactly one of `phone`, "
    "`id_number`, or one malformed." + _RIGHTS_DOC,
    tags=["personal data"],
)
async def personal_data_access(caller: Caller, rights: Rights, request: AccessRequest) -> AccessAnswer:
    return await rights.access(request, _operator_only(caller))


@router.post(
    "/personal-data/erasure-requests",
    response_model=ErasureAnswer,
    responses=_responses(400, 401, 403, 422, 503),
    operation_id="personal_data_erasure_request",
    summary="Erase what the agency holds about a person (by phone, ID number or dossier)",
    description="Erases every record found (the sealed data and its key; a tombstone stays) and publishes "
    "`agency.personal_data_erased` (reason `request`) for each dossier, acknowledged by Kafka before the "
    "erasure commits: a 503 erased nothing. 422 `invalid_request`: not exactly one of `phone`, "
    "`id_number`, `dossier`, or one malformed." + _RIGHTS_DOC,
    tags=["personal data"],
)
async def personal_data_erasure(caller: Caller, rights: Rights, request: ErasureRequest) -> ErasureAnswer:
    return await rights.erase(request, _operator_only(caller))


@router.get(
    "/audit/personal-data-requests",
    response_model=RightsRequests,
    responses=_responses(401, 403, 503),
    operation_id="list_personal_data_requests",
    summary="List the access and erasure requests (operators)",
    description="The append-only audit of every access and erasure request this service answered, newest "
    "first (at most 1,000): who asked, when, how the person was named (never the number itself), what was "
    "found and what was erased. Operators only (`role_not_allowed`).",
    tags=["personal data"],
)
async def personal_data_requests(caller: Caller, rights: Rights) -> RightsRequests:
    _operator_only(caller)
    return await rights.requests()


def install(app: FastAPI, *, retry_after_s: int) -> None:
    """Routes, refusals and a broker outage as problems, and the problem+json OpenAPI document."""
    app.include_router(router)

    @app.exception_handler(ReportRejectedError)
    async def _rejected(_: Request, exc: ReportRejectedError) -> JSONResponse:
        return problem(_STATUS[exc.verdict], exc.reason.value, exc.detail)

    @app.exception_handler(BrokerUnavailableError)
    async def _broker(_: Request, exc: BrokerUnavailableError) -> JSONResponse:
        return problem(
            503,
            "broker_unavailable",
            "Kafka did not acknowledge the report in time; nothing was recorded. Retry the same request.",
            {"Retry-After": str(retry_after_s)},
        )

    # A database outage is answered 503 by the handlers every service shares (services/shared/http.py).

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _problem_json(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                    tags=app.openapi_tags,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _problem_json(document: dict[str, Any]) -> dict[str, Any]:
    """Error responses are served as application/problem+json; say so in the document."""
    for operation in (op for path in document.get("paths", {}).values() for op in path.values()):
        for status, response in operation.get("responses", {}).items():
            content = response.get("content", {})
            if int(status) >= 400 and "application/json" in content:
                content["application/problem+json"] = content.pop("application/json")
    return document

"""The HTTP entrypoints: authenticate, authorise, call one handler, translate refusals into problems.

Every caller presents a bearer credential (a signed JWT from the operator CLI) bound to one post
office, or an operator's. A post office credential records acts for its own post office only;
operators may record for any; agency credentials may not use this API; the notifications service's
(role notifier) only reads applicants' contacts for notifications. Tokens are never logged.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response, Security
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from contracts.errors import ContractError
from contracts.values import parse_s10
from services.post_office.commands import (
    MAX_BATCH_SCANS,
    MAX_MANIFEST_ITEMS,
    AcceptDossier,
    EventRecorded,
    HandOver,
    ManifestResult,
    PickupReceipt,
    PickUpResult,
    Problem,
    Receipt,
    ReportIncident,
    ReturnToAgency,
)
from services.post_office.contact_reads import (
    ContactAnswer,
    ContactReads,
    NotAllowedError,
    dossier_id_of,
)
from services.post_office.direct_route import direct_route
from services.post_office.domain import RefusedError, Verdict
from services.post_office.handlers import PostOfficeHandlers
from services.post_office.metrics import PostOfficeMetrics
from services.post_office.scan_commands import (
    BatchResult,
    DeliveredRequest,
    DeliveryFailedRequest,
    OnlineScanRequest,
    OutForDeliveryRequest,
    ScanBatch,
    TransitScanRequest,
    as_scan,
)
from services.shared.auth import REFUSAL_DOC, CredentialError, Principal, Role
from services.shared.auth.access import NOT_STAFF_DOC, contact_refusal, staff_refusal
from services.shared.auth.authenticator import Authenticator
from services.shared.http import ProblemError, problem, validation_reason
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

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


class RequestReason(enum.StrEnum):
    """Reasons the API gives besides the rules' own (domain.Reason). A closed set: a metric label."""

    MALFORMED_JSON = "malformed_json"
    INVALID_REQUEST = "invalid_request"
    BODY_TOO_LARGE = "body_too_large"
    BODY_TIMEOUT = "body_timeout"
    BATCH_TOO_LARGE = "batch_too_large"
    UNAUTHENTICATED = "unauthenticated"
    ROLE_NOT_ALLOWED = "role_not_allowed"
    WRONG_POST_OFFICE = "wrong_post_office"
    CONCURRENT_UPDATE = "concurrent_update"
    BROKER_UNAVAILABLE = "broker_unavailable"
    DATABASE_UNAVAILABLE = "database_unavailable"
    EVENT_TOO_LARGE = "event_too_large"
    PURPOSE_NOT_ALLOWED = "purpose_not_allowed"
    PERSONAL_DATA_NOT_HELD = "personal_data_not_held"
    PERSONAL_DATA_KEY_UNAVAILABLE = "personal_data_key_unavailable"


STATUS_OF_VERDICT = {Verdict.INVALID: 422, Verdict.UNKNOWN: 404, Verdict.CONFLICT: 409}


@dataclass(frozen=True)
class PostOffice:
    """What the entrypoints need, built by app.py's lifespan and kept on app.state.post_office."""

    handlers: PostOfficeHandlers
    contact_reads: ContactReads
    authenticator: Authenticator
    metrics: PostOfficeMetrics
    retry_after_s: int
    rights: RightsDesk


async def _post_office(request: Request) -> PostOffice:
    # async: FastAPI runs a plain function dependency in a worker thread, a hop per request.
    wired: PostOffice = request.app.state.post_office
    return wired


Wired = Annotated[PostOffice, Depends(_post_office)]

bearer = HTTPBearer(
    auto_error=False,
    bearerFormat="JWT",
    description="A credential issued by an operator (`dossier-credentials issue`), bound to one post office "
    "(role post_office) or to none (role operator; role notifier, the notifications service's, which only "
    "reads applicants' contacts for notifications).",
)


async def _authenticated(
    request: Request,
    wired: Wired,
    _: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> Principal:
    try:
        principal = await _guarded(
            wired, wired.authenticator.authenticate(request.headers.get("authorization"))
        )
    except CredentialError as exc:
        wired.metrics.rejected(RequestReason.UNAUTHENTICATED)
        raise ProblemError(401, exc.reason, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None
    if principal.role is Role.AGENCY:
        wired.metrics.rejected(RequestReason.ROLE_NOT_ALLOWED)
        raise ProblemError(
            403,
            RequestReason.ROLE_NOT_ALLOWED,
            "agency credentials may not record postal acts; use a post office or operator credential",
        )
    return principal


def _role_not_allowed(refusal: str | None, wired: PostOffice) -> None:
    if refusal is not None:
        wired.metrics.rejected(RequestReason.ROLE_NOT_ALLOWED)
        raise ProblemError(403, RequestReason.ROLE_NOT_ALLOWED, refusal)


async def _caller(principal: Annotated[Principal, Depends(_authenticated)], wired: Wired) -> Principal:
    """Staff: every endpoint but the contact read refuses a service's credential."""
    _role_not_allowed(staff_refusal(principal), wired)
    return principal


Caller = Annotated[Principal, Depends(_caller)]
Reader = Annotated[Principal, Depends(_authenticated)]
"""A contact reader: staff, or a service's credential for its purpose (checked with the purpose)."""


def _authorise(caller: Principal, post_office_code: str, wired: PostOffice) -> None:
    """A clerk records for the post office their credential is bound to; an operator for any."""
    if caller.role is Role.POST_OFFICE and caller.post_office != post_office_code:
        wired.metrics.rejected(RequestReason.WRONG_POST_OFFICE)
        raise ProblemError(
            403,
            RequestReason.WRONG_POST_OFFICE,
            f"this credential records for post office {caller.post_office} only, not {post_office_code}",
        )


async def _guarded(wired: PostOffice, work: Awaitable[T]) -> T:
    """Run a handler; translate refusals, an unacknowledged publication and database trouble."""
    try:
        return await work
    except RefusedError as refusal:
        wired.metrics.rejected(refusal.reason)
        raise ProblemError(
            STATUS_OF_VERDICT[refusal.verdict], refusal.reason, refusal.detail, **refusal.extra
        ) from None
    except BrokerUnavailableError:
        wired.metrics.rejected(RequestReason.BROKER_UNAVAILABLE)
        raise ProblemError(
            503,
            RequestReason.BROKER_UNAVAILABLE,
            "the event store (Kafka) did not acknowledge in time; nothing was recorded, retry later",
            headers={"Retry-After": str(wired.retry_after_s)},
        ) from None
    except ContractError:
        # The only contract error a valid command can meet: its event would exceed the message limit.
        wired.metrics.rejected(RequestReason.EVENT_TOO_LARGE)
        raise ProblemError(
            422,
            RequestReason.EVENT_TOO_LARGE,
            "the event would exceed Kafka's message limit for this system (256 KiB); shorten the document "
            "names or the list",
        ) from None
    except IntegrityError:
        wired.metrics.rejected(RequestReason.CONCURRENT_UPDATE)
        raise ProblemError(
            409,
            RequestReason.CONCURRENT_UPDATE,
            "another request recorded the same item at the same moment; nothing was recorded, retry",
        ) from None
    except (OperationalError, InterfaceError, OSError):
        wired.metrics.rejected(RequestReason.DATABASE_UNAVAILABLE)
        raise ProblemError(
            503,
            RequestReason.DATABASE_UNAVAILABLE,
            "the database did not answer; nothing was recorded, retry later",
            headers={"Retry-After": str(wired.retry_after_s)},
        ) from None


# --------------------------------------------------------------------------- documented problems

ITEM_ID_REASONS = (
    "A wrong item id has a reason of its own, with a sentence for the clerk in `detail`: `item_id_length`, "
    "`item_id_service_indicator`, `item_id_serial`, `item_id_check_digit`, `item_id_country_code` (when it "
    "is the request's only problem; beside others it is listed in `errors` under that type and the reason "
    "is `invalid_request`)."
)

_PROBLEMS: dict[int, str] = {
    400: "The body is not valid JSON (`malformed_json`).",
    401: REFUSAL_DOC,
    403: "An agency credential or " + NOT_STAFF_DOC + " (`role_not_allowed`), or a post office credential "
    "recording for another post office (`wrong_post_office`).",
    404: "The item the act is about was never recorded by the post (`unknown_item`).",
    409: "The item's state does not allow the act (see reason); `concurrent_update` when another request "
    "recorded the same item at the same moment (retry).",
    408: "The body did not arrive within the service's body deadline (`body_timeout`).",
    413: "The body is larger than the service accepts (`body_too_large`, with `limit_bytes`).",
    422: "The body does not match the schema (`invalid_request`, with `errors`), or a rule refuses it "
    "(see reason); `time_in_future` when the act's time is more than the allowed clock skew ahead, "
    "`time_out_of_range` when it is before 2016. " + ITEM_ID_REASONS,
    503: "Kafka did not acknowledge in time (`broker_unavailable`) or the database did not answer "
    "(`database_unavailable`), or Kafka refused this service's principal (`kafka_not_authorised`: an ACL "
    "is missing, see /ready): nothing was recorded; retry after Retry-After seconds.",
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}},
    503: {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}},
}


def problems(*codes: int, **specific: str) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: each status with the Problem body (application/problem+json).

    `specific` overrides a status's description, keyed `s409`, `s422`, …, naming the reasons the route
    gives.
    """
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {"model": Problem, "description": specific.get(f"s{code}", _PROBLEMS[code])}
        if code in _HEADERS:
            entry["headers"] = _HEADERS[code]
        out[code] = entry
    return out


COMMON = (400, 401, 403, 408, 413, 503)

router = APIRouter(prefix="/v1")

SCAN_BYTES = 4096
"""Room for one scan of a batch as JSON. The largest valid scan (a 500-character note, every character
\\u-escaped, and every field at its longest) takes about 3.4 KB: tests/post_office/test_http_limits.py."""
MANIFEST_ITEM_BYTES = 512
"""Room for one item id of a handover record (at most 64 characters, \\u-escaped: 384 bytes)."""
ENVELOPE_BYTES = 4096
"""Room for a batch's own fields around its items."""
BATCH_BODY_LIMITS = {
    ("POST", "/v1/scans/batches"): MAX_BATCH_SCANS * SCAN_BYTES + ENVELOPE_BYTES,
    ("POST", "/v1/handovers"): MAX_MANIFEST_ITEMS * MANIFEST_ITEM_BYTES + ENVELOPE_BYTES,
}
"""Body limits of the batch endpoints, sized to their item limits; every other body has the service's
POST_OFFICE_MAX_BODY_BYTES. A batch over its item count is still answered 413 batch_too_large."""


# --------------------------------------------------------------------------- intake


@router.post(
    "/dossiers",
    tags=["intake"],
    status_code=201,
    summary="Accept a dossier (counter or address)",
    description="Checks the documents against the procedure's published list and records the acceptance. "
    "Answers the receipt: the item id and the last day the dossier must reach the agency (J+n working days "
    "by route class). Sending the same acceptance again answers the same receipt with 200.",
    responses={
        200: {"model": Receipt, "description": "Already recorded with the same content (a retry)."},
        **problems(
            *COMMON,
            409,
            422,
            s409="`item_already_used`: the item id was recorded with other details; `concurrent_update`.",
            s422="`invalid_request` (with `errors`), `unknown_procedure`, "
            "`procedure_not_by_post` (detail: the catalog's reason), `missing_documents` (with "
            "`missing_documents`), `time_in_future`, `time_out_of_range`, `event_too_large`. "
            + ITEM_ID_REASONS,
        ),
    },
)
async def accept_dossier(cmd: AcceptDossier, caller: Caller, wired: Wired, response: Response) -> Receipt:
    _authorise(caller, cmd.post_office_code, wired)
    receipt = await _guarded(wired, wired.handlers.accept_dossier(cmd))
    if receipt.replayed:
        response.status_code = 200
    return receipt


# --------------------------------------------------------------------------- handover to the agency


@router.post(
    "/handovers",
    tags=["handover"],
    summary="Hand dossiers to the agency (one signed handover record, many items)",
    description="Each listed item gets its own postal.dossier_handed_to_agency event. A malformed, unknown, "
    "misaddressed or already handed-over item is reported in the answer and the others go through; an item "
    "already handed over with this same record is a duplicate (a retry). The answer is 200 whenever the "
    "record itself is acceptable, even when every item was rejected: read the per-item statuses.",
    responses=problems(
        *COMMON,
        409,
        422,
        s409="`handover_record_conflict`: the record number was recorded with another agency, other "
        "signers or another signing time; `concurrent_update`.",
        s422="`invalid_request`, `time_in_future`, `time_out_of_range` (signed_at).",
    ),
)
async def hand_over(cmd: HandOver, caller: Caller, wired: Wired) -> ManifestResult:
    _authorise(caller, cmd.post_office_code, wired)
    return await _guarded(wired, wired.handlers.hand_over(cmd))


# --------------------------------------------------------------------------- result pickup


@router.post(
    "/pickups",
    tags=["return leg"],
    status_code=201,
    summary="Pick up a result at the agency's desk",
    description="Records the result as a new postal item linked to its dossier: by the inbound item id "
    "(form SEND_AND_RECEIVE) or by the agency dossier code (form RECEIVE_RESULT). Answers the last day for "
    "the first delivery attempt. Sending the same pickup again answers the same receipt with 200.",
    responses={
        200: {"model": PickupReceipt, "description": "Already recorded with the same content (a retry)."},
        **problems(
            *COMMON,
            404,
            409,
            422,
            s404="`unknown_item`: the dossier item id was never accepted by the post.",
            s409="`item_already_used`, `not_a_dossier`, `result_not_by_post` (the dossier's form is "
            "SEND_DOSSIER), `dossier_not_handed_over`, `wrong_agency`, `concurrent_update`.",
            s422="`invalid_request`, `time_in_future`, `time_out_of_range`. " + ITEM_ID_REASONS,
        ),
    },
)
async def pick_up_result(
    cmd: PickUpResult, caller: Caller, wired: Wired, response: Response
) -> PickupReceipt:
    _authorise(caller, cmd.post_office_code, wired)
    receipt = await _guarded(wired, wired.handlers.pick_up_result(cmd))
    if receipt.replayed:
        response.status_code = 200
    return receipt


# --------------------------------------------------------------------------- scans


async def _answer_scan(request: Request, cmd: OnlineScanRequest) -> Response:
    """A valid online scan, answered without FastAPI's dependency solving and response serialisation
    (direct_route): the same dependencies, called directly in the order FastAPI calls them."""
    wired = await _post_office(request)
    caller = await _caller(await _authenticated(request, wired, None), wired)
    recorded = await _record_scan(cmd, caller, wired)
    return Response(
        recorded.model_dump_json(),
        status_code=200 if recorded.status == "duplicate" else 201,
        media_type="application/json",
    )


ScanRoute = direct_route(_answer_scan)


def _scan_route(path: str, summary: str, description: str, s409: str, s422: str) -> Callable[[F], F]:
    # router.post's own decorator, with the route class of the direct way (router.post takes none).
    declare = partial(
        router.add_api_route,
        path,
        methods=["POST"],
        route_class_override=ScanRoute,
        tags=["scans"],
        status_code=201,
        summary=summary,
        description=description + " Idempotent by scan_id: sending the same scan again answers 200 with "
        "status duplicate and the event id recorded the first time.",
        responses={
            200: {"model": EventRecorded, "description": "This scan id was recorded earlier (duplicate)."},
            **problems(
                *COMMON,
                404,
                409,
                422,
                s404="`unknown_item`: the item was never recorded by the post.",
                s409=s409 + " `scan_id_reused`: the scan id was recorded for another scan.",
                s422="`invalid_request`, `time_in_future`, `time_out_of_range`"
                + s422
                + ". "
                + ITEM_ID_REASONS,
            ),
        },
    )

    def decorator(endpoint: F) -> F:
        declare(endpoint)
        return endpoint

    return decorator


async def _record_scan(
    request_body: OnlineScanRequest, caller: Principal, wired: PostOffice
) -> EventRecorded:
    _authorise(caller, request_body.post_office_code, wired)
    return await _guarded(
        wired, wired.handlers.record_scan(request_body.post_office_code, as_scan(request_body))
    )


async def _scan_answer(
    request_body: OnlineScanRequest, caller: Principal, wired: PostOffice, response: Response
) -> EventRecorded:
    """FastAPI's way (a request direct_route hands over, which then fails before or at the handler)."""
    recorded = await _record_scan(request_body, caller, wired)
    if recorded.status == "duplicate":
        response.status_code = 200
    return recorded


@_scan_route(
    "/scans/in-transit",
    "Record a transit scan (departed from / arrived at a facility)",
    "The scanning post office or facility is post_office_code.",
    "`already_out_for_delivery`, `not_in_postal_custody`.",
    "",
)
async def scan_in_transit(
    cmd: TransitScanRequest, caller: Caller, wired: Wired, response: Response
) -> EventRecorded:
    return await _scan_answer(cmd, caller, wired, response)


@_scan_route(
    "/scans/out-for-delivery",
    "Record a result taken out for delivery",
    "Starts a delivery attempt; the first one ends the return postal clock.",
    "`not_a_result`, `already_out_for_delivery`, `not_in_postal_custody`.",
    "",
)
async def scan_out_for_delivery(
    cmd: OutForDeliveryRequest, caller: Caller, wired: Wired, response: Response
) -> EventRecorded:
    return await _scan_answer(cmd, caller, wired, response)


@_scan_route(
    "/scans/delivery-failed",
    "Record a failed delivery attempt",
    "Ends the attempt under way with a reason code; the result is back at the post office.",
    "`not_a_result`, `not_out_for_delivery`.",
    "",
)
async def scan_delivery_failed(
    cmd: DeliveryFailedRequest, caller: Caller, wired: Wired, response: Response
) -> EventRecorded:
    return await _scan_answer(cmd, caller, wired, response)


@_scan_route(
    "/scans/delivered",
    "Record a delivered result",
    "The recipient is the applicant or an authorised proxy whose identity document was verified. A result "
    "lying at the post office (collected at the counter after an invitation) may be delivered too.",
    "`not_a_result`, `not_in_postal_custody`.",
    ", `identity_not_verified`, `authorisation_not_checked`",
)
async def scan_delivered(
    cmd: DeliveredRequest, caller: Caller, wired: Wired, response: Response
) -> EventRecorded:
    return await _scan_answer(cmd, caller, wired, response)


@router.post(
    "/scans/batches",
    tags=["scans"],
    summary="Upload an offline scanner's batch (up to 1,000 scans)",
    description="Scans captured earlier, each with its own client-generated scan_id and scan time, applied "
    "in scanned_at order. The answer says per scan: accepted, duplicate (this scan id was recorded before: "
    "sending a batch again changes nothing) or rejected with a reason (invalid_scan, time_without_offset, "
    "time_in_future, time_out_of_range, unknown_item, not_a_result, not_out_for_delivery, "
    "already_out_for_delivery, not_in_postal_custody, identity_not_verified, authorisation_not_checked, "
    "scan_id_reused). All accepted scans are published together and recorded only once Kafka "
    "acknowledged them all.",
    responses=problems(
        *COMMON,
        409,
        422,
        s409="`concurrent_update`: another request recorded the same items at the same moment (retry).",
        s413=f"`batch_too_large`: more than {MAX_BATCH_SCANS} scans; `body_too_large`: more than "
        f"{BATCH_BODY_LIMITS[('POST', '/v1/scans/batches')]} bytes.",
        s422="`invalid_request`: the batch itself does not match the schema (a malformed scan is rejected "
        "alone, in the answer, as `invalid_scan` with `errors`: a wrong item id there has the type "
        "`item_id_length`, `item_id_service_indicator`, `item_id_serial`, `item_id_check_digit` or "
        "`item_id_country_code`).",
    ),
)
async def record_batch(batch: ScanBatch, caller: Caller, wired: Wired) -> BatchResult:
    _authorise(caller, batch.post_office_code, wired)
    return await _guarded(wired, wired.handlers.record_batch(batch))


# --------------------------------------------------------------------------- return, loss, damage


@router.post(
    "/returns",
    tags=["return leg"],
    status_code=201,
    summary="Return an undeliverable result to the agency",
    description="Allowed only after at least two failed delivery attempts at least two working days apart "
    "(Vietnamese working days), and not while the result is out for delivery.",
    responses=problems(
        *COMMON,
        404,
        409,
        422,
        s404="`unknown_item`: the result was never picked up by the post.",
        s409="`too_few_failed_attempts`, `failed_attempts_too_close`, `already_out_for_delivery`, "
        "`not_in_postal_custody` (delivered, returned or lost), `not_a_result`, `wrong_agency`, "
        "`concurrent_update`.",
        s422="`invalid_request`, `time_in_future`, `time_out_of_range`. " + ITEM_ID_REASONS,
    ),
)
async def return_to_agency(cmd: ReturnToAgency, caller: Caller, wired: Wired) -> EventRecorded:
    _authorise(caller, cmd.post_office_code, wired)
    return await _guarded(wired, wired.handlers.return_to_agency(cmd))


_INCIDENT_PROBLEMS = problems(
    *COMMON,
    404,
    409,
    422,
    s409="`not_in_postal_custody`: the item is with the agency, delivered, returned or lost; "
    "`concurrent_update`.",
    s422="`invalid_request`, `time_in_future`, `time_out_of_range`, `compensation_below_minimum` (at fault: "
    "at least 4× the postage). " + ITEM_ID_REASONS,
)


@router.post(
    "/losses",
    tags=["incidents"],
    status_code=201,
    summary="Declare an item lost",
    description="The dossier, supplement or result was lost while the post held it.",
    responses=_INCIDENT_PROBLEMS,
)
async def declare_lost(cmd: ReportIncident, caller: Caller, wired: Wired) -> EventRecorded:
    _authorise(caller, cmd.post_office_code, wired)
    return await _guarded(wired, wired.handlers.declare_lost(cmd))


@router.post(
    "/damages",
    tags=["incidents"],
    status_code=201,
    summary="Record damage to an item",
    description="The item was found damaged; it goes on its way. The same report sent again (same item and "
    "reported_at) publishes the same event id.",
    responses=_INCIDENT_PROBLEMS,
)
async def record_damage(cmd: ReportIncident, caller: Caller, wired: Wired) -> EventRecorded:
    _authorise(caller, cmd.post_office_code, wired)
    return await _guarded(wired, wired.handlers.record_damage(cmd))


# --------------------------------------------------------------------------- HTTP plumbing


def count_schema_refusals(app: FastAPI, metrics: PostOfficeMetrics) -> None:
    """Count the shared handler's malformed_json / invalid_request / item id answers; answer an oversize batch
    with 413 batch_too_large. Runs after services.shared.http.instrument installed its handlers."""
    shared = app.exception_handlers[RequestValidationError]

    async def on_invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if any(e.get("type") == "batch_too_large" for e in exc.errors()):
            metrics.rejected(RequestReason.BATCH_TOO_LARGE)
            return problem(
                413,
                RequestReason.BATCH_TOO_LARGE,
                f"a batch holds at most {MAX_BATCH_SCANS} scans; split it and send the parts",
            )
        answered = shared(request, exc)
        response = await answered if inspect.isawaitable(answered) else answered
        # The shared handler's reason: malformed_json, invalid_request or an S10Error (closed sets).
        metrics.rejected(validation_reason(exc.errors()))
        return response

    app.add_exception_handler(RequestValidationError, on_invalid)


# --------------------------------------------------------------------------- personal data, audited

_NOT_ALLOWED_STATUS = {
    RequestReason.WRONG_POST_OFFICE: 403,
    RequestReason.PURPOSE_NOT_ALLOWED: 403,
    RequestReason.PERSONAL_DATA_NOT_HELD: 404,
}


@router.get(
    "/dossiers/{item_id}/contact",
    tags=["personal data"],
    summary="Read the applicant's contact, for a purpose (audited)",
    description="The contact the post office collected at the acceptance, for one of the purposes it was "
    "collected for (`result_delivery` for a result coming back by post, `notifications`). Every read is "
    "recorded in the audit (who, when, which dossier, which purpose): `GET /v1/audit/personal-data-reads`. "
    "An erased contact answers 200 with `erased: true`, when and why. A clerk of a post office holding "
    "one of the dossier's items, an operator, or the notifications service (role notifier, purpose "
    "`notifications` only).",
    responses=problems(
        401,
        403,
        404,
        409,
        422,
        503,
        s403="`role_not_allowed` (agency credentials; a notifier credential asking for another purpose than "
        "`notifications`), `wrong_post_office` (the clerk's office holds none of the dossier's items), "
        "`purpose_not_allowed` (the contact was not collected for it).",
        s404="`unknown_item`: no dossier with this item id; `personal_data_not_held`: none was collected "
        "(a dossier accepted before the vault has its contact only in its version 1 event).",
        s409="`personal_data_key_unavailable`: the contact is sealed under a key-encryption key this "
        "service does not hold (or a wrong one under its id), named in `detail`; an operator restores it in "
        "PERSONAL_DATA_KEYS. Only this dossier is concerned: not a 5xx, the service is healthy.",
        s422="`invalid_request`: no or an unknown `purpose`, or a malformed item id.",
    ),
)
async def read_contact(item_id: str, purpose: Purpose, caller: Reader, wired: Wired) -> ContactAnswer:
    _role_not_allowed(contact_refusal(caller, purpose), wired)
    try:
        parsed = parse_s10(item_id)
    except ValueError as exc:
        wired.metrics.rejected(RequestReason.INVALID_REQUEST)
        raise ProblemError(422, RequestReason.INVALID_REQUEST, str(exc)) from None
    try:
        return await _guarded(wired, wired.contact_reads.contact(caller, parsed, purpose))
    except NotAllowedError as refused:
        reason = RequestReason(refused.reason)
        wired.metrics.rejected(reason)
        raise ProblemError(_NOT_ALLOWED_STATUS[reason], reason, refused.detail) from None
    except (UnknownKeyIdError, SealBrokenError) as broken:
        wired.metrics.rejected(RequestReason.PERSONAL_DATA_KEY_UNAVAILABLE)
        raise ProblemError(409, RequestReason.PERSONAL_DATA_KEY_UNAVAILABLE, str(broken)) from None


@router.get(
    "/audit/personal-data-reads",
    tags=["personal data"],
    summary="List the reads of applicants' contacts (operators)",
    description="The append-only audit of every read of a contact on this API, newest first (at most "
    "1,000): who read it, when, which dossier, for which purpose. Operators only.",
    responses=problems(
        401,
        403,
        422,
        503,
        s403="`role_not_allowed`: only operators list the audit.",
        s422="`invalid_request`: `dossier` is neither a dossier id nor an item id.",
    ),
)
async def personal_data_reads(
    caller: Caller,
    wired: Wired,
    dossier: Annotated[
        str | None, Query(max_length=36, description="A dossier id or its inbound item id.")
    ] = None,
) -> PersonalDataReads:
    if caller.role is not Role.OPERATOR:
        wired.metrics.rejected(RequestReason.ROLE_NOT_ALLOWED)
        raise ProblemError(403, RequestReason.ROLE_NOT_ALLOWED, "only operators list the audit")
    if dossier is not None:
        try:
            dossier_id_of(dossier)
        except ValueError as exc:
            wired.metrics.rejected(RequestReason.INVALID_REQUEST)
            raise ProblemError(422, RequestReason.INVALID_REQUEST, str(exc)) from None
    return await _guarded(wired, wired.contact_reads.reads(dossier))


# --------------------------------------------------------------------------- a person's rights

RIGHTS_DOC = (
    " Operators only, on the person's behalf; every request is appended to the audit table "
    "`post_office_personal_data_request` (who, when, the phone or ID number only as its keyed HMAC, what "
    "was found or erased)."
)


def _operator_only(caller: Principal, wired: PostOffice) -> Requester:
    if caller.role is not Role.OPERATOR:
        wired.metrics.rejected(RequestReason.ROLE_NOT_ALLOWED)
        raise ProblemError(
            403, RequestReason.ROLE_NOT_ALLOWED, "only operators answer a person's access or erasure request"
        )
    return Requester(subject=caller.subject, role=caller.role.value)


@router.post(
    "/personal-data/access-requests",
    response_model=AccessAnswer,
    tags=["personal data"],
    summary="What the post office holds about a person (by phone or ID number)",
    description="Lists every record the post office's vault holds (or held: erased ones) about the person "
    "named by a phone number or an ID number: dossier, kind, purposes, when each purpose ends and until "
    "when the record is held, when it was collected; never the data itself." + RIGHTS_DOC,
    responses=problems(
        *COMMON,
        422,
        s403="`role_not_allowed`: only operators.",
        s422="`invalid_request`: not exactly one of `phone`, `id_number`, or one of them malformed.",
    ),
)
async def personal_data_access(caller: Caller, wired: Wired, request: AccessRequest) -> AccessAnswer:
    requester = _operator_only(caller, wired)
    return await _guarded(wired, wired.rights.access(request, requester))


@router.post(
    "/personal-data/erasure-requests",
    response_model=ErasureAnswer,
    tags=["personal data"],
    summary="Erase what the post office holds about a person (by phone, ID number or dossier)",
    description="Erases every record found (the sealed data and its key; a tombstone stays) and publishes "
    "`postal.personal_data_erased` (reason `request`) for each dossier, acknowledged by Kafka before the "
    "erasure commits: a 503 erased nothing." + RIGHTS_DOC,
    responses=problems(
        *COMMON,
        422,
        s403="`role_not_allowed`: only operators.",
        s422="`invalid_request`: not exactly one of `phone`, `id_number`, `dossier`, or one malformed.",
    ),
)
async def personal_data_erasure(caller: Caller, wired: Wired, request: ErasureRequest) -> ErasureAnswer:
    requester = _operator_only(caller, wired)
    return await _guarded(wired, wired.rights.erase(request, requester))


@router.get(
    "/audit/personal-data-requests",
    response_model=RightsRequests,
    tags=["personal data"],
    summary="List the access and erasure requests (operators)",
    description="The append-only audit of every access and erasure request this service answered, newest "
    "first (at most 1,000): who asked, when, how the person was named (never the number itself), what was "
    "found and what was erased. Operators only.",
    responses=problems(401, 403, 503, s403="`role_not_allowed`: only operators list the audit."),
)
async def personal_data_requests(caller: Caller, wired: Wired) -> RightsRequests:
    _operator_only(caller, wired)
    return await _guarded(wired, wired.rights.requests())

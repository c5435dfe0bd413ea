"""The staff's read of what the citizen (or the agency's desk) was told about a dossier, and how it went.

``GET /v1/dossiers/{dossier_id}/messages``: every message of the dossier, oldest first — its kind (the
template), channel, status and reason, attempts, when it was planned and sent, the provider's delivery
report, and the channel it fell back from. Never the address, the phone, the rendered text or the
template's parameters.

Staff only, in scope by the services' one rule (services/shared/auth/scopes.py): an operator reads every
dossier, an agency's officer those addressed to their agency, a post office's staff those their office
accepted. A dossier outside the caller's scope is answered like an unknown one (404), as the tracker and
the turnaround answer it: a dossier id, derived from an item id anyone can read off a parcel, reveals
nothing.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.values import AwareTime, parse_dossier_id
from services.notifications.adapters.history import history_of
from services.notifications.domain import Kind
from services.notifications.ports import Channel, ReceiptStatus
from services.shared.auth import REFUSAL_DOC, Principal
from services.shared.auth.access import NOT_STAFF_DOC
from services.shared.auth.authenticator import Authenticator
from services.shared.auth.scopes import may_read_dossier
from services.shared.http import ProblemError, authenticated, problem_response, staff

Status = Literal["pending", "sending", "sent", "failed", "suppressed", "dead"]
"""The statuses of services/notifications/adapters/repository.py (a test keeps the two the same)."""

bearer = HTTPBearer(
    auto_error=False,
    description="A staff credential issued by `dossier-credentials issue` (post office, agency or operator).",
)


async def principal(
    request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    authenticator: Authenticator = request.app.state.authenticator
    return staff(await authenticated(authenticator, request))


Caller = Annotated[Principal, Depends(principal)]


class DeliveryReport(BaseModel):
    """What the provider reported later about the message it accepted (its delivery receipt)."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    status: ReceiptStatus
    code: str | None
    """The provider's own code, as given."""
    reported_at: AwareTime | None
    """When the provider says it happened; null when it did not say."""


class MessageOutcome(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    message_id: str
    kind: Kind
    """The message's template: what the citizen (or, for the clock alerts, the agency's desk) was told."""
    occurrence: int
    """Which one of its kind: the delivery attempt, the supplement request's number, a due date's day."""
    channel: Channel | None
    """Null for the one record of a message nobody may be sent (no consented channel)."""
    status: Status
    """pending → sending → sent, failed or dead (the retries used up); or suppressed from the start."""
    reason: str | None
    """Why it is not (yet) sent: a suppression's reason (`no_consent`, `erased`, …), or the provider's
    code or failure of the last attempt."""
    attempts: int
    created_at: AwareTime
    """When the message was planned."""
    sent_at: AwareTime | None
    """When the provider accepted it."""
    provider_code: str | None
    """The provider's answer code to the last attempt."""
    delivery: DeliveryReport | None
    """The provider's delivery report; null until one is received."""
    fallback_from: Channel | None
    """The channel whose permanent failure this message falls back from; null for the first choice."""


class DossierMessages(BaseModel):
    dossier_id: str
    messages: list[MessageOutcome]


REFUSALS: dict[int | str, dict[str, Any]] = {
    401: problem_response(
        REFUSAL_DOC, {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}}
    ),
    403: problem_response(f"`forbidden`: {NOT_STAFF_DOC}; staff only."),
    404: problem_response(
        "Unknown, or outside the credential's scope (the two are not told apart): `not_found`."
    ),
    422: problem_response(
        "The dossier id is not a lower-case UUID: `invalid_dossier_id` or `invalid_request`."
    ),
    503: problem_response(
        "The database did not answer: `database_unavailable`. Retry after Retry-After seconds.",
        {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
    ),
}

router = APIRouter(tags=["staff"])


@router.get(
    "/v1/dossiers/{dossier_id}/messages",
    response_model=DossierMessages,
    responses=REFUSALS,
    summary="A dossier's messages and their outcomes, oldest first (staff, in scope)",
)
async def dossier_messages(
    request: Request,
    caller: Caller,
    dossier_id: Annotated[str, Path(max_length=36, description="The dossier id.")],
) -> DossierMessages:
    try:
        dossier_id = parse_dossier_id(dossier_id)
    except ValueError as exc:
        raise ProblemError(422, "invalid_dossier_id", str(exc)) from None
    engine: AsyncEngine = request.app.state.notifications.engine
    async with engine.connect() as conn:
        history = await history_of(conn, dossier_id)
    if history is None or not may_read_dossier(
        caller, agency_code=history.agency_code, post_offices={history.post_office_code}
    ):
        raise ProblemError(404, "not_found", "no such dossier within this credential's scope")
    return DossierMessages(dossier_id=dossier_id, messages=[_outcome(row) for row in history.messages])


def _outcome(row: Any) -> MessageOutcome:
    delivery = None
    if row.delivery is not None:
        delivery = DeliveryReport(
            status=ReceiptStatus(row.delivery), code=row.delivery_code, reported_at=row.delivery_reported_at
        )
    return MessageOutcome(
        message_id=row.message_id,
        kind=Kind(row.kind),
        occurrence=row.occurrence,
        channel=None if row.channel is None else Channel(row.channel),
        status=row.status,
        reason=row.reason,
        attempts=row.attempts,
        created_at=row.created_at,
        sent_at=row.sent_at,
        provider_code=row.provider_code,
        delivery=delivery,
        fallback_from=None if row.fallback_from is None else Channel(row.fallback_from),
    )

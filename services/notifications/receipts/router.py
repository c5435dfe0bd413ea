"""The receipt endpoints, one per provider: authenticate, parse, hand the Receipt to the service.

``POST /receipts/sms`` (and GET, the method eSMS documents for its callbacks: parameters in the query
string; a POST may carry them in a JSON object body too) and ``POST /receipts/zalo``. A refused callback
answers 401 (not authentic, never applied) or 422 (authentic but not a receipt) as problem+json; an
authentic one answers 200 whatever ``apply`` made of it, so the provider stops resending: a receipt for a
message we do not know yet is not the provider's error.

What ``apply`` must guarantee (the service implements it, the router relies on it):

- idempotent: the same receipt twice changes nothing the second time (providers resend until they get a
  200, and a 200 can be lost);
- store-ahead: a receipt for a message not recorded yet (it can overtake the record of the send it
  reports on) is kept and applied when the send is recorded — matched by ``provider_message_id`` or by
  ``client_reference`` — never dropped and never an error;
- order-tolerant: receipts can arrive in any order; DELIVERED and PERMANENT_FAILURE are final and a
  later TEMPORARY_FAILURE does not undo them;
- it raises only when nothing was recorded (the database is down): the endpoint then fails, and the
  provider's resend brings the receipt again.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.notifications.ports import Receipt
from services.notifications.receipts import esms, zalo
from services.notifications.receipts.verdicts import Ignored, ReceiptRefusedError
from services.shared.http import problem


class ReceiptApplied(StrEnum):
    APPLIED = "applied"
    """The message's outcome moved (delivered, or failed with the provider's code)."""
    DUPLICATE = "duplicate"
    """Already known, or overtaken by a final status: nothing changed."""
    STORED_AHEAD = "stored_ahead"
    """No send recorded under that id yet: kept, applied when the send is recorded."""


Apply = Callable[[Receipt], Awaitable[ReceiptApplied]]


@dataclass(frozen=True)
class ReceiptSecrets:
    esms_callback_secret: bytes
    """The secret channels.sms signs each CallbackUrl with."""
    zalo_app_id: str
    zalo_oa_secret_key: str


def _refused(refusal: ReceiptRefusedError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Signature"} if refusal.status == 401 else None
    return problem(refusal.status, refusal.reason, refusal.detail, headers)


async def _answer(parsed: Receipt | Ignored, apply: Apply) -> JSONResponse:
    if isinstance(parsed, Ignored):
        return JSONResponse({"receipt": "ignored", "reason": parsed.reason})
    applied = await apply(parsed)
    return JSONResponse({"receipt": applied.value})


async def _esms_params(request: Request) -> dict[str, str]:
    params = dict(request.query_params)
    if request.method == "POST" and (raw := await request.body()):
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ReceiptRefusedError(422, "invalid_receipt", "a POSTed report is a JSON object")
        params.update({str(k): str(v) for k, v in body.items() if v is not None})
    return params


def receipts_router(apply: Apply, secrets: ReceiptSecrets) -> APIRouter:
    """Only the providers whose secret is configured get an endpoint: an empty secret would let anyone
    sign a receipt."""
    router = APIRouter(tags=["receipts"])
    if secrets.esms_callback_secret:
        _sms_route(router, apply, secrets.esms_callback_secret)
    if secrets.zalo_oa_secret_key:
        _zalo_route(router, apply, secrets.zalo_app_id, secrets.zalo_oa_secret_key)
    return router


def _sms_route(router: APIRouter, apply: Apply, secret: bytes) -> None:
    @router.api_route(
        "/receipts/sms",
        methods=["GET", "POST"],
        summary="eSMS delivery report (its CallbackUrl)",
        response_model=None,
    )
    async def sms_receipt(request: Request) -> JSONResponse:
        try:
            parsed = esms.parse(await _esms_params(request), secret)
        except ReceiptRefusedError as refusal:
            return _refused(refusal)
        return await _answer(parsed, apply)


def _zalo_route(router: APIRouter, apply: Apply, app_id: str, oa_secret_key: str) -> None:
    @router.post("/receipts/zalo", summary="Zalo OA webhook (ZNS delivery)", response_model=None)
    async def zalo_receipt(request: Request) -> JSONResponse:
        try:
            parsed = zalo.parse(
                await request.body(),
                request.headers.get(zalo.SIGNATURE_HEADER),
                app_id,
                oa_secret_key,
            )
        except ReceiptRefusedError as refusal:
            return _refused(refusal)
        return await _answer(parsed, apply)

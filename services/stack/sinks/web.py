"""The local eSMS and Zalo ZNS: their send calls on one HTTP server (their paths differ), each accepted
message kept as a JSON file, then reported delivered the way each provider reports: eSMS by a GET of the
message's CallbackUrl with SendStatus=5, Zalo by a signed `user_received_message` POSTed to the Official
Account's webhook. A report the notifications service does not take is tried again a few times, as eSMS
documents, then given up: the message stays sent, as with a provider whose report was lost."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.shared.logs import log_event
from services.stack.sinks.accounts import ZALO_APP_ID, LocalAccounts
from services.stack.sinks.files import Drop
from services.stack.sinks.providers import (
    ESMS_ACCEPTED,
    ESMS_DELIVERED,
    ESMS_SEND_PATH,
    ZALO_SEND_PATH,
    EsmsRequestIds,
    esms_answer,
    esms_report,
    zalo_answer,
    zalo_webhook,
)

logger = logging.getLogger(__name__)

REPORT_ATTEMPTS = 5
CREDENTIALS = frozenset({"ApiKey", "SecretKey"})


@dataclass(frozen=True)
class Drops:
    sms: Drop
    zalo: Drop


async def _report(channel: str, call: Callable[[], Awaitable[httpx.Response]]) -> None:
    for attempt in range(REPORT_ATTEMPTS):
        try:
            if (await call()).is_success:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(2**attempt)
    # Which channel, never which message or address.
    log_event(logger, "sink_report_given_up", logging.WARNING, channel=channel)


def sinks_app(
    accounts: LocalAccounts, drops: Drops, http: httpx.AsyncClient, *, zalo_webhook_url: str | None
) -> Starlette:
    """``http`` makes the reports (its owner closes it)."""
    request_ids = EsmsRequestIds()

    async def esms_send(request: Request) -> Response:
        body = await _json(request)
        answer = esms_answer(body, accounts.esms, request_ids)
        if answer["CodeResult"] != ESMS_ACCEPTED:
            return JSONResponse(answer)
        kept = {k: v for k, v in body.items() if k not in CREDENTIALS}
        drops.sms.keep_json({"received_at": _now(), **kept, "SMSID": answer["SMSID"]})
        callback = body.get("CallbackUrl")
        if not callback:
            return JSONResponse(answer)
        url = esms_report(
            str(callback),
            sms_id=answer["SMSID"],
            request_id=str(body.get("RequestId") or ""),
            status=ESMS_DELIVERED,
            phone=str(body["Phone"]),
        )
        return JSONResponse(answer, background=BackgroundTask(_report, "sms", lambda: http.get(url)))

    async def zalo_send(request: Request) -> Response:
        body = await _json(request)
        answer = zalo_answer(body, request.headers, accounts.zalo)
        if answer["error"] != 0:
            return JSONResponse(answer)
        msg_id = answer["data"]["msg_id"]
        drops.zalo.keep_json({"received_at": _now(), **body, "msg_id": msg_id})
        if not zalo_webhook_url:
            return JSONResponse(answer)
        raw, headers = zalo_webhook(
            ZALO_APP_ID, accounts.zalo_oa_secret_key, msg_id=msg_id, tracking_id=str(body.get("tracking_id"))
        )
        url = zalo_webhook_url
        task = BackgroundTask(_report, "zalo", lambda: http.post(url, content=raw, headers=headers))
        return JSONResponse(answer, background=task)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route(ESMS_SEND_PATH, esms_send, methods=["POST"]),
            Route(ZALO_SEND_PATH, zalo_send, methods=["POST"]),
            Route("/health", health),
        ]
    )


async def _json(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        return None


def _now() -> str:
    return datetime.now(UTC).isoformat()

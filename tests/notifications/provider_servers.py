"""Local HTTP servers speaking the providers' documented formats, on random localhost ports.

- ``esms_server``: eSMS's ``SendMultipleMessage_V4_post_json`` (channels/sms.py cites the pages): checks
  the ApiKey/SecretKey (101), the phone (108), refuses a RequestId it has seen (124, as eSMS does for 24
  hours), else answers 100 with an SMSID.
- ``zalo_server``: Zalo ZNS ``/message/template`` (channels/zalo.py): checks the ``access_token`` header
  (-124), the phone (-108) and the template id (-109), else answers ``error`` 0 with ``data.msg_id``.

Switches, consumed one per request in the order given (``answer_next``), then back to the documented
behaviour: ``Code(value)`` answers that provider code, ``Status(n)`` an HTTP status, ``HANG`` holds the
request past any client timeout (released when the server stops), ``GARBAGE`` a 200 that is not JSON,
``DUPLICATE`` eSMS's duplicate answer whatever the RequestId.

The providers' callbacks are built here too, as each provider sends them: ``esms_callback`` (the query
string eSMS appends to a CallbackUrl) and ``zalo_webhook`` (a signed ``user_received_message``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

DEADLINE_S = 30.0
HANG_MAX_S = 20.0


@dataclass(frozen=True)
class Code:
    value: str | int


@dataclass(frozen=True)
class Status:
    status: int


HANG = "hang"
GARBAGE = "garbage"
DUPLICATE = "duplicate"
Behaviour = Code | Status | str

PHONE = re.compile(r"84\d{9}")


@dataclass
class ProviderServer:
    port: int = 0
    script: deque[Behaviour] = field(default_factory=deque)
    requests: list[tuple[dict[str, str], Any]] = field(default_factory=list)
    """Every request received: its headers and its JSON body."""
    release: threading.Event = field(default_factory=threading.Event)
    issued: list[str] = field(default_factory=list)
    """Zalo: the msg_id of each request, chosen when the request arrives (before a HANG holds it), so a
    test can send that message's webhook while the sender still waits for the answer."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answer_next(self, *behaviours: Behaviour) -> None:
        self.script.extend(behaviours)

    def bodies(self) -> list[Any]:
        return [body for _, body in self.requests]

    async def scripted(self, request: Request) -> tuple[Any, Behaviour | None]:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        self.requests.append((dict(request.headers), body))
        behaviour = self.script.popleft() if self.script else None
        if behaviour == HANG:
            # The slow provider under test: holds the answer until the test ends or HANG_MAX_S.
            await asyncio.to_thread(self.release.wait, HANG_MAX_S)
        return body, behaviour


def _common(behaviour: Behaviour | None) -> Response | None:
    if isinstance(behaviour, Status):
        return PlainTextResponse("gateway says no", status_code=behaviour.status)
    if behaviour == GARBAGE:
        return PlainTextResponse("<html>maintenance</html>")
    return None


# --------------------------------------------------------------------------- eSMS

ESMS_API_KEY = "esms-api-key"
ESMS_SECRET_KEY = "esms-secret-key"


def esms_app(server: ProviderServer) -> Starlette:
    seen: set[str] = set()

    async def send(request: Request) -> Response:
        body, behaviour = await server.scripted(request)
        if (answer := _common(behaviour)) is not None:
            return answer
        if isinstance(behaviour, Code):
            return JSONResponse({"CodeResult": str(behaviour.value), "ErrorMessage": "scripted"})
        if behaviour == DUPLICATE:
            return JSONResponse({"CodeResult": "124", "ErrorMessage": "Duplicate RequestId"})
        if body.get("ApiKey") != ESMS_API_KEY or body.get("SecretKey") != ESMS_SECRET_KEY:
            return JSONResponse({"CodeResult": "101", "ErrorMessage": "Authorize Failed"})
        if not PHONE.fullmatch(str(body.get("Phone"))):
            return JSONResponse({"CodeResult": "108", "ErrorMessage": "Phone number invalid"})
        request_id = body.get("RequestId")
        if request_id in seen:
            return JSONResponse({"CodeResult": "124", "ErrorMessage": "Duplicate RequestId"})
        if request_id:
            seen.add(request_id)
        return JSONResponse({"CodeResult": "100", "CountRegenerate": 0, "SMSID": uuid.uuid4().hex})

    return Starlette(
        routes=[Route("/MainService.svc/json/SendMultipleMessage_V4_post_json/", send, methods=["POST"])]
    )


def esms_callback(callback_url: str, *, sms_id: str, request_id: str, status: str, failed: int = 0) -> str:
    """The URL eSMS calls (GET) for a report: our CallbackUrl with its report parameters appended."""
    parts = urlsplit(callback_url)
    report = {
        "SMSID": sms_id,
        "RequestId": request_id,
        "SendStatus": status,
        "SendSuccess": "0" if failed else "1",
        "SendFailed": str(failed),
        "TotalSent": "1",
        "TotalReceiver": "1",
        "Totalprice": "800",
        "TypeId": "2",
        "telcoid": "1",
        "phonenumber": "84912345678",
    }
    query = "&".join(f"{k}={v}" for k, v in [*parse_qsl(parts.query), *report.items()])
    return f"{parts.path}?{query}"


# --------------------------------------------------------------------------- Zalo ZNS

ZALO_ACCESS_TOKEN = "zalo-oa-access-token"
ZALO_TEMPLATES = {"accepted.zalo": "305512", "delay.zalo": "305513"}


def zalo_app(server: ProviderServer) -> Starlette:
    async def send(request: Request) -> Response:
        msg_id = uuid.uuid4().hex[:20]
        server.issued.append(msg_id)
        body, behaviour = await server.scripted(request)
        if (answer := _common(behaviour)) is not None:
            return answer
        if isinstance(behaviour, Code):
            return JSONResponse({"error": int(behaviour.value), "message": "scripted"})
        if request.headers.get("access_token") != ZALO_ACCESS_TOKEN:
            return JSONResponse({"error": -124, "message": "Access token invalid"})
        if not PHONE.fullmatch(str(body.get("phone"))):
            return JSONResponse({"error": -108, "message": "Phone number invalid"})
        if body.get("template_id") not in ZALO_TEMPLATES.values():
            return JSONResponse({"error": -109, "message": "Template ID invalid"})
        data = {
            "msg_id": msg_id,
            "sent_time": str(int(time.time() * 1000)),
            "quota": {"dailyQuota": "500", "remainingQuota": "499"},
        }
        return JSONResponse({"error": 0, "message": "Success", "data": data})

    return Starlette(routes=[Route("/message/template", send, methods=["POST"])])


def zalo_webhook(
    app_id: str,
    oa_secret_key: str,
    *,
    msg_id: str,
    tracking_id: str,
    event_name: str = "user_received_message",
) -> tuple[bytes, dict[str, str]]:
    """A ZNS delivery event as Zalo POSTs it: the raw body and its headers, signed."""
    timestamp = str(int(time.time() * 1000))
    event = {
        "app_id": app_id,
        "event_name": event_name,
        "timestamp": timestamp,
        "sender": {"id": "579745863508352884"},
        "recipient": {"id": "5486218451456165"},
        "message": {"msg_id": msg_id, "tracking_id": tracking_id, "delivery_time": timestamp},
        "user_id_by_app": "552177279717587730",
    }
    raw = json.dumps(event).encode()
    mac = hashlib.sha256(app_id.encode() + raw + timestamp.encode() + oa_secret_key.encode()).hexdigest()
    return raw, {"content-type": "application/json", "X-ZEvent-Signature": f"mac={mac}"}


# --------------------------------------------------------------------------- serving


@contextlib.contextmanager
def serving(app: Any) -> Iterator[int]:
    """``app`` on real uvicorn in a thread of its own, on a random localhost port; yields the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + DEADLINE_S
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(DEADLINE_S)
        sock.close()


@contextlib.contextmanager
def provider(kind: str) -> Iterator[ProviderServer]:
    state = ProviderServer()
    app = esms_app(state) if kind == "esms" else zalo_app(state)
    with serving(app) as port:
        state.port = port
        try:
            yield state
        finally:
            # Free the requests held by HANG before the server waits for them to finish.
            state.release.set()

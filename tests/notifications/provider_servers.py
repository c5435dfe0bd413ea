"""Local HTTP servers speaking the providers' documented formats, on random localhost ports: eSMS's
send call and Zalo ZNS's, answered as services/stack/sinks/providers.py describes (the local run's sinks
answer the same way), with switches for the failures the tests need.

Switches, consumed one per request in the order given (``answer_next``), then back to the documented
behaviour: ``Code(value)`` answers that provider code, ``Status(n)`` an HTTP status, ``HANG`` holds the
request past any client timeout (released when the server stops), ``GARBAGE`` a 200 that is not JSON,
``DUPLICATE`` eSMS's duplicate answer whatever the RequestId.

The providers' callbacks, as each provider sends them: ``esms_callback`` (the CallbackUrl with eSMS's
report appended) and ``zalo_webhook`` (a signed ``user_received_message``, from the sinks' module).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from services.stack.sinks.providers import (
    ESMS_SEND_PATH,
    ZALO_SEND_PATH,
    EsmsAccount,
    EsmsRequestIds,
    ZaloAccount,
    esms_answer,
    esms_report,
    zalo_answer,
    zalo_webhook,
)

__all__ = ["zalo_webhook"]  # the tests import it from here, with the servers

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
ESMS_ACCOUNT = EsmsAccount(ESMS_API_KEY, ESMS_SECRET_KEY)


def esms_app(server: ProviderServer) -> Starlette:
    request_ids = EsmsRequestIds()

    async def send(request: Request) -> Response:
        body, behaviour = await server.scripted(request)
        if (answer := _common(behaviour)) is not None:
            return answer
        if isinstance(behaviour, Code):
            return JSONResponse({"CodeResult": str(behaviour.value), "ErrorMessage": "scripted"})
        if behaviour == DUPLICATE:
            return JSONResponse({"CodeResult": "124", "ErrorMessage": "Duplicate RequestId"})
        return JSONResponse(esms_answer(body, ESMS_ACCOUNT, request_ids))

    return Starlette(routes=[Route(ESMS_SEND_PATH, send, methods=["POST"])])


def esms_callback(callback_url: str, *, sms_id: str, request_id: str, status: str, failed: int = 0) -> str:
    """The path and query eSMS calls (GET) for a report: our CallbackUrl with its report appended."""
    report = esms_report(
        callback_url, sms_id=sms_id, request_id=request_id, status=status, phone="84912345678", failed=failed
    )
    parts = urlsplit(report)
    return f"{parts.path}?{parts.query}"


# --------------------------------------------------------------------------- Zalo ZNS

ZALO_ACCESS_TOKEN = "zalo-oa-access-token"
ZALO_TEMPLATES = {"accepted.zalo": "305512", "delay.zalo": "305513"}
ZALO_ACCOUNT = ZaloAccount(ZALO_ACCESS_TOKEN, frozenset(ZALO_TEMPLATES.values()))


def zalo_app(server: ProviderServer) -> Starlette:
    async def send(request: Request) -> Response:
        msg_id = uuid.uuid4().hex[:20]
        server.issued.append(msg_id)
        body, behaviour = await server.scripted(request)
        if (answer := _common(behaviour)) is not None:
            return answer
        if isinstance(behaviour, Code):
            return JSONResponse({"error": int(behaviour.value), "message": "scripted"})
        return JSONResponse(zalo_answer(body, request.headers, ZALO_ACCOUNT, msg_id))

    return Starlette(routes=[Route(ZALO_SEND_PATH, send, methods=["POST"])])


# --------------------------------------------------------------------------- serving


@contextlib.contextmanager
def serving(app: Any, port: int = 0) -> Iterator[int]:
    """``app`` on real uvicorn in a thread of its own, on ``port`` of localhost (0: a random one); yields
    the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
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

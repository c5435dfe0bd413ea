"""Request bodies are bounded in size and in time before any route sees them.

A pure ASGI middleware (BaseHTTPMiddleware would buffer and hide the stream). A declared Content-Length
over the limit is refused at once, before a byte of the body is read; a chunked body is counted as it
arrives and refused as soon as it passes the limit, so at most the limit (plus the server's 64 KiB read
buffer) is ever read from a client. The whole body must arrive within the body deadline, or the answer
is 408: a client trickling bytes cannot hold a connection and its buffer. Both refusals close the
connection (uvicorn closes after an answer that says `connection: close`), so the rest is never read.

The body is read in full before the app runs, then handed over in one message: the app never starts on
a request it could not finish, and the refusal is the only answer sent.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping

from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.shared.http_settings import HttpServiceSettings

BODY_TOO_LARGE = "body_too_large"
BODY_TIMEOUT = "body_timeout"

RouteKey = tuple[str, str]
"""(method, path) of a route whose body limit differs from the service's: batch endpoints."""


class BodyLimit:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        timeout_s: float,
        route_limits: Mapping[RouteKey, int] | None = None,
        on_refused: Callable[[str], None] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.route_limits = dict(route_limits or {})
        self.on_refused = on_refused

    def limit_of(self, scope: Scope) -> int:
        return self.route_limits.get(
            (str(scope.get("method", "")), str(scope.get("path", ""))), self.max_bytes
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_of(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await self._refuse(
                send, 413, BODY_TOO_LARGE, f"the request body is larger than {limit} bytes", limit
            )
            return
        try:
            async with asyncio.timeout(self.timeout_s):
                body = await _read_body(receive, limit)
        except TimeoutError:
            await self._refuse(
                send, 408, BODY_TIMEOUT, f"the request body did not arrive within {self.timeout_s:g} seconds"
            )
            return
        except _TooLargeError:
            await self._refuse(
                send, 413, BODY_TOO_LARGE, f"the request body is larger than {limit} bytes", limit
            )
            return
        if body is None:  # the client went away: nobody to answer
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect, as the server would

        await self.app(scope, replay, send)

    async def _refuse(
        self, send: Send, status: int, reason: str, detail: str, limit: int | None = None
    ) -> None:
        if self.on_refused is not None:
            self.on_refused(reason)
        problem: dict[str, object] = {"status": status, "reason": reason, "detail": detail}
        if limit is not None:
            problem["limit_bytes"] = limit
        content = json.dumps(problem).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(content)).encode()),
                    # The rest of the body is not wanted: the server closes instead of reading it.
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": content})


class _TooLargeError(Exception):
    pass


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None when the client left; raises _TooLargeError as soon as it passes `limit`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLargeError
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers") or ():
        if name == b"content-length":
            # The HTTP parser already refused a malformed value with 400.
            return int(value) if value.isdigit() else None
    return None


def limit_bodies(
    app: Starlette,
    settings: HttpServiceSettings,
    *,
    route_limits: Mapping[RouteKey, int] | None = None,
    on_refused: Callable[[str], None] | None = None,
) -> None:
    """Bound `app`'s request bodies by the service's settings. Call it before services.shared.http's
    instrument(): the request metrics then wrap it and count its refusals too."""
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        timeout_s=settings.body_timeout_s,
        route_limits=route_limits,
        on_refused=on_refused,
    )

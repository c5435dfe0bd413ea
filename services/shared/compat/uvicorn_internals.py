"""uvicorn's private parts: the httptools protocol class and the hooks a subclass of it relies on.

Checked by tests/compat/test_uvicorn_internals.py; pyproject.toml bounds uvicorn to the tested line.
"""

from __future__ import annotations

import asyncio
import inspect

import uvicorn

# uvicorn documents `http=` as accepting a protocol class but not the classes it ships nor their hooks.
# services.shared.http_server subclasses this one to bound each request's headers in time and size,
# which uvicorn's settings do not (h11_max_incomplete_event_size applies to the h11 parser only).
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from services.shared.compat import InternalsChangedError, module_path

__all__ = ["HttpToolsProtocol", "check"]

LIBRARY = "uvicorn"
MODULE = module_path(__name__)

# The methods services.shared.http_server.GuardedHttpToolsProtocol overrides and calls through super(),
# with the parameters it passes.
HOOKS: dict[str, tuple[str, ...]] = {
    "connection_made": ("transport",),
    "connection_lost": ("exc",),
    "data_received": ("data",),
    "on_message_begin": (),
    "on_headers_complete": (),
    "on_response_complete": (),
}
# The instance attributes it reads: the event loop (its header deadline), the connection's transport
# (to answer 431 and close) and the keep-alive timer (set only while the connection is idle).
ATTRIBUTES = ("loop", "transport", "timeout_keep_alive_task")


async def check(protocol_class: type[HttpToolsProtocol] = HttpToolsProtocol) -> None:
    """Raise InternalsChangedError unless `protocol_class` has every hook and attribute above."""
    for name, parameters in HOOKS.items():
        hook = getattr(protocol_class, name, None)
        if not callable(hook) or tuple(inspect.signature(hook).parameters)[1:] != parameters:
            raise InternalsChangedError(LIBRARY, f"HttpToolsProtocol.{name}({', '.join(parameters)})", MODULE)
    config = uvicorn.Config(_no_app, log_config=None)
    config.load()
    protocol = protocol_class(
        config=config, server_state=ServerState(), app_state={}, _loop=asyncio.get_running_loop()
    )
    for name in ATTRIBUTES:
        if not hasattr(protocol, name):
            raise InternalsChangedError(LIBRARY, f"the attribute HttpToolsProtocol.{name}", MODULE)


async def _no_app(scope: object, receive: object, send: object) -> None:
    return None

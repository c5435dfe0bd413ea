"""uvicorn's private parts: the httptools protocol class and the hooks a subclass of it relies on.

Checked by tests/compat/test_uvicorn_internals.py; pyproject.toml bounds uvicorn to the tested line.
"""

from __future__ import annotations

import asyncio
import inspect

import uvicorn
from uvicorn.config import STARTUP_FAILURE

# uvicorn documents `http=` as accepting a protocol class but not the classes it ships nor their hooks.
# services.shared.http_server subclasses this one to bound each request's headers in time and size,
# which uvicorn's settings do not (h11_max_incomplete_event_size applies to the h11 parser only).
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

# uvicorn documents `workers=` of uvicorn.run (and --workers) but not the supervisor behind it.
# services.shared.http_server runs it itself because uvicorn.run builds its own Config, which the
# supervisor pickles into each spawned worker: the service's Config rebuilds itself there from its
# settings (the guarded protocol is a class made per service, which pickle cannot carry by name).
# STARTUP_FAILURE: the exit code of a worker that could not start, after which the supervisor stops.
from uvicorn.supervisors import Multiprocess

from services.shared.compat import InternalsChangedError, module_path

__all__ = ["STARTUP_FAILURE", "HttpToolsProtocol", "Multiprocess", "check"]

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
    check_supervisor()


# What services.shared.http_server uses of the supervisor: Multiprocess(config, sockets).run(), and
# after it returned, each worker's exit code (a worker that failed to start stops the parent).
SUPERVISOR_PARAMETERS = ("config", "sockets")


def check_supervisor(supervisor: type = Multiprocess) -> None:
    """Raise InternalsChangedError unless the supervisor is still built and run as http_server does."""
    if tuple(inspect.signature(supervisor).parameters) != SUPERVISOR_PARAMETERS:
        raise InternalsChangedError(LIBRARY, "Multiprocess(config, sockets)", MODULE)
    if not callable(getattr(supervisor, "run", None)) or not hasattr(supervisor, "keep_subprocess_alive"):
        raise InternalsChangedError(LIBRARY, "Multiprocess.run and its replacing of dead workers", MODULE)


async def _no_app(scope: object, receive: object, send: object) -> None:
    return None

"""The one way every service runs uvicorn: proxies trusted only when named, slow or bloated headers cut off.

uvicorn believes X-Forwarded-For from 127.0.0.1 by default, so any local process (or a proxy that passes
the header through) picks the client address the APIs rate-limit by. Here proxy headers are honoured only
from the addresses in the service's FORWARDED_ALLOW_IPS setting, and by default from none.

uvicorn bounds idle keep-alive connections (timeout_keep_alive) but has no deadline for a request's
headers, and its httptools parser no size limit for them (h11_max_incomplete_event_size applies to the
h11 parser only). `GuardedHttpToolsProtocol` adds both: headers must arrive within header_timeout_s of
the connection's opening (or of the previous answer) and fit in max_header_bytes. Bodies are bounded by
services.shared.body_limit.

`serve_workers` runs an API on several worker processes (uvicorn's supervisor: one listening socket,
bound by the parent, shared by spawned workers; a worker that dies is replaced). Each worker builds its
app and its uvicorn configuration itself, from the same settings, so every option above holds in every
worker; metrics are summed over the workers (services.shared.worker_metrics).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable
from typing import Any

import uvicorn

from services.shared.compat.uvicorn_internals import STARTUP_FAILURE, HttpToolsProtocol, Multiprocess
from services.shared.http_settings import HttpServiceSettings
from services.shared.launcher import stop_with_parent
from services.shared.worker_metrics import shared_metrics_dir


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline and a size limit on each request's headers."""

    header_timeout_s: float = 10.0
    max_header_bytes: int = 64 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None
        self._awaiting_headers = True
        self._header_bytes = 0
        self._header_tail = b""

    def _arm_header_deadline(self) -> None:
        self._awaiting_headers = True
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        if self._awaiting_headers and not self._headers_fit(data):
            self._refuse_headers()
            return
        super().data_received(data)

    def _headers_fit(self, data: bytes) -> bool:
        # Raw bytes up to the blank line that ends the headers, counted before the parser sees them:
        # httptools gathers a header's value whole before handing it over, however long it grows.
        window = self._header_tail + data
        end = window.find(b"\r\n\r\n")
        self._header_bytes += len(data) if end < 0 else max(0, end + 4 - len(self._header_tail))
        self._header_tail = window[-3:]
        return self._header_bytes <= self.max_header_bytes

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_header_deadline()

    def on_headers_complete(self) -> None:
        self._awaiting_headers = False
        self._header_bytes = 0
        self._header_tail = b""
        self._disarm_header_deadline()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Idle again (no pipelined request was started): the next request's headers are due in time.
        if self.timeout_keep_alive_task is not None:
            self._arm_header_deadline()

    def _refuse_headers(self) -> None:
        body = json.dumps(
            {
                "status": 431,
                "reason": "headers_too_large",
                "detail": f"the request line and headers are larger than {self.max_header_bytes} bytes",
            }
        ).encode()
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/problem+json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
        )
        self.transport.close()


def guarded_protocol(header_timeout_s: float, max_header_bytes: int) -> type[GuardedHttpToolsProtocol]:
    """The protocol class uvicorn instantiates per connection, with this service's header limits."""
    return type(
        "GuardedHttpToolsProtocol",
        (GuardedHttpToolsProtocol,),
        {"header_timeout_s": header_timeout_s, "max_header_bytes": max_header_bytes},
    )


def trusted_proxies(settings: HttpServiceSettings) -> list[str]:
    return [address.strip() for address in settings.forwarded_allow_ips.split(",") if address.strip()]


def server_options(
    settings: HttpServiceSettings, *, host: str, port: int, **overrides: Any
) -> dict[str, Any]:
    """uvicorn's options for a service's API: logging stays the service's (services.shared.logs)."""
    proxies = trusted_proxies(settings)
    return {
        "host": host,
        "port": port,
        "log_config": None,
        "access_log": False,
        "http": guarded_protocol(settings.header_timeout_s, settings.max_header_bytes),
        "timeout_keep_alive": settings.keep_alive_s,
        # An explicit list: uvicorn would otherwise read FORWARDED_ALLOW_IPS, 127.0.0.1 by default.
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": proxies,
        **overrides,
    }


def server_config(
    app: Any, settings: HttpServiceSettings, *, host: str, port: int, **overrides: Any
) -> uvicorn.Config:
    """uvicorn's configuration for a service's API."""
    return uvicorn.Config(app, **server_options(settings, host=host, port=port, **overrides))


def serve(app: Any, settings: HttpServiceSettings, *, host: str, port: int) -> None:
    """Serve `app` until SIGINT or SIGTERM."""
    uvicorn.Server(server_config(app, settings, host=host, port=port)).run()


class WorkerConfig(uvicorn.Config):
    """A server_config that the supervisor can hand to a spawned worker: pickled as the arguments it
    was made from, and made again from them in the worker (its protocol class, made per service by
    guarded_protocol, has no importable name for pickle to carry). `supervisor`: the pid of the process
    that supervises the workers, this one unless given."""

    def __init__(
        self,
        app: str,
        settings: HttpServiceSettings,
        *,
        host: str,
        port: int,
        workers: int,
        supervisor: int | None = None,
    ) -> None:
        self.supervisor = os.getpid() if supervisor is None else supervisor
        self._arguments = (app, settings, host, port, workers, self.supervisor)
        super().__init__(app, **server_options(settings, host=host, port=port, factory=True, workers=workers))

    def __reduce__(self) -> tuple[Any, ...]:
        return (_worker_config, self._arguments)

    def load(self) -> None:
        # Runs in each worker as its server starts (the supervisor never loads the app). Workers whose
        # supervisor was killed (SIGKILL, the OOM killer) would otherwise keep the port and serve on,
        # with nothing to replace or stop them.
        stop_with_parent(self.supervisor)
        super().load()


def _worker_config(
    app: str, settings: HttpServiceSettings, host: str, port: int, workers: int, supervisor: int
) -> WorkerConfig:
    return WorkerConfig(app, settings, host=host, port=port, workers=workers, supervisor=supervisor)


def serve_workers(
    make_app: Callable[[], Any],
    settings: HttpServiceSettings,
    *,
    host: str,
    port: int,
    workers: int,
    name: str,
) -> None:
    """Serve the app `make_app` returns until SIGINT or SIGTERM, on `workers` processes.

    One worker: `make_app()` is served in this process, exactly as `serve` does. Several: this process
    binds the socket and supervises; each worker, a fresh interpreter, imports `make_app` (a function
    at a module's top level) and calls it, so it reads its own settings and connects its own database
    pool and Kafka producer. `name` names the metrics directory.
    """
    if workers <= 1:
        serve(make_app(), settings, host=host, port=port)
        return
    factory = f"{make_app.__module__}:{make_app.__qualname__}"
    with shared_metrics_dir(name):
        config = WorkerConfig(factory, settings, host=host, port=port, workers=workers)
        supervisor = Multiprocess(config, sockets=[config.bind_socket()])
        supervisor.run()
    # Like a single server, a service whose workers could not start exits with uvicorn's code for it.
    if any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes):
        sys.exit(STARTUP_FAILURE)

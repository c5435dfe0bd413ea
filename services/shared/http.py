"""HTTP plumbing every service's API shares: error bodies, request metrics, /health, /ready, /metrics.

Errors are RFC 9457 problem details with a machine-readable `reason`. Validation errors never echo the
submitted values back (they may be an applicant's phone or address), only where and what is wrong.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from pydantic_core import PydanticCustomError
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts.values import S10_ERROR_CODES, parse_s10
from services.shared.auth import CredentialError, Principal
from services.shared.auth.access import staff_refusal
from services.shared.auth.authenticator import Authenticator
from services.shared.db.availability import is_database_unavailable
from services.shared.kafka_authorisation import NOT_AUTHORISED, KafkaNotAuthorisedError
from services.shared.naive_times import TIME_WITHOUT_OFFSET, naive_time_detail
from services.shared.worker_metrics import exposition_registry

ReadyCheck = Callable[[], Awaitable[str | None]]
"""Returns None when the dependency is ready, or a short reason when it is not."""


class ProblemError(Exception):
    """A refusal the caller can act on: an HTTP status, a stable reason code and a sentence."""

    def __init__(
        self, status: int, reason: str, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def problem(
    status: int, reason: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {"status": status, "reason": reason, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, headers=headers, media_type="application/problem+json")


def validation_reason(errors: Sequence[Any]) -> str:
    """The `reason` of a request that does not match its schema.

    malformed_json when the body is not JSON. A wrong item id has a reason of its own (one of
    contracts.values.S10Error: length, service indicator, serial, check digit, country code), so a
    client can tell the clerk which part of the label to read again; that reason is given when every
    error of the request is that same item id problem. Anything else, or a mix, is invalid_request,
    and `errors` lists each problem with its own type.
    """
    types = {e.get("type") for e in errors}
    if "json_invalid" in types:
        return "malformed_json"
    if len(types) == 1 and (only := next(iter(types))) in S10_ERROR_CODES:
        return str(only)
    return "invalid_request"


def parameter_error(loc: tuple[str, ...], error_type: str, message: str) -> RequestValidationError:
    """A path or query parameter found invalid by code rather than by its declared schema, answered
    exactly like a schema violation (the handler above gives it its reason)."""
    return RequestValidationError([{"loc": loc, "type": error_type, "msg": message}])


def checked_item_id(text: str, loc: tuple[str, ...]) -> str:
    """An S10 item id taken from a path or query parameter, canonical; a wrong one answers 422 with its
    own reason, as it would in a body."""
    if not text.isascii() or text != text.strip():
        # Stricter than a body field: the documented pattern of these parameters has no spaces and only
        # Latin letters (which parse_s10's upper-casing of, say, "ß" to "SS" would otherwise let in).
        raise parameter_error(
            loc,
            "string_pattern_mismatch",
            "an item id is written in Latin letters and digits, without spaces",
        )
    try:
        return parse_s10(text)
    except PydanticCustomError as exc:
        raise parameter_error(loc, exc.type, exc.message()) from None


def looks_like_item_id(reference: str) -> bool:
    """Whether a reference that may be an item id or an agency dossier code was meant as an item id: an
    agency dossier code always holds dots and dashes, an item id never does. A mistyped item id is then
    told apart from an agency dossier code and refused for what is wrong with it."""
    return not any(c in reference for c in ".-")


def _safe_validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    return [{"loc": list(e.get("loc", ())), "type": e.get("type"), "msg": e.get("msg")} for e in errors]


def _naive_times(errors: Sequence[Any]) -> JSONResponse | None:
    detail = naive_time_detail(errors)
    if detail is None:
        return None
    return problem(422, TIME_WITHOUT_OFFSET, detail, errors=_safe_validation_errors(errors))


DATABASE_UNAVAILABLE = "database_unavailable"


def install_error_handlers(app: FastAPI, *, retry_after_s: int = 5) -> None:
    async def _database(request: Request, exc: Exception) -> JSONResponse:
        if not is_database_unavailable(exc):
            raise exc  # a bug or bad data, not an outage: the server error it is
        return problem(
            503,
            DATABASE_UNAVAILABLE,
            "the database did not answer; nothing was recorded, retry later",
            {"Retry-After": str(retry_after_s)},
        )

    # Any route, the authentication before it included (the credential registry is in the database).
    for error in (DBAPIError, ConnectionError, TimeoutError):
        app.add_exception_handler(error, _database)

    @app.exception_handler(KafkaNotAuthorisedError)
    async def _not_authorised(_: Request, exc: KafkaNotAuthorisedError) -> JSONResponse:
        # The broker refused this service's own principal (an ACL is missing): the operator's problem,
        # not the caller's, and not an outage a quick retry ends. The log and /ready say the same.
        return problem(
            503, NOT_AUTHORISED, f"{exc}; nothing was recorded", {"Retry-After": str(retry_after_s)}
        )

    @app.exception_handler(ProblemError)
    async def _problem(_: Request, exc: ProblemError) -> JSONResponse:
        return problem(exc.status, exc.reason, exc.detail, exc.headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        reason = validation_reason(errors)
        if reason == "malformed_json":
            return problem(400, reason, "the request body is not valid JSON")
        if (naive := _naive_times(errors)) is not None:
            return naive
        detail = "the request does not match the schema"
        if reason in S10_ERROR_CODES:
            detail = str(errors[0].get("msg"))  # the S10 rules' sentence for the clerk; never the value
        return problem(422, reason, detail, errors=_safe_validation_errors(errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        reason = {404: "not_found", 405: "method_not_allowed", 401: "unauthenticated", 403: "forbidden"}.get(
            exc.status_code, "http_error"
        )
        return problem(exc.status_code, reason, str(exc.detail), dict(exc.headers or {}))


async def authenticated(authenticator: Authenticator, request: Request) -> Principal:
    """The caller of a request by its bearer credential, or a 401 problem that says why not."""
    try:
        return await authenticator.authenticate(request.headers.get("authorization"))
    except CredentialError as exc:
        raise ProblemError(401, exc.reason, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None


def staff(caller: Principal) -> Principal:
    """The caller of a staff endpoint, or a 403 `forbidden` problem for a service's credential (the rule:
    services/shared/auth/access.py)."""
    refusal = staff_refusal(caller)
    if refusal is not None:
        raise ProblemError(403, "forbidden", refusal)
    return caller


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests by route template, method and status code.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by route template and method.",
            ["method", "route"],
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=registry,
        )


class MetricsMiddleware:
    """Counts and times requests labelled by route template (bounded), never by the raw path."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    def _template(self, scope: Scope) -> str:
        # FastAPI keeps the matched route's full template (router prefixes included) in its part of
        # the scope; that key is internal, so fall back to the matched route's own path, then to
        # matching the app's routes. tests/unit/test_http_metrics.py pins the result.
        fastapi_scope = scope.get("fastapi")
        context = fastapi_scope.get("effective_route_context") if isinstance(fastapi_scope, dict) else None
        template = getattr(context, "path_format", None) or getattr(scope.get("route"), "path", None)
        return str(template) if template else self._route(scope)

    def _route(self, scope: Scope) -> str:
        for route in scope["app"].router.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return str(getattr(route, "path", "other"))
        return "unmatched"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def _send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            route = self._template(scope)
            method = str(scope.get("method", "GET"))
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)


def install_operational_routes(
    app: FastAPI, registry: CollectorRegistry, ready_checks: dict[str, ReadyCheck]
) -> None:
    @app.get("/health", include_in_schema=False)
    async def health() -> dict[str, str]:
        """The process is alive (no dependency is checked)."""
        return {"status": "ok"}

    @app.get("/ready", include_in_schema=False)
    async def ready() -> JSONResponse:
        """Every dependency this service needs to do its work answers."""
        failures = {
            name: reason for name, check in ready_checks.items() if (reason := await check()) is not None
        }
        if failures:
            return JSONResponse({"status": "not_ready", "checks": failures}, status_code=503)
        return JSONResponse({"status": "ready"})

    # With several worker processes, the sum over all of them, whichever worker answers the scrape.
    exposed = exposition_registry(registry)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(exposed), media_type=CONTENT_TYPE_LATEST)


def instrument(
    app: FastAPI, registry: CollectorRegistry, ready_checks: dict[str, ReadyCheck], *, retry_after_s: int = 5
) -> None:
    install_error_handlers(app, retry_after_s=retry_after_s)
    install_operational_routes(app, registry, ready_checks)
    app.add_middleware(MetricsMiddleware, metrics=HttpMetrics(registry))


# Every refusal is an RFC 9457 problem (``problem`` above). An operation declares each of its refusals with
# ``problem_response``, so its OpenAPI document tells clients — and the fuzzer — every answer it gives.
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["status", "reason", "detail"],
    "properties": {
        "status": {"type": "integer"},
        "reason": {"type": "string", "description": "Stable machine-readable reason."},
        "detail": {"type": "string", "description": "What is wrong; never repeats submitted values."},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}


def problem_response(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    """An OpenAPI response of a refusal: its description, the problem+json schema, its headers."""
    answer: dict[str, Any] = {
        "description": description,
        "content": {"application/problem+json": {"schema": PROBLEM_SCHEMA}},
    }
    return answer | ({"headers": headers} if headers else {})

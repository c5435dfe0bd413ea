"""The tracking page's routes: ``GET /tra-cuu`` (the form), ``POST /tra-cuu`` (the answer) and the page's two
static files. Thin: parse the form, call the API's one public lookup (same budgets of failed lookups, same
metric), fold the history for the timeline, render.

Why POST: the phone's last four digits would otherwise be in the URL, and so in access logs, proxies'
logs, the browser's history and any Referer. The page is a read-only lookup that changes nothing for the
citizen, so it needs no CSRF token: a forged submission only spends the forger's own budget of failed
lookups (per client) or the dossier's, which anyone can spend by typing wrong digits anyway.

Not in the OpenAPI document (``include_in_schema=False``): these routes answer HTML pages for people, not a
contract for programs; the JSON lookup they share is documented there. Their refusals are pages too (a
browser shows a page, not problem JSON): the same status and ``reason`` the API would give, in the error
paragraph's ``data-reason``.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy.exc import DBAPIError

from services.shared.db.availability import is_database_unavailable
from services.shared.http import DATABASE_UNAVAILABLE, ProblemError, validation_reason
from services.tracker import api, lookups
from services.tracker.answers import public_of
from services.tracker.page.formatting import FILTERS
from services.tracker.page.timeline import TrackingView, tracking_view
from services.tracker.page.wording import wording

PAGE = "/tra-cuu"
ASSETS_PATH = "/tra-cuu/tai-nguyen"
HERE = Path(__file__).parent
ASSETS = {
    "trang.css": "text/css; charset=utf-8",
    "trang.js": "text/javascript; charset=utf-8",
    # Named by the page, so a browser asks for it rather than for /favicon.ico, which nothing serves.
    "bieu-tuong.svg": "image/svg+xml",
}
FIELDS = ("reference", "phone_last4")
MAX_FIELDS = 10
# The errors the service's handlers answer 503 database_unavailable to (services.shared.http), answered
# here with the page: a browser shows a page, not problem JSON.
DATABASE_ERRORS = (DBAPIError, ConnectionError, TimeoutError)
RETRY_AFTER_S = 5
ECHO_CHARS = 64
"""At most this much of a refused reference is shown back in the form."""

SECURITY_HEADERS = {
    # Only the page's own stylesheet and script, no inline code, no framing, forms only to itself.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
}

router = APIRouter(include_in_schema=False)


@functools.cache
def templates() -> Environment:
    # Autoescape for every template: whatever a citizen typed is shown as text, never as markup.
    environment = Environment(
        loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined
    )
    environment.filters.update(FILTERS)
    return environment


class FormRefusedError(Exception):
    """A submission answered with the form again: status, the API's reason, the words shown, the reference
    typed (shown back for a correction; the digits never are) and the field at fault, if one is."""

    def __init__(self, status: int, reason: str, message: str, reference: str = "") -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.message = message
        self.reference = reference
        # A failed lookup blames no field: which of the two was wrong is exactly what it must not tell.
        self.field = (
            "phone_last4"
            if reason == "invalid_phone"
            else "reference"
            if status == 422 and reason != "invalid_form"
            else None
        )


def render(
    status: int,
    *,
    view: TrackingView | None = None,
    reference: str = "",
    error: FormRefusedError | None = None,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    body = (
        templates()
        .get_template("tra_cuu.html")
        .render(
            w=wording().page, view=view, reference=reference[:ECHO_CHARS], error=error, assets=ASSETS_PATH
        )
    )
    # The answer names a dossier's stage: no cache keeps it.
    return HTMLResponse(
        body, status_code=status, headers={**SECURITY_HEADERS, "Cache-Control": "no-store", **(headers or {})}
    )


def refusal(status: int, reason: str, reference: str = "") -> FormRefusedError:
    words = wording().page
    message = {
        "not_found": words["not_found"],
        "invalid_phone": words["invalid_phone"],
        "invalid_form": words["invalid_form"],
        "unsupported_media_type": words["invalid_form"],
    }.get(reason, words["invalid_reference"])
    return FormRefusedError(status, reason, message, reference)


async def form_fields(request: Request) -> dict[str, str]:
    """The form's two fields from an application/x-www-form-urlencoded body, each exactly once."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise refusal(415, "unsupported_media_type")
    body = await request.body()  # bounded in size and time by the service's body limit
    try:
        parsed = parse_qs(
            body.decode("ascii"),
            keep_blank_values=True,
            strict_parsing=False,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        raise refusal(422, "invalid_form") from None
    if any(len(parsed.get(name, ())) != 1 for name in FIELDS):
        raise refusal(422, "invalid_form")
    return {name: parsed[name][0] for name in FIELDS}


def reference_of(typed: str) -> str:
    """The typed reference, normalised as the API's path parameter is; the spaces a label prints between
    groups of digits, or a copy and paste adds, are dropped first."""
    compact = "".join(typed.split())
    try:
        return api.normalised_reference(compact, ("body", "reference"))
    except ProblemError as exc:
        raise refusal(exc.status, exc.reason, typed) from None
    except RequestValidationError as exc:
        raise refusal(422, validation_reason(exc.errors()), typed) from None


@router.get(PAGE, response_class=HTMLResponse)
async def form() -> HTMLResponse:
    return render(200)


@router.post(PAGE, response_class=HTMLResponse)
async def look_up(request: Request, ctx: api.Context) -> HTMLResponse:
    typed = ""
    try:
        fields = await form_fields(request)
        typed = fields["reference"]
        ref = reference_of(typed)
        last4 = fields["phone_last4"].strip()
        if not re.fullmatch(api.PHONE_LAST4_PATTERN, last4):
            raise refusal(422, "invalid_phone", typed)
        row = await api.find_public_dossier(ctx, request, ref, last4)
        steps = await lookups.public_history(ctx.engine, row.dossier_id, ctx.due)
    except DATABASE_ERRORS as exc:
        if not is_database_unavailable(exc):
            raise  # a bug or bad data, not an outage: the server error it is
        words = wording().page["unavailable"]
        down = FormRefusedError(503, DATABASE_UNAVAILABLE, words, typed)
        return render(503, reference=typed, error=down, headers={"Retry-After": str(RETRY_AFTER_S)})
    except FormRefusedError as exc:
        return render(exc.status, reference=exc.reference, error=exc)
    except ProblemError as exc:
        if exc.status == 429:
            return rate_limited(exc, typed)
        # A wrong phone and an unknown reference are one answer: the same page, status and words.
        return render(exc.status, reference=typed, error=refusal(exc.status, exc.reason, typed))
    answer = public_of(row, ref, ctx.directory, ctx.today())
    return render(200, view=tracking_view(answer, steps, ctx.directory, wording()))


def rate_limited(exc: ProblemError, typed: str) -> HTMLResponse:
    seconds = int(exc.headers.get("Retry-After", "60"))
    message = wording().page["rate_limited"].format(minutes=max(1, math.ceil(seconds / 60)))
    refused = FormRefusedError(429, exc.reason, message, typed)
    return render(429, reference=typed, error=refused, headers=exc.headers)


@functools.cache
def asset(name: str) -> bytes:
    return (HERE / "static" / name).read_bytes()


@router.get(ASSETS_PATH + "/{name}")
async def static_file(name: str) -> Response:
    # A fixed list, not a directory: no path from the request ever reaches the file system.
    if name not in ASSETS:
        return Response(status_code=404, headers=SECURITY_HEADERS)
    headers: dict[str, Any] = {**SECURITY_HEADERS, "Cache-Control": "public, max-age=3600"}
    return Response(asset(name), media_type=ASSETS[name], headers=headers)

"""Page cursors of the staff lists (``GET /dossiers``, ``GET /anomalies``): a cursor is only ever one the
list handed out. An edited, forged, truncated or foreign cursor is a 400 ``invalid_cursor``, never a
server error, whatever its bytes or (even correctly signed) content."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.enums import ServiceForm
from services.shared.auth import Role
from services.shared.cursors import CursorSigner
from services.tracker.app import Tracker, build
from tests.tracker.journeys import journey, new_dossier
from tests.tracker.support import credential, records_of, settings_for

pytestmark = pytest.mark.postgres

TODAY = datetime(2025, 3, 20, 10, 0, tzinfo=UTC)
# Every cursor-taking endpoint, with the kind of position its cursors hold.
LISTS = [
    ("/dossiers", {}, "recent"),
    ("/dossiers", {"overdue": "true"}, "due"),
    ("/anomalies", {}, "anomaly"),
]


@pytest.fixture
async def tracker_with_token(migrated_database: str) -> AsyncIterator[tuple[Tracker, str]]:
    built = build(settings_for(migrated_database), consume=False, clock=lambda: TODAY)
    try:
        yield built, await credential(built.engine, Role.OPERATOR)
    finally:
        await built.dispose()


@pytest.fixture
async def client(tracker_with_token: tuple[Tracker, str]) -> AsyncIterator[httpx.AsyncClient]:
    tracker, token = tracker_with_token
    # A server error must show as a 500 answer, as a caller would see it, not as an exception here.
    transport = httpx.ASGITransport(app=tracker.api, raise_app_exceptions=False)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://tracker", headers=headers) as http:
        yield http


def unsigned(payload: Any) -> str:
    """A cursor in the former unsigned format (base64 of a JSON list), as anyone could forge it."""
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def signer_of(tracker: Tracker) -> CursorSigner:
    return CursorSigner(tracker.settings.cursor_signing_key())


async def filled(tracker: Tracker, dossiers: int = 3) -> None:
    """Overdue dossiers (in transit past the inbound leg's due date) and dossiers with an anomaly (a
    handover with no acceptance), so that every list has more than one page."""
    for _ in range(dossiers):
        overdue = journey(new_dossier(ServiceForm.SEND_DOSSIER))[:2]
        stray = journey(new_dossier(ServiceForm.SEND_DOSSIER))[2]
        await tracker.processor.process(records_of([*overdue, stray]))


async def first_cursor(client: httpx.AsyncClient, path: str, params: dict[str, str]) -> str:
    answer = await client.get(path, params={**params, "limit": "1"})
    assert answer.status_code == 200, answer.text
    cursor = answer.json()["next_cursor"]
    assert isinstance(cursor, str)
    return cursor


FORGED: dict[str, Callable[[str], str]] = {
    "year 9999 west of UTC": lambda kind: unsigned([kind, "9999-12-31T23:59:59-14:00", "x"]),
    "year 1 east of UTC": lambda kind: unsigned([kind, "0001-01-01T00:00:00+14:00", "x"]),
    "year 9999 due date": lambda kind: unsigned([kind, "9999-12-31", "x"]),
    "unknown keys": lambda kind: unsigned({kind: "2025-03-20T00:00:00+00:00", "id": "x", "n": 1}),
    "extra entries": lambda kind: unsigned([kind, "2025-03-20T00:00:00+00:00", "x", "y"]),
    "garbage base64": lambda kind: "____-_-_-____AAAA",
    "not base64": lambda kind: "a",
}


@pytest.mark.parametrize("name", list(FORGED))
@pytest.mark.parametrize(("path", "params", "kind"), LISTS)
async def test_a_forged_cursor_is_a_400_invalid_cursor_never_a_server_error(
    client: httpx.AsyncClient, name: str, path: str, params: dict[str, str], kind: str
) -> None:
    answer = await client.get(path, params={**params, "cursor": FORGED[name](kind)})

    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["reason"] == "invalid_cursor"


@pytest.mark.parametrize(("path", "params", "kind"), LISTS)
async def test_an_edited_cursor_is_refused_and_the_one_handed_out_is_accepted(
    tracker_with_token: tuple[Tracker, str],
    client: httpx.AsyncClient,
    path: str,
    params: dict[str, str],
    kind: str,
) -> None:
    await filled(tracker_with_token[0])
    cursor = await first_cursor(client, path, params)
    flipped = cursor[:-1] + ("A" if cursor[-1] != "A" else "B")
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    year_edited = base64.urlsafe_b64encode(raw.replace(b'"20', b'"99', 1)).decode().rstrip("=")

    accepted = await client.get(path, params={**params, "cursor": cursor})
    refused = [await client.get(path, params={**params, "cursor": c}) for c in (flipped, year_edited)]

    assert accepted.status_code == 200, accepted.text
    assert [(a.status_code, a.json()["reason"]) for a in refused] == [(400, "invalid_cursor")] * 2


async def test_a_cursor_of_one_list_is_refused_by_another(
    client: httpx.AsyncClient, tracker_with_token: Any
) -> None:
    await filled(tracker_with_token[0])
    recent = await first_cursor(client, "/dossiers", {})

    for path, params in (("/anomalies", {}), ("/dossiers", {"overdue": "true"})):
        answer = await client.get(path, params={**params, "cursor": recent})
        assert (answer.status_code, answer.json()["reason"]) == (400, "invalid_cursor"), path


async def test_a_cursor_signed_with_another_key_is_refused(client: httpx.AsyncClient) -> None:
    other = CursorSigner(b"another deployment's cursor key!")
    cursor = other.encode("recent", ["2025-03-20T00:00:00+00:00", "00000000-0000-4000-8000-000000000000"])

    answer = await client.get("/dossiers", params={"cursor": cursor})

    assert (answer.status_code, answer.json()["reason"]) == (400, "invalid_cursor")


FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MAX_CURSOR = 200
CURSOR_TEXT = st.from_regex(rf"\A[A-Za-z0-9_-]{{1,{MAX_CURSOR}}}\Z")
MOMENTS = st.one_of(
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.dates().map(lambda d: d.isoformat()),
    st.text(max_size=40),
)
VALUES: st.SearchStrategy[Any] = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), MOMENTS, st.lists(st.text(max_size=5), max_size=3)
)
KINDS = st.sampled_from(["recent", "due", "anomaly", "", "other"])


@FUZZ
@given(cursor=CURSOR_TEXT, which=st.sampled_from(LISTS))
async def test_fuzzed_cursor_text_never_gets_a_server_error(
    client: httpx.AsyncClient, cursor: str, which: tuple[str, dict[str, str], str]
) -> None:
    path, params, _ = which
    answer = await client.get(path, params={**params, "cursor": cursor})

    assert answer.status_code == 400, answer.text
    assert answer.json()["reason"] == "invalid_cursor"


@FUZZ
@given(
    kind=KINDS,
    values=st.lists(st.one_of(MOMENTS, VALUES, st.uuids().map(str)), max_size=4),
    which=st.sampled_from(LISTS),
)
async def test_fuzzed_content_signed_with_the_right_key_never_gets_a_server_error(
    tracker_with_token: tuple[Tracker, str],
    client: httpx.AsyncClient,
    kind: str,
    values: list[Any],
    which: tuple[str, dict[str, str], str],
) -> None:
    """A leaked key, or a bug in the encoder, must still not reach the database with an absurd position."""
    path, params, _ = which
    cursor = signer_of(tracker_with_token[0]).encode(kind, values)

    answer = await client.get(path, params={**params, "cursor": cursor})

    assert answer.status_code < 500, answer.text
    if answer.status_code != 200:
        # Longer than any cursor handed out: the parameter's schema refuses it before it is read.
        expected = "invalid_request" if len(cursor) > MAX_CURSOR else "invalid_cursor"
        assert answer.json()["reason"] == expected, answer.text

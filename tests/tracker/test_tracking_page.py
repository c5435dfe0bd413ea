"""The citizen's tracking page against PostgreSQL: the form, the answer (stage in plain Vietnamese,
timeline in Vietnam time, expected date, office to contact, no personal data), a wrong phone answering
like an unknown reference, the public lookup's one budget of failed lookups, escaped output, security
headers, and bad forms refused with a 4xx page, never a 500."""

from __future__ import annotations

import html
import re
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import httpx
import pytest

from contracts.enums import ServiceForm, Stage
from contracts.envelope import Envelope
from contracts.events import Event
from contracts.samples import SAMPLE_ADDRESS, SAMPLE_AGENCY, SAMPLE_APPLICANT
from contracts.values import make_s10
from services.tracker.app import Tracker, build
from services.tracker.page.wording import wording
from tests.tracker.journeys import journey, new_dossier
from tests.tracker.support import records_of, settings_for

pytestmark = pytest.mark.postgres

ALLOWED = 3
TODAY = datetime(2025, 3, 20, 10, 0, tzinfo=UTC)
RIGHT = SAMPLE_APPLICANT.phone[-4:]
WRONG = "0000" if RIGHT != "0000" else "1111"
PERSONAL = [SAMPLE_APPLICANT.name, SAMPLE_APPLICANT.phone, SAMPLE_APPLICANT.id_number, SAMPLE_ADDRESS.line]
STAFF_IDS = ["clerk-0042", "courier-0011", "postman-0007", "officer-0003"]
FORM = {"content-type": "application/x-www-form-urlencoded"}
WORDS = wording()


@pytest.fixture
async def page_tracker(migrated_database: str) -> AsyncIterator[Tracker]:
    built = build(
        settings_for(migrated_database, public_lookup_failures=ALLOWED), consume=False, clock=lambda: TODAY
    )
    yield built
    await built.dispose()


def client_of(tracker: Tracker, address: str | None = None) -> httpx.AsyncClient:
    """A client with an address of its own (uuid-derived, documentation range): budgets are per client."""
    n = uuid.uuid4().int
    host = address or f"2001:db8:{n % 65536:x}:{(n >> 16) % 65536:x}::{(n >> 32) % 65536:x}"
    transport = httpx.ASGITransport(app=tracker.api, client=(host, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://tracker")


async def feed(tracker: Tracker, envelopes: list[Envelope[Event]]) -> None:
    await tracker.processor.process(records_of(envelopes))


async def submit(http: httpx.AsyncClient, reference: str, last4: str) -> httpx.Response:
    return await http.post("/tra-cuu", data={"reference": reference, "phone_last4": last4})


def unknown_reference() -> str:
    return make_s10("EZ", uuid.uuid4().int % 100_000_000)


def text_of(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def timeline(page: str) -> list[str]:
    """Each timeline line as text: when, what, where."""
    return [text_of(item) for item in re.findall(r'<li class="moc">(.*?)</li>', page, re.S)]


def section(page: str, name: str) -> str:
    found = re.search(rf'<[a-z]+ [^>]*id="{name}"[^>]*>(.*?)</(section|div|p)>', page, re.S)
    assert found, f"no element #{name} on the page"
    return text_of(found.group(1))


def phone_input(page: str) -> str:
    found = re.search(r'<input [^>]*name="phone_last4"[^>]*>', page)
    assert found, "no phone field on the page"
    return found.group(0)


def error_reason(page: str) -> str | None:
    found = re.search(r'id="loi"[^>]*data-reason="([a-z_]+)"', page)
    return found.group(1) if found else None


# --------------------------------------------------------------------------- the form


async def test_the_form_is_in_vietnamese_with_labels_tied_to_its_inputs(page_tracker: Tracker) -> None:
    async with client_of(page_tracker) as http:
        answer = await http.get("/tra-cuu")

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    page = answer.text
    assert '<html lang="vi">' in page
    assert re.search(r'<form [^>]*method="post"[^>]*action="/tra-cuu"', page)
    for field in ("reference", "phone_last4"):
        input_id = re.search(rf'<input [^>]*name="{field}"[^>]*id="([^"]+)"', page)
        assert input_id, field
        assert f'<label for="{input_id.group(1)}"' in page, field
    assert WORDS.page["reference_label"] in html.unescape(page)
    # No inline script or handler: the policy allows scripts from the page's own files only.
    assert not re.search(r"<script(?![^>]*\bsrc=)", page) and not re.search(r"\son[a-z]+=", page)


async def test_the_page_sends_its_security_headers(page_tracker: Tracker) -> None:
    async with client_of(page_tracker) as http:
        answers = [
            await http.get("/tra-cuu"),
            await submit(http, unknown_reference(), WRONG),
            await http.get("/tra-cuu/tai-nguyen/trang.css"),
        ]

    for answer in answers:
        policy = answer.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert "default-src 'none'" in policy
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
    assert answers[1].headers["cache-control"] == "no-store"


async def test_the_page_s_stylesheet_and_script_are_served_and_nothing_else(page_tracker: Tracker) -> None:
    async with client_of(page_tracker) as http:
        css = await http.get("/tra-cuu/tai-nguyen/trang.css")
        script = await http.get("/tra-cuu/tai-nguyen/trang.js")
        icon = await http.get("/tra-cuu/tai-nguyen/bieu-tuong.svg")
        other = await http.get("/tra-cuu/tai-nguyen/..%2Fwording.yaml")

    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert other.status_code == 404


async def test_the_page_s_requests_are_counted_by_route_not_by_file(page_tracker: Tracker) -> None:
    async with client_of(page_tracker) as http:
        await http.get("/tra-cuu")
        await http.get("/tra-cuu/tai-nguyen/trang.css")
        await http.get("/tra-cuu/tai-nguyen/no-such-file.css")
        metrics = (await http.get("/metrics")).text

    assert 'route="/tra-cuu"' in metrics
    assert 'route="/tra-cuu/tai-nguyen/{name}"' in metrics
    assert "no-such-file" not in metrics and "trang.css" not in metrics


async def test_the_page_is_not_part_of_the_api_document(page_tracker: Tracker) -> None:
    # An HTML page for people, not an API: its answers are pages, so the fuzzing and the authorisation
    # matrix, which read the OpenAPI document, leave it to these tests.
    assert not [path for path in page_tracker.api.openapi()["paths"] if path.startswith("/tra-cuu")]


# --------------------------------------------------------------------------- the answer


async def test_the_answer_shows_the_stage_timeline_expected_date_and_office_without_personal_data(
    page_tracker: Tracker,
) -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    events = journey(dossier)
    await feed(page_tracker, events[:5])  # accepted … processing: the agency works, the appointment is set

    async with client_of(page_tracker) as http:
        answer = await submit(http, f" {dossier.item_id.lower()} ", RIGHT)
        api = await http.get(f"/public/dossiers/{dossier.item_id}", params={"phone_last4": RIGHT})

    assert answer.status_code == 200, answer.text
    page = answer.text
    assert section(page, "tinh-trang").startswith(WORDS.stage(Stage(api.json()["stage"])).name)
    assert api.json()["expected_date"] is not None
    expected = date.fromisoformat(api.json()["expected_date"])
    assert section(page, "ngay-hen").endswith(expected.strftime("%d/%m/%Y"))
    assert "Bộ phận Một cửa (mẫu)" in section(page, "lien-he") and SAMPLE_AGENCY in section(page, "lien-he")
    lines = timeline(page)
    # Newest first; the journey starts at 09:00 Vietnam time on 14 March 2025, one event an hour.
    assert lines[-1] == "09:00 14/03/2025 Bưu cục nhận hồ sơ Bưu cục Hoàn Kiếm (mẫu)"
    assert lines[-2].startswith("10:00 14/03/2025 Hồ sơ đang trên đường vận chuyển")
    assert lines[0] == "13:00 14/03/2025 Cơ quan giải quyết bắt đầu xử lý hồ sơ Bộ phận Một cửa (mẫu)"
    assert len(lines) == 5
    for value in [*PERSONAL, *STAFF_IDS, dossier.dossier_id]:
        assert value is not None and value not in page


async def test_a_dossier_past_its_expected_date_says_so(migrated_database: str) -> None:
    may_5th = datetime(2025, 5, 5, tzinfo=UTC)
    late = build(settings_for(migrated_database), consume=False, clock=lambda: may_5th)
    try:
        dossier = new_dossier(ServiceForm.SEND_DOSSIER)
        await feed(late, journey(dossier)[:5])  # processing, the appointment in March long gone
        async with client_of(late) as http:
            answer = await submit(http, dossier.item_id, RIGHT)
    finally:
        await late.dispose()

    assert answer.status_code == 200
    assert WORDS.page["overdue"] in html.unescape(answer.text)


async def test_a_courier_s_custody_shows_the_post_office_answering_for_it(page_tracker: Tracker) -> None:
    dossier = new_dossier(ServiceForm.RECEIVE_RESULT)
    events = journey(dossier)
    await feed(page_tracker, events[:6])  # … out for delivery

    async with client_of(page_tracker) as http:
        answer = await submit(http, dossier.result_item_id, RIGHT)

    assert answer.status_code == 200, answer.text
    assert section(answer.text, "tinh-trang").startswith(WORDS.stage(Stage.OUT_FOR_DELIVERY).name)
    assert timeline(answer.text)[0].endswith("Bưu tá mang kết quả đi phát Bưu cục Hoàn Kiếm (mẫu)")
    assert "Bưu cục Hoàn Kiếm (mẫu)" in section(answer.text, "lien-he")
    for value in STAFF_IDS:
        assert value not in answer.text


async def test_a_wrong_phone_answers_exactly_like_an_unknown_reference(page_tracker: Tracker) -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    await feed(page_tracker, journey(dossier))
    unknown = unknown_reference()

    async with client_of(page_tracker) as http:
        wrong = await submit(http, dossier.item_id, WRONG)
    async with client_of(page_tracker) as http:
        missing = await submit(http, unknown, WRONG)

    assert wrong.status_code == missing.status_code == 404
    assert error_reason(wrong.text) == "not_found"
    # The same page, but for the reference the citizen typed, which the form keeps for a correction.
    assert wrong.text.replace(dossier.item_id, "REF") == missing.text.replace(unknown, "REF")
    assert WORDS.page["not_found"] in html.unescape(wrong.text)
    assert "aria-invalid" not in wrong.text  # nor which field was wrong
    assert "value=" not in phone_input(wrong.text)  # the digits are never sent back


async def test_failed_lookups_on_the_page_and_the_api_draw_on_one_budget(page_tracker: Tracker) -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    await feed(page_tracker, journey(dossier))
    other = new_dossier(ServiceForm.SEND_DOSSIER)
    await feed(page_tracker, journey(other))

    async with client_of(page_tracker) as http:
        failed_on_page = [(await submit(http, dossier.item_id, WRONG)).status_code for _ in range(ALLOWED)]
    async with client_of(page_tracker) as http:
        refused_by_api = await http.get(f"/public/dossiers/{dossier.item_id}", params={"phone_last4": RIGHT})
        for _ in range(ALLOWED):
            await http.get(f"/public/dossiers/{other.item_id}", params={"phone_last4": WRONG})
        refused_on_page = await submit(http, other.item_id, RIGHT)

    assert failed_on_page == [404] * ALLOWED
    assert refused_by_api.status_code == 429
    assert refused_on_page.status_code == 429
    assert int(refused_on_page.headers["retry-after"]) > 0
    assert error_reason(refused_on_page.text) == "too_many_failed_lookups"
    assert "Bạn đã tra cứu sai quá nhiều lần" in html.unescape(refused_on_page.text)


async def test_a_successful_lookup_on_the_page_spends_no_budget(page_tracker: Tracker) -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    await feed(page_tracker, journey(dossier))

    async with client_of(page_tracker) as http:
        statuses = [(await submit(http, dossier.item_id, RIGHT)).status_code for _ in range(2 * ALLOWED)]

    assert statuses == [200] * 2 * ALLOWED


# --------------------------------------------------------------------------- bad input


async def test_a_reference_with_markup_is_refused_and_shown_escaped(page_tracker: Tracker) -> None:
    attack = '<script>alert("x")</script>'

    async with client_of(page_tracker) as http:
        answer = await submit(http, attack, RIGHT)

    assert answer.status_code == 422
    assert error_reason(answer.text) == "item_id_length"  # neither dots nor dashes: meant as an item id
    assert attack not in answer.text and "<script>alert" not in answer.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in answer.text


@pytest.mark.parametrize(
    ("reference", "last4", "reason"),
    [
        ("EB123456784VN", RIGHT, "item_id_check_digit"),
        ("EB12345678VN", RIGHT, "item_id_length"),
        ("000.00.01.H22-2503", RIGHT, "invalid_request"),
        ("000.00.01.H22-251399-0001", RIGHT, "invalid_reference"),
        ("EB123456785VN", "56789", "invalid_phone"),
        ("EB123456785VN", "56a8", "invalid_phone"),
        ("EB123456785VN", "", "invalid_phone"),
        ("", RIGHT, "item_id_length"),
    ],
)
async def test_a_malformed_reference_or_phone_suffix_gets_the_form_again_with_422(
    page_tracker: Tracker, reference: str, last4: str, reason: str
) -> None:
    async with client_of(page_tracker) as http:
        answer = await submit(http, reference, last4)

    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert error_reason(answer.text) == reason
    assert "value=" not in phone_input(answer.text)
    # The field at fault is marked for assistive technology, and only that one.
    assert ('aria-invalid="true"' in phone_input(answer.text)) == (reason == "invalid_phone")
    assert answer.text.count('aria-invalid="true"') == 1


async def test_while_the_database_is_down_the_page_answers_503_with_a_retry_after() -> None:
    with socket.socket() as probe:  # a port nobody listens on: every connection is refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = build(settings_for(f"postgresql+asyncpg://nobody@127.0.0.1:{port}/none"), consume=False)
    try:
        async with client_of(down) as http:
            answer = await submit(http, unknown_reference(), WRONG)
    finally:
        await down.dispose()

    assert answer.status_code == 503
    assert int(answer.headers["retry-after"]) > 0
    assert answer.headers["content-type"].startswith("text/html")
    assert error_reason(answer.text) == "database_unavailable"
    assert WORDS.page["unavailable"] in html.unescape(answer.text)


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b"reference=EB123456785VN", FORM, 422),  # no phone field
        (b"reference=A&reference=B&phone_last4=1234", FORM, 422),  # a field twice
        (b"reference=%FF%FE&phone_last4=1234", FORM, 422),  # not UTF-8
        (b"\xff\xfe=\x00", FORM, 422),
        ("&".join(f"f{n}=1" for n in range(50)).encode(), FORM, 422),  # more fields than any form has
        (b'{"reference": "EB123456785VN", "phone_last4": "1234"}', {"content-type": "application/json"}, 415),
        (b"reference=EB123456785VN&phone_last4=1234", {}, 415),
    ],
)
async def test_a_malformed_form_is_refused_with_a_4xx_page(
    page_tracker: Tracker, body: bytes, headers: dict[str, str], status: int
) -> None:
    async with client_of(page_tracker) as http:
        answer = await http.post("/tra-cuu", content=body, headers=headers)

    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("text/html")
    assert error_reason(answer.text) == ("invalid_form" if status == 422 else "unsupported_media_type")

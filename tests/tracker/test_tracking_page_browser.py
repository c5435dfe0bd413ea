"""The tracking page in a real browser: Debian's Chromium (scripts/setup.sh installs it), driven headless by
Playwright, against the tracker served by real uvicorn on PostgreSQL. A citizen types the reference and
the digits with the keyboard, submits, and reads the stage and the timeline on a phone-sized screen; a
wrong phone answers like an unknown reference; a screenshot of each answer goes under the test's tmp dir.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, ConsoleMessage, Page, ViewportSize, async_playwright

from contracts.enums import ServiceForm
from contracts.samples import SAMPLE_APPLICANT
from contracts.values import make_s10
from services.tracker.app import build
from services.tracker.page.wording import wording
from tests.fixtures.live_server import serving
from tests.tracker.journeys import journey, new_dossier
from tests.tracker.support import records_of, settings_for

pytestmark = pytest.mark.postgres

CHROMIUM = Path("/usr/bin/chromium")
# As the machine's notes say Chromium runs here: headless, no sandbox (root), and none of the background
# connections that a closed network refuses; a new empty profile each run.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE_SCREEN = ViewportSize(width=390, height=844)
TIMEOUT_MS = 60_000
RIGHT = SAMPLE_APPLICANT.phone[-4:]
WRONG = "0000" if RIGHT != "0000" else "1111"
WORDS = wording()


@pytest.fixture
def served(migrated_database: str) -> Iterator[str]:
    """The tracker's app served by uvicorn in a thread (its own event loop and engine); yields its URL."""
    settings = settings_for(migrated_database)
    with serving(build(settings, consume=False).api, settings, lifespan="on") as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def chromium() -> Path:
    """Never a silent skip: the suite runs in a real browser, which scripts/setup.sh installs."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run `bash scripts/setup.sh` as root (it installs Debian's chromium)"
        )
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path, tmp_path: Path) -> AsyncIterator[BrowserContext]:
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            tmp_path / "chromium-profile",
            executable_path=str(chromium),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=PHONE_SCREEN,
            locale="vi-VN",
            timeout=TIMEOUT_MS,
        )
        context.set_default_timeout(TIMEOUT_MS)
        try:
            yield context
        finally:
            await context.close()


async def look_up(page: Page, url: str, reference: str, last4: str) -> int:
    """Open the form, type with the keyboard only (Tab from field to field, Enter to submit); returns the
    answer's HTTP status."""
    await page.goto(f"{url}/tra-cuu")
    await page.get_by_label(WORDS.page["reference_label"]).focus()
    await page.keyboard.type(reference)
    await page.keyboard.press("Tab")
    await page.keyboard.type(last4)
    async with page.expect_response(lambda r: r.request.method == "POST") as answer:
        await page.keyboard.press("Enter")
    await page.wait_for_load_state()
    return (await answer.value).status


async def test_a_citizen_types_the_reference_and_digits_and_reads_the_stage_and_timeline(
    served: str, browser: BrowserContext, migrated_database: str, tmp_path: Path
) -> None:
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    events = journey(dossier)
    feeder = build(settings_for(migrated_database), consume=False)
    try:
        await feeder.processor.process(records_of(events[:12]))  # … the result is out for delivery
    finally:
        await feeder.dispose()
    page = await browser.new_page()
    problems: list[str] = []
    page.on("console", lambda message: note_error(message, problems))
    page.on("pageerror", lambda error: problems.append(str(error)))

    status = await look_up(page, served, dossier.item_id, RIGHT)
    await page.screenshot(path=tmp_path / "tra-cuu-ket-qua.png", full_page=True)

    assert status == 200
    assert page.url == f"{served}/tra-cuu"  # POST: the digits are in no URL, access log or history
    assert await page.locator("#tinh-trang .giai-doan").inner_text() == "Bưu tá đang đi phát kết quả"
    lines = [" ".join(text.split()) for text in await page.locator("li.moc").all_inner_texts()]
    assert len(lines) == 12
    assert lines[0] == "20:00 14/03/2025 Bưu tá mang kết quả đi phát Bưu cục Hoàn Kiếm (mẫu)"
    assert lines[-1] == "09:00 14/03/2025 Bưu cục nhận hồ sơ Bưu cục Hoàn Kiếm (mẫu)"
    # Mobile first: nothing wider than a phone's screen, and the page's own CSS and script were allowed.
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE_SCREEN["width"]
    assert await page.evaluate("getComputedStyle(document.querySelector('.dau')).backgroundColor") == (
        "rgb(11, 79, 138)"
    )
    assert problems == []
    assert (tmp_path / "tra-cuu-ket-qua.png").stat().st_size > 0


async def test_in_the_browser_a_wrong_phone_answers_like_an_unknown_reference(
    served: str, browser: BrowserContext, migrated_database: str, tmp_path: Path
) -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    feeder = build(settings_for(migrated_database), consume=False)
    try:
        await feeder.processor.process(records_of(journey(dossier)))
    finally:
        await feeder.dispose()
    page = await browser.new_page()

    wrong = await look_up(page, served, dossier.item_id, WRONG)
    wrong_text = await page.locator("#loi").inner_text()
    await page.screenshot(path=tmp_path / "tra-cuu-sai-so.png", full_page=True)
    unknown = await look_up(page, served, make_s10("EZ", uuid.uuid4().int % 100_000_000), WRONG)
    unknown_text = await page.locator("#loi").inner_text()

    assert wrong == unknown == 404
    assert wrong_text == unknown_text == WORDS.page["not_found"]
    # The form keeps the reference for a correction, never the digits.
    assert await page.get_by_label(WORDS.page["phone_label"]).input_value() == ""
    assert (tmp_path / "tra-cuu-sai-so.png").stat().st_size > 0


def note_error(message: ConsoleMessage, problems: list[str]) -> None:
    """Console errors, among them the browser's report of anything the page's CSP blocked."""
    if message.type == "error":
        problems.append(message.text)

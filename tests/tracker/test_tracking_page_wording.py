"""The tracking page's Vietnamese wording (services/tracker/page/wording.yaml) covers every stage and every
event type a dossier's history can hold, with full diacritics, and whom to contact in each stage."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Any

import pytest

from contracts.enums import ItemKind, Stage
from services.tracker.domain import JOURNEY_ORDER
from services.tracker.page import wording as wording_module
from services.tracker.page.wording import Contact, parse, wording

WORDS = wording()


def texts() -> Iterator[str]:
    for stage in Stage:
        yield WORDS.stage(stage).name
        yield WORDS.stage(stage).explanation
    for event_type in JOURNEY_ORDER:
        for kind in ItemKind:
            yield WORDS.event(event_type, kind)
    yield WORDS.other_event
    yield from WORDS.page.values()


@pytest.mark.parametrize("stage", list(Stage))
def test_every_stage_has_a_name_an_explanation_and_an_office_to_contact(stage: Stage) -> None:
    words = WORDS.stage(stage)

    assert words.name and words.explanation
    assert isinstance(words.contact, Contact)


@pytest.mark.parametrize("event_type", sorted(JOURNEY_ORDER))
@pytest.mark.parametrize("kind", list(ItemKind))
def test_every_event_type_of_a_history_has_its_own_line(event_type: str, kind: ItemKind) -> None:
    assert WORDS.describes(event_type)
    assert WORDS.event(event_type, kind) != WORDS.other_event


def test_an_item_s_events_name_the_item_they_are_about() -> None:
    lost = {kind: WORDS.event("postal.item_lost", kind) for kind in ItemKind}

    assert lost[ItemKind.RESULT] == "Kết quả bị thất lạc"
    assert len(set(lost.values())) == len(ItemKind)


def test_an_event_type_without_words_gets_the_generic_line() -> None:
    assert WORDS.event("postal.something_new") == "Hồ sơ có cập nhật mới"


def test_every_text_is_vietnamese_with_its_diacritics_composed() -> None:
    for text in texts():
        # Every sentence of the wording has a letter with a diacritic; one without lost them.
        assert not text.isascii(), text
        assert unicodedata.normalize("NFC", text) == text, text


def test_the_page_s_rate_limit_words_take_the_minutes() -> None:
    assert "5 phút" in WORDS.page["rate_limited"].format(minutes=5)


def test_a_wording_file_missing_a_stage_is_refused_at_start() -> None:
    raw: dict[str, Any] = {
        "stages": {s.value: {"name": "Tên", "explanation": "Giải thích", "contact": "agency"} for s in Stage},
        "events": {},
        "other_event": "Khác",
        "page": {},
    }
    parse(raw)
    del raw["stages"][Stage.CLOSED.value]

    with pytest.raises(ValueError, match=r"stages\.CLOSED"):
        parse(raw)


def test_the_wording_file_is_read_from_beside_the_templates() -> None:
    assert wording_module.WORDING_FILE.parent.joinpath("templates", "tra_cuu.html").is_file()

"""The page's Vietnamese words, read from wording.yaml beside the templates: stage names and what they
mean, whom to contact in each stage, one line per event type of the timeline, and the page's own texts."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from contracts.enums import ItemKind, Stage

WORDING_FILE = Path(__file__).with_name("wording.yaml")


class Contact(StrEnum):
    """Whom the citizen should contact in a stage."""

    AGENCY = "agency"
    POST_OFFICE = "post_office"
    HOLDER = "holder"


@dataclass(frozen=True)
class StageWords:
    name: str
    explanation: str
    contact: Contact


@dataclass(frozen=True)
class Wording:
    stages: Mapping[Stage, StageWords]
    events: Mapping[str, str | Mapping[ItemKind, str]]
    other_event: str
    page: Mapping[str, str]

    def stage(self, stage: Stage) -> StageWords:
        return self.stages[stage]

    def event(self, event_type: str, item_kind: ItemKind = ItemKind.DOSSIER) -> str:
        """The timeline's line for an event; an event type without words gets the generic line."""
        words = self.events.get(event_type)
        if words is None:
            return self.other_event
        if isinstance(words, str):
            return words
        return words.get(item_kind, words.get(ItemKind.DOSSIER, self.other_event))

    def describes(self, event_type: str) -> bool:
        return event_type in self.events


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{WORDING_FILE.name}: {where} must be a non-empty text")
    return value


def parse(raw: Mapping[str, Any]) -> Wording:
    """The wording of a parsed wording.yaml; a missing stage or a malformed entry is an error at start."""
    stages = {}
    for stage in Stage:
        entry = (raw.get("stages") or {}).get(stage.value)
        if not isinstance(entry, Mapping):
            raise ValueError(f"{WORDING_FILE.name}: stages.{stage.value} is missing")
        stages[stage] = StageWords(
            name=_text(entry.get("name"), f"stages.{stage.value}.name"),
            explanation=_text(entry.get("explanation"), f"stages.{stage.value}.explanation"),
            contact=Contact(str(entry.get("contact"))),
        )
    events: dict[str, str | Mapping[ItemKind, str]] = {}
    for event_type, words in (raw.get("events") or {}).items():
        if isinstance(words, Mapping):
            events[event_type] = {
                ItemKind(kind): _text(text, f"events.{event_type}.{kind}") for kind, text in words.items()
            }
        else:
            events[event_type] = _text(words, f"events.{event_type}")
    page = {str(key): _text(value, f"page.{key}") for key, value in (raw.get("page") or {}).items()}
    return Wording(stages, events, _text(raw.get("other_event"), "other_event"), page)


@functools.cache
def wording() -> Wording:
    """The reviewed wording (read once)."""
    return parse(yaml.safe_load(WORDING_FILE.read_text(encoding="utf-8")))

"""The messages' wording, as data: ``<kind>.<channel>.yaml`` beside this module, one file per message kind
and channel (reviewed Vietnamese text, ``{placeholders}`` from domain.PARAMETERS), and
``late_rule.yaml``, the late-stage rule. Zalo ZNS sends a template registered with Zalo and its
parameters; where no ``<kind>.zalo.yaml`` exists the SMS wording is its text parameter.

A malformed file stops the start with a message naming it, never a half-loaded book.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.notifications.domain import PARAMETERS, Kind, LateRule
from services.notifications.ports import Channel

DIRECTORY = Path(__file__).parent
LATE_RULE_FILE = "late_rule.yaml"


class TemplateError(ValueError):
    """A template or rule file is unreadable or malformed; the message names the file."""


@dataclass(frozen=True)
class Rendered:
    subject: str | None
    body: str


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    subject: str | None = None
    body: str = Field(min_length=1)
    encoding: Literal["GSM-7", "UCS-2"] | None = None
    max_segments: int | None = Field(default=None, ge=1, le=6)


@dataclass(frozen=True)
class Template:
    kind: Kind
    channel: Channel
    body: str
    subject: str | None = None
    encoding: Literal["GSM-7", "UCS-2"] | None = None
    """SMS only: the encoding the wording was written for (a test checks it)."""
    max_segments: int = 1
    """SMS only: how many segments the longest rendering may take (billed per segment)."""

    @property
    def id(self) -> str:
        """A bounded label: ``accepted.sms``."""
        return f"{self.kind.value}.{self.channel.value}"

    def render(self, parameters: Mapping[str, str]) -> Rendered:
        values = {name: parameters[name] for name in PARAMETERS[self.kind]}
        subject = None if self.subject is None else self.subject.format_map(values).strip()
        return Rendered(subject=subject, body=self.body.format_map(values).strip())


class TemplateBook:
    def __init__(self, templates: list[Template]) -> None:
        self._by_key = {(t.kind, t.channel): t for t in templates}

    def get(self, kind: Kind, channel: Channel) -> Template | None:
        found = self._by_key.get((kind, channel))
        if found is None and channel is Channel.ZALO:
            sms = self._by_key.get((kind, Channel.SMS))
            if sms is not None:
                return Template(kind, Channel.ZALO, sms.body, None, sms.encoding, sms.max_segments)
        return found

    def all(self) -> list[Template]:
        return sorted(self._by_key.values(), key=lambda t: t.id)

    def for_channel(self, channel: Channel) -> list[Template]:
        return [t for t in self.all() if t.channel is channel]


def load_templates(directory: Path = DIRECTORY) -> TemplateBook:
    templates = []
    for path in sorted(directory.glob("*.*.yaml")):
        kind_name, channel_name = path.name.removesuffix(".yaml").split(".", 1)
        try:
            kind, channel = Kind(kind_name), Channel(channel_name)
            raw = _File.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        except (ValueError, ValidationError, yaml.YAMLError) as exc:
            raise TemplateError(f"{path.name}: {exc}") from exc
        _check(path.name, kind, channel, raw)
        templates.append(
            Template(
                kind=kind,
                channel=channel,
                # Composed form: the same letter is then the same code points for every provider.
                body=unicodedata.normalize("NFC", raw.body),
                subject=None if raw.subject is None else unicodedata.normalize("NFC", raw.subject),
                encoding=raw.encoding,
                max_segments=raw.max_segments or 1,
            )
        )
    return TemplateBook(templates)


def _check(name: str, kind: Kind, channel: Channel, raw: _File) -> None:
    if (channel is Channel.EMAIL) != (raw.subject is not None):
        raise TemplateError(f"{name}: an e-mail has a subject, and only an e-mail")
    if (channel is Channel.SMS) != (raw.encoding is not None):
        raise TemplateError(f"{name}: an SMS declares its encoding and segments, and only an SMS")
    for text in (raw.subject or "", raw.body):
        unknown = {n for _, n, _, _ in string.Formatter().parse(text) if n} - PARAMETERS[kind]
        if unknown:
            raise TemplateError(f"{name}: unknown placeholders {sorted(unknown)}")


def load_late_rule(directory: Path = DIRECTORY) -> LateRule:
    path = directory / LATE_RULE_FILE
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return {Kind(kind): frozenset(Kind(k) for k in later) for kind, later in raw.items()}
    except (ValueError, AttributeError, TypeError, yaml.YAMLError) as exc:
        raise TemplateError(f"{LATE_RULE_FILE}: {exc}") from exc

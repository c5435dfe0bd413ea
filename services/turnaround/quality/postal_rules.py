"""The postal rules a nonconformity cites, as dated data: deploy/postal/breach_rules.yaml.

The one-stop rules (deploy/rules, services/shared/legal_rules.py) say what an agency must do; the postal
legs' limits and the return of an undeliverable result come from the postal instruments (Circular
17/2017/TT-BTTTT, Decision 45/2016/QĐ-TTg). Like the rule sets, each entry is in force from a date and the
one in force on the day of the fact is cited, so a replayed history cites what applied then. Validated at
load: an unknown key, a missing citation, or rule sets that overlap or leave a gap stop the start with one
line naming the file and the entry.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.shared.calendar import data_file, validation_messages
from services.shared.dated import segment_on

RULES_ENV = "DOSSIER_POSTAL_BREACH_RULES"
DEFAULT_RULES = Path("deploy/postal/breach_rules.yaml")


class PostalRulesError(ValueError):
    """The file is unreadable or malformed, or its rule sets overlap or leave a gap; one line."""


class _Citation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    citation: str = Field(min_length=1, max_length=160)
    note: str | None = None


class _RuleSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    rule_set: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
    instrument: str = Field(min_length=1)
    effective_from: date
    effective_until: date | None = None
    postal_leg_late: _Citation
    result_returned_to_agency: _Citation


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rule_sets: tuple[_RuleSet, ...] = Field(min_length=1)


@dataclass(frozen=True)
class PostalCitations:
    """What the postal rule set in force on a day cites for each postal breach."""

    rule_set: str
    postal_leg_late: str
    result_returned_to_agency: str


@dataclass(frozen=True)
class PostalRules:
    starts: tuple[date, ...]
    sets: tuple[PostalCitations, ...]
    ends: date | None

    def on(self, day: date) -> PostalCitations | None:
        """The citations in force on `day`; None before the first rule set or after the last one."""
        i = segment_on(self.starts, self.ends, day)
        return None if i is None else self.sets[i]


def parse_postal_rules(raw: object, source: str) -> PostalRules:
    try:
        parsed = _File.model_validate(raw)
    except ValidationError as exc:
        raise PostalRulesError(f"{source}: {'; '.join(validation_messages('', exc))}") from None
    ordered = sorted(parsed.rule_sets, key=lambda s: s.effective_from)
    for a, b in itertools.pairwise(ordered):
        if a.effective_until is None or b.effective_from != a.effective_until + timedelta(days=1):
            raise PostalRulesError(
                f"{source}: rule set {b.rule_set} must start the day after {a.rule_set} ends"
            )
    return PostalRules(
        starts=tuple(s.effective_from for s in ordered),
        sets=tuple(
            PostalCitations(s.rule_set, s.postal_leg_late.citation, s.result_returned_to_agency.citation)
            for s in ordered
        ),
        ends=ordered[-1].effective_until,
    )


def load_postal_rules(path: Path | str | None = None) -> PostalRules:
    file = Path(path) if path is not None else data_file(RULES_ENV, DEFAULT_RULES)
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PostalRulesError(f"{file.name}: cannot read the postal breach rules: {exc}") from exc
    except (yaml.YAMLError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PostalRulesError(f"{file.name}: not valid YAML: {first}") from exc
    return parse_postal_rules(raw, file.name)


@cache
def default_postal_rules() -> PostalRules:
    """The configured postal rules, read once per process."""
    return load_postal_rules()

"""The legal parameters of the one-stop procedure, as dated data: deploy/rules/*.yaml.

Every parameter a service applies (the forwarding cut-off hour, how many supplement requests and within
how long, the closure period, the apology slip's lead time and count, the on-time formula) lives in one
rule set per instrument — Decree 61/2018 as amended by Decree 107/2021 until 30/6/2025, Decree 118/2025
from 1/7/2025 — each with the article it comes from, and later amendments as dated entries. The rule that
applies to a fact is the one in force on the day the fact happened (Vietnam time), so a replay of 2025's
log judges a dossier of May by the rules of May.

The files are validated when a service starts: rule sets that leave a gap or overlap, an unknown key, a
parameter without its citation stop the start with one line naming the file and the entry. Pure once
loaded: `LegalRules.on(day)` answers the rules in force on a day.

The README's rules table is generated from the files by services/shared/legal_rules_table.py.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from services.shared.calendar import (
    WorkingCalendar,
    data_file,
    to_vietnam_time,
    validation_messages,
)
from services.shared.dated import segment_on

RULES_ENV = "DOSSIER_RULES_DIR"
DEFAULT_RULES = Path("deploy/rules")

Unit = Literal["calendar", "working"]
Formula = Literal["due_date", "index_766"]


class LegalRulesError(ValueError):
    """A rule file is unreadable or malformed, or the rule sets do not tile the calendar; one line."""


class NoRuleInForceError(LookupError):
    """A fact happened on a day no rule set covers (before the first one took effect)."""


# --------------------------------------------------------------------------- the file's entries


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    citation: str = Field(min_length=1)
    """The instrument and article the value comes from."""
    note: str | None = None
    """What the text says besides the value, or why the value could not be confirmed."""

    @field_validator("citation", mode="before")
    @classmethod
    def _citation_not_blank(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ValueError("must cite the instrument and article (e.g. 'Decree 118/2025/NĐ-CP Art. 19(5)')")
        return value


class CutoffEntry(_Entry):
    hour: int | None = Field(ge=0, le=23)
    """Paper received at or after this hour counts from the next working day; null: no cut-off."""


class CountEntry(_Entry):
    count: int | None = Field(ge=0)
    """How many are allowed; null: no limit."""


class PeriodEntry(_Entry):
    days: int | None = Field(ge=0)
    """The length of the period; null: the rule sets none."""
    unit: Unit
    """Calendar days or working days (by the working calendar)."""


class OnTimeEntry(_Entry):
    formula: Formula
    """due_date: early / on time / late against the due date; index_766: the service-quality index's."""
    late_above_supplement_requests: int | None = Field(default=None, ge=0)
    """index_766: more supplement requests than this make the dossier late whatever the dates."""

    @model_validator(mode="after")
    def _index_names_its_limit(self) -> Self:
        if self.formula == "index_766" and self.late_above_supplement_requests is None:
            raise ValueError("index_766 needs late_above_supplement_requests")
        return self


class Parameters(BaseModel):
    """Every parameter of a rule set; an amendment gives some of them (the others stay)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    forwarding_cutoff: CutoffEntry
    supplement_requests_allowed: CountEntry
    supplement_request_window: PeriodEntry
    closure_without_supplement: PeriodEntry
    apology_lead: PeriodEntry
    apology_slips_allowed: CountEntry
    on_time_formula: OnTimeEntry


class Changes(BaseModel):
    """The parameters an amendment changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    forwarding_cutoff: CutoffEntry | None = None
    supplement_requests_allowed: CountEntry | None = None
    supplement_request_window: PeriodEntry | None = None
    closure_without_supplement: PeriodEntry | None = None
    apology_lead: PeriodEntry | None = None
    apology_slips_allowed: CountEntry | None = None
    on_time_formula: OnTimeEntry | None = None


class Amendment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    effective_from: date
    instrument: str = Field(min_length=1)
    parameters: Changes

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        if not self.parameters.model_dump(exclude_none=True):
            raise ValueError("parameters: an amendment changes at least one parameter")
        return self


class RuleSetFile(BaseModel):
    """One file: the rule set of one instrument, its period, and its amendments."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    rule_set: str = Field(min_length=1, pattern=r"^[a-z0-9_]+$")
    instrument: str = Field(min_length=1)
    effective_from: date
    effective_until: date | None = None
    """The last day in force; null: in force now."""
    parameters: Parameters
    amendments: tuple[Amendment, ...] = ()

    @field_validator("effective_from", "effective_until", mode="before")
    @classmethod
    def _no_datetime(cls, value: object) -> object:
        if isinstance(value, datetime):
            raise ValueError("must be a date (YYYY-MM-DD), not a date and time")
        return value

    @model_validator(mode="after")
    def _amendments_inside_the_period(self) -> Self:
        if self.effective_until is not None and self.effective_until < self.effective_from:
            raise ValueError("effective_until: before effective_from")
        seen: set[tuple[date, str]] = set()
        for i, amendment in enumerate(self.amendments):
            start = amendment.effective_from
            if start <= self.effective_from or (self.effective_until and start > self.effective_until):
                raise ValueError(f"amendments[{i}].effective_from: outside the rule set's period")
            for name in amendment.parameters.model_dump(exclude_none=True):
                if (start, name) in seen:
                    raise ValueError(
                        f"amendments[{i}].parameters.{name}: amended twice on {start.isoformat()}"
                    )
                seen.add((start, name))
        return self


# --------------------------------------------------------------------------- the rules in force on a day


@dataclass(frozen=True)
class Period:
    """A number of calendar or working days."""

    days: int
    unit: Unit

    def end(self, start: date, calendar: WorkingCalendar) -> date:
        """The last day of the period counted from `start` (Civil Code Art. 147: `start` not counted)."""
        if self.unit == "working":
            return calendar.add_working_days(start, self.days)
        return start + timedelta(days=self.days)


@dataclass(frozen=True)
class OnTime:
    formula: Formula
    late_above_supplement_requests: int | None = None


@dataclass(frozen=True)
class RulesInForce:
    """The legal parameters in force on one day."""

    rule_set: str
    cutoff: time | None
    """Paper received at or after this time counts from the next working day; None: no cut-off."""
    supplement_requests_allowed: int | None
    """Supplement requests allowed per dossier; None: no limit."""
    supplement_window: Period | None
    """A supplement request is due within this period of the receipt; None: no limit."""
    closure: Period | None
    """A dossier still awaiting its supplement this long after the request is closed; None: never."""
    apology_lead: Period
    """An apology slip is due at least this long before the due date."""
    apology_slips_allowed: int | None
    on_time: OnTime


def _period(entry: PeriodEntry) -> Period | None:
    return None if entry.days is None else Period(entry.days, entry.unit)


def _resolve(rule_set: str, p: Parameters) -> RulesInForce:
    lead = _period(p.apology_lead)
    if lead is None:
        raise ValueError("parameters.apology_lead.days: required (a lead time of 0 days means none)")
    hour = p.forwarding_cutoff.hour
    return RulesInForce(
        rule_set=rule_set,
        cutoff=None if hour is None else time(hour),
        supplement_requests_allowed=p.supplement_requests_allowed.count,
        supplement_window=_period(p.supplement_request_window),
        closure=_period(p.closure_without_supplement),
        apology_lead=lead,
        apology_slips_allowed=p.apology_slips_allowed.count,
        on_time=OnTime(p.on_time_formula.formula, p.on_time_formula.late_above_supplement_requests),
    )


@dataclass(frozen=True)
class Row:
    """One line of the rules table: a parameter's value from a date, with its citation."""

    parameter: str
    value: str
    citation: str
    effective_from: date
    note: str | None


@dataclass(frozen=True)
class CutoffOverride:
    """A deployment's own cut-off for every day: a province's hour, or None for no cut-off."""

    cutoff: time | None


@dataclass(frozen=True)
class LegalRules:
    """The rule sets in date order; `on(day)` answers the rules in force on a day."""

    starts: tuple[date, ...]
    """The first day of each segment (a rule set, or an amendment within one)."""
    segments: tuple[RulesInForce, ...]
    ends: date | None
    """The last day covered; None: the last rule set is in force now."""
    rows: tuple[Row, ...] = ()
    cutoff_override: CutoffOverride | None = None
    """A deployment's own cut-off for every day; None: the files' hour of the day."""

    def on(self, day: date) -> RulesInForce:
        i = segment_on(self.starts, self.ends, day)
        if i is None:
            raise NoRuleInForceError(f"no rule set is in force on {day.isoformat()}")
        rules = self.segments[i]
        if self.cutoff_override is None:
            return rules
        return replace(rules, cutoff=self.cutoff_override.cutoff)

    def at(self, moment: datetime) -> RulesInForce:
        """The rules in force on the day (Vietnam time) a fact happened."""
        return self.on(to_vietnam_time(moment).date())

    def cutoff_at(self, moment: datetime) -> time | None:
        """The forwarding cut-off that applies to a filing at `moment`."""
        return self.at(moment).cutoff

    def with_cutoff(self, cutoff: time | None) -> LegalRules:
        """The same rules with one cut-off every day: a province's own hour, or None for no cut-off."""
        return replace(self, cutoff_override=CutoffOverride(cutoff))


def _describe(name: str, entry: _Entry) -> str:
    match entry:
        case CutoffEntry(hour=hour):
            return "none" if hour is None else f"{hour:02d}:00"
        case CountEntry(count=count):
            return "no limit" if count is None else str(count)
        case PeriodEntry(days=days, unit=unit):
            return "none" if days is None else f"{days} {unit} day{'s' if days != 1 else ''}"
        case OnTimeEntry(formula=formula, late_above_supplement_requests=n):
            return (
                formula
                if n is None
                else f"{formula} (late above {n} supplement request{'s' if n != 1 else ''})"
            )
    raise TypeError(name)  # pragma: no cover


def build(files: list[tuple[str, RuleSetFile]]) -> LegalRules:
    """The rules of validated files; LegalRulesError (one line) for a gap or an overlap between them."""
    if not files:
        raise LegalRulesError("no rule file: at least one rule set is needed")
    ordered = sorted(files, key=lambda f: f[1].effective_from)
    for (name, a), (next_name, b) in itertools.pairwise(ordered):
        if a.effective_until is None or b.effective_from <= a.effective_until:
            raise LegalRulesError(
                f"{next_name}: effective_from {b.effective_from.isoformat()} overlaps {name} "
                f"(in force {a.effective_from.isoformat()}–{_until(a)})"
            )
        if b.effective_from != a.effective_until + timedelta(days=1):
            raise LegalRulesError(
                f"{next_name}: effective_from {b.effective_from.isoformat()} leaves a gap after {name} "
                f"(in force until {a.effective_until.isoformat()})"
            )
    names = [f.rule_set for _, f in ordered]
    for name, f in ordered:
        if names.count(f.rule_set) > 1:
            raise LegalRulesError(f"{name}: rule_set {f.rule_set!r} is named by another file too")
    starts: list[date] = []
    segments: list[RulesInForce] = []
    rows: list[Row] = []
    for name, f in ordered:
        params = f.parameters
        rows += [
            Row(key, _describe(key, entry), entry.citation, f.effective_from, entry.note)
            for key, entry in ((k, getattr(params, k)) for k in Parameters.model_fields)
        ]
        try:
            starts.append(f.effective_from)
            segments.append(_resolve(f.rule_set, params))
            for amendment in sorted(f.amendments, key=lambda a: a.effective_from):
                changes = {k: v for k, v in amendment.parameters if v is not None}
                params = params.model_copy(update=changes)
                rows += [
                    Row(k, _describe(k, v), v.citation, amendment.effective_from, v.note)
                    for k, v in changes.items()
                ]
                if starts[-1] == amendment.effective_from:
                    segments[-1] = _resolve(f.rule_set, params)
                else:
                    starts.append(amendment.effective_from)
                    segments.append(_resolve(f.rule_set, params))
        except ValueError as exc:
            raise LegalRulesError(f"{name}: {exc}") from None
    return LegalRules(tuple(starts), tuple(segments), ordered[-1][1].effective_until, tuple(rows))


def _until(f: RuleSetFile) -> str:
    return f.effective_until.isoformat() if f.effective_until else "now"


def parse_rule_file(raw: object, source: str) -> RuleSetFile:
    """One file's parsed YAML, validated; LegalRulesError naming the file and the entry."""
    if not isinstance(raw, dict):
        raise LegalRulesError(
            f"{source}: must be a mapping with rule_set, instrument, effective_from, parameters"
        )
    try:
        return RuleSetFile.model_validate(raw)
    except ValidationError as exc:
        raise LegalRulesError(f"{source}: {'; '.join(validation_messages('', exc))}") from None


def load_legal_rules(directory: Path | str | None = None) -> LegalRules:
    """Every rule file of the directory (default: $DOSSIER_RULES_DIR or deploy/rules)."""
    folder = Path(directory) if directory is not None else data_file(RULES_ENV, DEFAULT_RULES)
    paths = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
    if not paths:
        raise LegalRulesError(f"{folder}: no rule file (*.yaml) found")
    files = []
    for path in paths:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise LegalRulesError(f"{path.name}: cannot read the rule file: {exc}") from exc
        except (yaml.YAMLError, ValueError) as exc:  # PyYAML raises ValueError on impossible dates
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise LegalRulesError(f"{path.name}: not valid YAML: {first}") from exc
        files.append((path.name, parse_rule_file(raw, path.name)))
    return build(files)


@cache
def default_legal_rules() -> LegalRules:
    """The configured rules, read once per process."""
    return load_legal_rules()

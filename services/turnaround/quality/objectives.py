"""Quality objectives (ISO 9001:2015 cl. 6.2) as data: deploy/quality/objectives.yaml.

Each objective says what is measured (the share of a leg's clocks finished early or on time, or the
count of nonconformities of one kind), on which scope (national, a province, an agency, a post office)
and procedure, against which target, per which period, who owns it and why it was set. The file is read
once when the service starts; a malformed file stops the start with one line naming the objective and
the field (``ObjectivesError``), like the legal rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from contracts.enums import Leg
from services.shared.calendar import REPO_ROOT
from services.turnaround.quality.periods import PeriodKind
from services.turnaround.quality.scopes import Scope, ScopeError, ScopeKind

DEFAULT_OBJECTIVES = REPO_ROOT / "deploy" / "quality" / "objectives.yaml"

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


class ObjectivesError(ValueError):
    """The objectives file is unreadable or malformed; the message names the objective and the field."""


class Measure(StrEnum):
    ON_TIME_SHARE = "on_time_share"
    """Percent of the leg's clocks finished in the period that finished early or on time."""
    NONCONFORMITY_COUNT = "nonconformity_count"
    """Nonconformities of one kind detected in the period whose responsible unit is in the scope."""


class Comparison(StrEnum):
    AT_LEAST = "at_least"
    AT_MOST = "at_most"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScopeEntry(_Strict):
    kind: ScopeKind
    code: str | None = None

    @model_validator(mode="after")
    def _a_unit_or_the_nation(self) -> ScopeEntry:
        try:
            Scope(self.kind, self.code or "")
        except ScopeError as exc:
            raise ValueError(str(exc)) from None
        return self

    def scope(self) -> Scope:
        return Scope(self.kind, self.code or "")


class TargetEntry(_Strict):
    """Exactly one of ``at_least`` / ``at_most``: a percent (0–100) for a share, a count for a count."""

    at_least: Annotated[Decimal, Field(ge=0)] | None = None
    at_most: Annotated[Decimal, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> TargetEntry:
        if (self.at_least is None) == (self.at_most is None):
            raise ValueError("give exactly one of at_least or at_most")
        return self

    @property
    def comparison(self) -> Comparison:
        return Comparison.AT_LEAST if self.at_least is not None else Comparison.AT_MOST

    @property
    def value(self) -> Decimal:
        value = self.at_least if self.at_least is not None else self.at_most
        assert value is not None
        return value


class ObjectiveEntry(_Strict):
    id: str
    title: Annotated[str, Field(min_length=1, max_length=300)]
    scope: ScopeEntry
    measure: Measure
    leg: Leg | None = None
    """The clock measured (on_time_share)."""
    nonconformity_kind: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")] | None = None
    """The kind of nonconformity counted (nonconformity_count), e.g. late_delay_notice."""
    procedure_code: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    target: TargetEntry
    period: PeriodKind
    owner: Annotated[str, Field(min_length=1, max_length=200)]
    source: Annotated[str, Field(min_length=1, max_length=500)]

    @model_validator(mode="after")
    def _coherent(self) -> ObjectiveEntry:
        if not _ID.match(self.id):
            raise ValueError("id: lower-case letters, digits and '-', at most 64")
        if self.measure is Measure.ON_TIME_SHARE:
            if self.leg is None:
                raise ValueError("leg: required by on_time_share")
            if self.nonconformity_kind is not None:
                raise ValueError("nonconformity_kind: only for nonconformity_count")
            if self.target.value > 100:
                raise ValueError("target: a share is a percent between 0 and 100")
        else:
            if self.nonconformity_kind is None:
                raise ValueError("nonconformity_kind: required by nonconformity_count")
            if self.leg is not None:
                raise ValueError("leg: only for on_time_share")
            if self.target.value != self.target.value.to_integral_value():
                raise ValueError("target: a count is a whole number")
        return self


class ObjectivesFile(_Strict):
    objectives: list[dict[str, Any]]


@dataclass(frozen=True)
class Objective:
    """A validated objective, as the measurement and the API use it."""

    id: str
    title: str
    scope: Scope
    measure: Measure
    leg: Leg | None
    nonconformity_kind: str | None
    procedure_code: str | None
    comparison: Comparison
    target: Decimal
    period: PeriodKind
    owner: str
    source: str


@dataclass(frozen=True)
class Objectives:
    items: tuple[Objective, ...]

    def get(self, objective_id: str) -> Objective | None:
        return next((o for o in self.items if o.id == objective_id), None)

    def __iter__(self) -> Iterator[Objective]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def _field_of(error: Any) -> str:
    location = [str(part) for part in error["loc"] if not isinstance(part, int)]
    message = str(error["msg"]).removeprefix("Value error, ")
    if location:
        return f"{'.'.join(location)}: {message}"
    return message


def parse_objectives(raw: object, name: str = "objectives.yaml") -> Objectives:
    """The objectives of a parsed YAML document; ObjectivesError naming the objective and the field."""
    if not isinstance(raw, dict):
        raise ObjectivesError(f"{name}: objectives: the file holds a mapping with an objectives list")
    try:
        document = ObjectivesFile.model_validate(raw)
    except ValidationError as exc:
        raise ObjectivesError(f"{name}: {_field_of(exc.errors()[0])}") from None
    items: list[Objective] = []
    for position, entry in enumerate(document.objectives, start=1):
        named = entry.get("id")
        label = f"objective {named!r}" if isinstance(named, str) else f"objective #{position}"
        try:
            parsed = ObjectiveEntry.model_validate(entry)
        except ValidationError as exc:
            raise ObjectivesError(f"{name}: {label}: {_field_of(exc.errors()[0])}") from None
        if any(o.id == parsed.id for o in items):
            raise ObjectivesError(f"{name}: {label}: id: named by another objective too")
        items.append(
            Objective(
                id=parsed.id,
                title=parsed.title,
                scope=parsed.scope.scope(),
                measure=parsed.measure,
                leg=parsed.leg,
                nonconformity_kind=parsed.nonconformity_kind,
                procedure_code=parsed.procedure_code,
                comparison=parsed.target.comparison,
                target=parsed.target.value,
                period=parsed.period,
                owner=parsed.owner,
                source=parsed.source,
            )
        )
    return Objectives(tuple(items))


def load_objectives(path: Path | str | None = None) -> Objectives:
    """The objectives file (default: the repository's deploy/quality/objectives.yaml; the setting
    TURNAROUND_OBJECTIVES_FILE names another)."""
    file = Path(path) if path is not None else DEFAULT_OBJECTIVES
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ObjectivesError(f"{file.name}: cannot read the objectives file: {exc.strerror}") from exc
    except (yaml.YAMLError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ObjectivesError(f"{file.name}: not valid YAML: {first}") from exc
    return parse_objectives(raw, file.name)

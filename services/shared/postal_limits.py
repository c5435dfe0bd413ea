"""Time limits of the postal legs (Circular 17/2017/TT-BTTTT): J+n working days by route class.

J is the acceptance day (inbound leg) or the pickup day (return leg). The limit is the n-th working day
after J (Civil Code Art. 147: J itself is not counted). J is used as it is, even on a non-working day:
a dossier accepted on Saturday within one commune is due at the agency on Monday (J+1), because the
rule counts days after the event and post offices do work on Saturdays. The table lives in
deploy/postal/route_limits.yaml so that the next circular is an edit, not a release.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import date
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from services.shared.calendar import WorkingCalendar, data_file, validation_messages

ROUTE_LIMITS_ENV = "DOSSIER_ROUTE_LIMITS"
DEFAULT_ROUTE_LIMITS = Path("deploy/postal/route_limits.yaml")


class RouteClass(StrEnum):
    SAME_COMMUNE = "same_commune"
    SAME_PROVINCE = "same_province"
    BETWEEN_SPECIAL_CITIES = "between_special_cities"
    INTER_PROVINCIAL = "inter_provincial"


class RouteLimitsError(ValueError):
    """The route-limit file is unreadable or malformed."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class SpecialCity(_Strict):
    """A city of special class or class I; at province level since districts were removed."""

    province: str = Field(min_length=1)
    urban_class: Literal["special", "I"]
    aliases: tuple[str, ...] = ()

    def names(self) -> set[str]:
        return {normalise_place(name) for name in (self.province, *self.aliases)}


class RouteLimits(_Strict):
    limits: dict[RouteClass, int]
    appointment_slip_factor: int = Field(default=2, ge=1)
    special_cities: tuple[SpecialCity, ...] = ()

    @model_validator(mode="after")
    def _every_class_has_a_positive_limit(self) -> Self:
        missing = [c.value for c in RouteClass if c not in self.limits]
        if missing:
            raise ValueError(f"limits: no limit for {', '.join(missing)}")
        bad = [f"{c.value}={n}" for c, n in self.limits.items() if n < 1]
        if bad:
            raise ValueError(f"limits: must be at least 1 working day ({', '.join(bad)})")
        return self

    def days(self, route_class: RouteClass, carries_appointment_slip: bool = False) -> int:
        """n of J+n for this route; multiplied when the appointment slip also goes back."""
        n = self.limits[RouteClass(route_class)]
        return n * self.appointment_slip_factor if carries_appointment_slip else n


def postal_leg_due(
    start_day: date,
    route_class: RouteClass,
    calendar: WorkingCalendar,
    carries_appointment_slip: bool = False,
    limits: RouteLimits | None = None,
) -> date:
    """The last day of a postal leg that started (J) on start_day: J + n working days.

    limits defaults to the configured table (deploy/postal/route_limits.yaml, read once).
    """
    table = limits if limits is not None else default_route_limits()
    return calendar.add_working_days(start_day, table.days(route_class, carries_appointment_slip))


def classify_route(
    origin_province: str,
    origin_commune: str,
    dest_province: str,
    dest_commune: str,
    special_cities: Iterable[SpecialCity],
) -> RouteClass:
    """The route class of a leg between two places given as province and commune names (or codes)."""
    origin, dest = normalise_place(origin_province), normalise_place(dest_province)
    if origin == dest:
        if normalise_place(origin_commune) == normalise_place(dest_commune):
            return RouteClass.SAME_COMMUNE
        return RouteClass.SAME_PROVINCE
    city_names: set[str] = set()
    for city in special_cities:
        city_names |= city.names()
    if origin in city_names and dest in city_names:
        return RouteClass.BETWEEN_SPECIAL_CITIES
    return RouteClass.INTER_PROVINCIAL


# Administrative prefixes people write or omit: "Thành phố Hà Nội", "TP. Hà Nội", "Hà Nội".
_PREFIX = re.compile(r"^(thành phố|tp\.?|tỉnh|xã|phường|đặc khu)\s+")


def normalise_place(name: str) -> str:
    text = " ".join(unicodedata.normalize("NFC", name).casefold().split())
    return _PREFIX.sub("", text)


def parse_route_limits(raw: object, source: str = "route limits") -> RouteLimits:
    try:
        return RouteLimits.model_validate(raw)
    except ValidationError as exc:
        raise RouteLimitsError(f"{source}: " + "; ".join(validation_messages("", exc))) from exc


def load_route_limits(path: Path | str | None = None) -> RouteLimits:
    """Read the table (default: $DOSSIER_ROUTE_LIMITS or deploy/postal/route_limits.yaml)."""
    file = Path(path) if path is not None else data_file(ROUTE_LIMITS_ENV, DEFAULT_ROUTE_LIMITS)
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RouteLimitsError(f"{file}: cannot read the route-limit file: {exc}") from exc
    except (yaml.YAMLError, ValueError) as exc:  # PyYAML raises ValueError on impossible dates
        raise RouteLimitsError(f"{file}: not valid YAML: {exc}") from exc
    return parse_route_limits(raw, source=str(file))


@cache
def default_route_limits() -> RouteLimits:
    """The configured table, read once per process."""
    return load_route_limits()

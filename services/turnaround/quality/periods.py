"""Reporting periods: a month, a quarter, a half-year or a year of Vietnam's calendar.

The one definition of a period's bounds, shared by the objectives' measurement and the periodic reports
(so a report and an objective for "2026-Q3" count the same days). A period is named as agencies file it:
``2026-07`` (month), ``2026-Q3`` (quarter), ``2026-H2`` (half-year), ``2026`` (year). Its days are
Vietnam calendar days (UTC+7): a clock is in a period by its Vietnam day, like every date in the clocks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum

from services.shared.calendar import VN_TZ


class PeriodKind(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    HALF_YEAR = "half_year"
    YEAR = "year"


_MONTHS = {PeriodKind.MONTH: 1, PeriodKind.QUARTER: 3, PeriodKind.HALF_YEAR: 6, PeriodKind.YEAR: 12}
_NAME = re.compile(r"^(?P<year>\d{4})(?:-(?:(?P<month>\d{2})|Q(?P<quarter>[1-4])|H(?P<half>[12])))?$")


class PeriodError(ValueError):
    """A period name that is not one of the four forms, or out of range."""


@dataclass(frozen=True, order=True)
class Period:
    """``index`` counts from 1 within the year: the month (1–12), quarter (1–4), half (1–2); 1 for a year."""

    year: int
    kind: PeriodKind
    index: int

    def __post_init__(self) -> None:
        if not 2000 <= self.year <= 2999:
            raise PeriodError(f"year {self.year} is outside 2000–2999")
        if not 1 <= self.index <= 12 // _MONTHS[self.kind]:
            raise PeriodError(f"{self.kind} {self.index} does not exist")

    @classmethod
    def parse(cls, name: str) -> Period:
        match = _NAME.match(name)
        if match is None:
            raise PeriodError(
                f"period {name!r} is not a month (2026-07), quarter (2026-Q3), half-year (2026-H2) "
                "or year (2026)"
            )
        year = int(match["year"])
        if match["month"] is not None:
            return cls(year, PeriodKind.MONTH, int(match["month"]))
        if match["quarter"] is not None:
            return cls(year, PeriodKind.QUARTER, int(match["quarter"]))
        if match["half"] is not None:
            return cls(year, PeriodKind.HALF_YEAR, int(match["half"]))
        return cls(year, PeriodKind.YEAR, 1)

    @classmethod
    def containing(cls, day: date, kind: PeriodKind) -> Period:
        return cls(day.year, kind, (day.month - 1) // _MONTHS[kind] + 1)

    @property
    def name(self) -> str:
        if self.kind is PeriodKind.MONTH:
            return f"{self.year}-{self.index:02d}"
        if self.kind is PeriodKind.QUARTER:
            return f"{self.year}-Q{self.index}"
        if self.kind is PeriodKind.HALF_YEAR:
            return f"{self.year}-H{self.index}"
        return f"{self.year}"

    def __str__(self) -> str:
        return self.name

    @property
    def first_day(self) -> date:
        return date(self.year, (self.index - 1) * _MONTHS[self.kind] + 1, 1)

    @property
    def end_day(self) -> date:
        """The first day after the period (exclusive bound)."""
        return self.next().first_day

    @property
    def starts_at(self) -> datetime:
        """Midnight of the first day, Vietnam time."""
        return datetime.combine(self.first_day, time(0), tzinfo=VN_TZ)

    @property
    def ends_at(self) -> datetime:
        """Midnight after the last day, Vietnam time (exclusive): what is "at period end"."""
        return datetime.combine(self.end_day, time(0), tzinfo=VN_TZ)

    def contains(self, day: date) -> bool:
        return self.first_day <= day < self.end_day

    def next(self) -> Period:
        per_year = 12 // _MONTHS[self.kind]
        if self.index == per_year:
            return Period(self.year + 1, self.kind, 1)
        return Period(self.year, self.kind, self.index + 1)

    def previous(self) -> Period:
        if self.index == 1:
            return Period(self.year - 1, self.kind, 12 // _MONTHS[self.kind])
        return Period(self.year, self.kind, self.index - 1)

    def previous_ones(self, count: int) -> list[Period]:
        """The ``count`` periods before this one, most recent first (for a trend)."""
        periods: list[Period] = []
        current = self
        for _ in range(count):
            current = current.previous()
            periods.append(current)
        return periods

    def ended_by(self, today: date) -> bool:
        """Whether the period is over on ``today`` (Vietnam day): only an ended period is filed."""
        return today >= self.end_day

"""Vietnamese working days and the clock rules that count in them.

Working days are Monday–Friday minus public holidays, plus announced make-up Saturdays. The `holidays`
package (country "VN") knows the Labour Code holidays, observed days and the swaps announced before its
release (`weekend_workdays`); deploy/calendar/overrides.yaml adds what the government announced later.

Counting follows Civil Code 2015 Art. 147: the day of the event is not counted, so "N working days
from D" is the N-th working day after D. Everything here is pure once the calendar is built: no clock
reads, no I/O outside `load_overrides` / `load_calendar`.
"""

from __future__ import annotations

import datetime as dt
import os
from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

if TYPE_CHECKING:
    from services.shared.catalog import Target


def _vietnam_tz() -> tzinfo:
    try:
        return ZoneInfo("Asia/Ho_Chi_Minh")
    except ZoneInfoNotFoundError:
        # Slim images may lack the tz database; Vietnam has been UTC+7 without DST since 1975.
        return timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")


VN_TZ: tzinfo = _vietnam_tz()

# Decree 61/2018 Art. 18: paper received after 15:00 counts from the next working day.
DEFAULT_CUTOFF = time(15, 0)
# Office hours used to count targets given in hours. Provinces set their own hours (and lunch
# breaks); one 08:00–17:00 window is the common denominator and keeps the rule explainable.
OFFICE_OPENS = time(8, 0)
OFFICE_CLOSES = time(17, 0)

REPO_ROOT = Path(__file__).resolve().parents[2]
OVERRIDES_ENV = "DOSSIER_CALENDAR_OVERRIDES"
DEFAULT_OVERRIDES = Path("deploy/calendar/overrides.yaml")


def data_file(env_var: str, relative: Path) -> Path:
    """A data file under deploy/: the env var wins, else the path relative to the repository root.

    Resolving from this file (services/shared/../..) keeps the default working whatever the current
    directory is; the env var lets a container mount its own copy.
    """
    override = os.environ.get(env_var)
    return Path(override) if override else REPO_ROOT / relative


# --------------------------------------------------------------------------- override file


class CalendarError(ValueError):
    """The override file is unreadable or malformed; the message names the entry and the field."""


def _iso_date(value: object) -> object:
    # Dates arrive as ISO text (see _DatesAsText) or as date objects from code; nothing else:
    # pydantic would otherwise read an integer like 20260102 as a Unix timestamp.
    if isinstance(value, datetime):
        raise ValueError("must be a date (YYYY-MM-DD), not a date and time")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not a valid date in the form YYYY-MM-DD") from None
    raise ValueError("must be a date in the form YYYY-MM-DD")


class CalendarOverride(BaseModel):
    """One announced day: which date and the announcement that decided it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    date: dt.date
    reason: str = Field(min_length=1)

    @field_validator("date", mode="before")
    @classmethod
    def _parse_date(cls, value: object) -> object:
        return _iso_date(value)

    @field_validator("reason")
    @classmethod
    def _reason_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must cite the announcement (e.g. 'Official Dispatch 12729/VPCP-KGVX')")
        return value.strip()


@dataclass(frozen=True)
class CalendarOverrides:
    """Days off and worked days that override the holidays package (the override wins)."""

    days_off: tuple[CalendarOverride, ...] = ()
    working_days: tuple[CalendarOverride, ...] = ()


_OVERRIDE_LISTS = ("days_off", "working_days")


def parse_overrides(raw: object, source: str) -> CalendarOverrides:
    """Validate the parsed YAML of an override file; every problem is reported with its entry."""
    if raw is None:
        return CalendarOverrides()
    if not isinstance(raw, Mapping):
        raise CalendarError(f"{source}: top level must be a mapping with keys {', '.join(_OVERRIDE_LISTS)}")
    expected = " or ".join(_OVERRIDE_LISTS)
    errors = [f"{key}: unknown key (expected {expected})" for key in raw if key not in _OVERRIDE_LISTS]
    lists: dict[str, list[CalendarOverride]] = {name: [] for name in _OVERRIDE_LISTS}
    seen: dict[date, str] = {}
    for name in _OVERRIDE_LISTS:
        entries = raw.get(name) or []
        if not isinstance(entries, list):
            errors.append(f"{name}: must be a list of {{date, reason}} entries")
            continue
        for index, entry in enumerate(entries):
            listed_as = f"{name}[{index}]"
            where = listed_as
            if isinstance(entry, Mapping) and "date" in entry:
                where += f" ({entry['date']})"
            try:
                override = CalendarOverride.model_validate(entry)
            except ValidationError as exc:
                errors.extend(validation_messages(where, exc))
                continue
            if override.date in seen:
                errors.append(f"{where}.date: {override.date} is already listed in {seen[override.date]}")
                continue
            seen[override.date] = listed_as
            lists[name].append(override)
    if errors:
        raise CalendarError(f"{source}: " + "; ".join(errors))
    return CalendarOverrides(days_off=tuple(lists["days_off"]), working_days=tuple(lists["working_days"]))


class _DatesAsText(yaml.SafeLoader):
    """Leaves dates as text: PyYAML would fail the whole file on 2026-02-30 without naming the entry."""


def _timestamp_as_text(loader: _DatesAsText, node: yaml.Node) -> str:
    return str(node.value)


_DatesAsText.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)


def load_overrides(path: Path | str | None = None) -> CalendarOverrides:
    """Read the override file (default: $DOSSIER_CALENDAR_OVERRIDES or deploy/calendar/overrides.yaml)."""
    file = Path(path) if path is not None else data_file(OVERRIDES_ENV, DEFAULT_OVERRIDES)
    try:
        raw = yaml.load(file.read_text(encoding="utf-8"), Loader=_DatesAsText)  # a SafeLoader subclass
    except OSError as exc:
        raise CalendarError(f"{file}: cannot read the calendar override file: {exc}") from exc
    except yaml.YAMLError as exc:
        raise CalendarError(f"{file}: not valid YAML: {exc}") from exc
    return parse_overrides(raw, source=str(file))


def validation_messages(where: str, exc: ValidationError) -> list[str]:
    """pydantic errors as `where.field[index].field: message` lines, for the loaders of deploy/ files."""
    lines = []
    for err in exc.errors():
        path = f"{where}{_loc(err['loc'])}".lstrip(".")
        lines.append(f"{path}: {_message(err)}" if path else _message(err))
    return lines


def _loc(loc: tuple[int | str, ...]) -> str:
    # pydantic marks a bad mapping key with a "[key]" step: "limits.same_district (key)".
    return "".join(
        f"[{part}]" if isinstance(part, int) else " (key)" if part == "[key]" else f".{part}" for part in loc
    )


def _message(err: Mapping[str, Any]) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key"
    if err["type"] == "missing":
        return "required field is missing"
    return str(err["msg"]).removeprefix("Value error, ")


# --------------------------------------------------------------------------- the calendar


@dataclass(frozen=True)
class _Year:
    ordinals: tuple[int, ...]  # working days of the year, ascending (for counting by bisection)
    lookup: frozenset[int]  # the same days, for O(1) membership


class WorkingCalendar:
    """Vietnamese working days: Mon–Fri, minus holidays and days off, plus make-up working days.

    Precedence, strongest first: override days off, override working days, the package's make-up
    Saturdays, the package's holidays, the weekend. Each year is computed once and cached, so
    `add_working_days` and `working_days_between` cost a dictionary lookup and a bisection.
    """

    def __init__(self, overrides: CalendarOverrides | None = None) -> None:
        overrides = overrides or CalendarOverrides()
        self._days_off = frozenset(o.date for o in overrides.days_off)
        self._worked = frozenset(o.date for o in overrides.working_days)
        self._years: dict[int, _Year] = {}

    # -- per-year tables

    def _year(self, year: int) -> _Year:
        table = self._years.get(year)
        if table is None:
            table = self._years[year] = self._build_year(year)
        return table

    def _build_year(self, year: int) -> _Year:
        # Neighbouring years too: a swap can cross New Year (2015's 2 January was made up on Saturday
        # 27 December 2014), and the package only lists it when populating the later year.
        vn = holidays.country_holidays("VN", years=range(year - 1, year + 2))
        weekend_workdays = {d for d in vn.weekend_workdays if d.year == year}
        ordinals: list[int] = []
        day = date(year, 1, 1)
        while day.year == year:
            if day in self._days_off:
                working = False
            elif day in self._worked or day in weekend_workdays:
                working = True
            else:
                working = day.weekday() < 5 and day not in vn
            if working:
                ordinals.append(day.toordinal())
            day += timedelta(days=1)
        return _Year(tuple(ordinals), frozenset(ordinals))

    # -- queries

    def is_working_day(self, d: date) -> bool:
        return d.toordinal() in self._year(d.year).lookup

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after d."""
        return self.add_working_days(d, 1)

    def previous_working_day(self, d: date) -> date:
        """The last working day strictly before d."""
        return self.add_working_days(d, -1)

    def add_working_days(self, d: date, n: int) -> date:
        """The n-th working day after d (d itself not counted, Civil Code Art. 147).

        n = 0 returns d unchanged, even on a non-working day: zero days from an event is the event's own
        day, and rolling a non-working day forward is a separate rule (see `filing_day`) that callers
        apply on purpose. n < 0 gives the |n|-th working day before d.
        """
        year = d.year
        days = self._year(year).ordinals
        if n > 0:
            index = bisect_right(days, d.toordinal()) + n - 1
            while index >= len(days):
                index -= len(days)
                year += 1
                days = self._year(year).ordinals
            return date.fromordinal(days[index])
        if n < 0:
            index = bisect_left(days, d.toordinal()) + n
            while index < 0:
                year -= 1
                days = self._year(year).ordinals
                index += len(days)
            return date.fromordinal(days[index])
        return d

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after start up to and including end; 0 when end == start.

        When end is before start the result is negative: minus the working days after end up to and
        including start. So for any start and n >= 0, working_days_between(start,
        add_working_days(start, n)) == n, and a due date d is overdue on day t when
        working_days_between(d, t) > 0.
        """
        if end < start:
            return -self.working_days_between(end, start)
        if start.year == end.year:
            days = self._year(start.year).ordinals
            return bisect_right(days, end.toordinal()) - bisect_right(days, start.toordinal())
        first = self._year(start.year).ordinals
        count = len(first) - bisect_right(first, start.toordinal())
        count += sum(len(self._year(year).ordinals) for year in range(start.year + 1, end.year))
        return count + bisect_right(self._year(end.year).ordinals, end.toordinal())

    def filing_day(self, filed_at: datetime, cutoff: time | None = DEFAULT_CUTOFF) -> date:
        """The day from which an agency counts a filing (Decree 61/2018 Art. 18).

        filed_at is converted to Vietnam time. A filing on a non-working day, or at or after the cut-off,
        counts as filed on the next working day; cutoff None means only the non-working-day rule.
        """
        local = to_vietnam_time(filed_at)
        day = local.date()
        if not self.is_working_day(day) or (cutoff is not None and local.time() >= cutoff):
            return self.next_working_day(day)
        return day


def to_vietnam_time(moment: datetime) -> datetime:
    """moment in Vietnam time; a naive datetime is refused because its zone would be a guess."""
    if moment.tzinfo is None or moment.tzinfo.utcoffset(moment) is None:
        raise ValueError(f"{moment.isoformat()} has no time zone; pass an aware datetime")
    return moment.astimezone(VN_TZ)


def load_calendar(path: Path | str | None = None) -> WorkingCalendar:
    """The working calendar with the override file (default: deploy/calendar/overrides.yaml)."""
    return WorkingCalendar(load_overrides(path))


# --------------------------------------------------------------------------- agency processing clock


def agency_due_date(
    filed_at: datetime,
    target: Target,
    calendar: WorkingCalendar,
    cutoff: time | None = DEFAULT_CUTOFF,
) -> date:
    """The working day by which the agency must have the result ready.

    working_days: the target's N-th working day after the filing day; same_day: the filing day itself;
    hours: the day on which the working hours run out (see `agency_due_at`).
    """
    if target.kind == "hours":
        return agency_due_at(filed_at, target, calendar, cutoff).date()
    day = calendar.filing_day(filed_at, cutoff)
    if target.kind == "working_days":
        return calendar.add_working_days(day, target.working_days or 0)
    return day


def agency_due_at(
    filed_at: datetime,
    target: Target,
    calendar: WorkingCalendar,
    cutoff: time | None = DEFAULT_CUTOFF,
) -> datetime:
    """The instant (Vietnam time) at which the agency clock runs out.

    Day targets end at 24:00 of the due date (Civil Code Art. 148), returned as 00:00 of the next day.
    Hour targets count office hours only (08:00–17:00 on working days): the clock starts at filed_at, or
    at 08:00 of the filing day when filed before opening, or at 08:00 of the next working day when filed
    on a non-working day, at/after the cut-off or after closing. A target that ends exactly at closing
    time ends that day at 17:00, not the next morning.
    """
    if target.kind != "hours":
        due = agency_due_date(filed_at, target, calendar, cutoff)
        return datetime.combine(due + timedelta(days=1), time(0), VN_TZ)
    remaining = timedelta(hours=target.hours or 0)
    start = _hours_clock_start(filed_at, calendar, cutoff)
    while True:
        closes = datetime.combine(start.date(), OFFICE_CLOSES, VN_TZ)
        if remaining <= closes - start:
            return start + remaining
        remaining -= closes - start
        start = datetime.combine(calendar.next_working_day(start.date()), OFFICE_OPENS, VN_TZ)


def _hours_clock_start(filed_at: datetime, calendar: WorkingCalendar, cutoff: time | None) -> datetime:
    local = to_vietnam_time(filed_at)
    day = calendar.filing_day(local, cutoff)
    if day != local.date() or local.time() >= OFFICE_CLOSES:
        if day == local.date():  # no cut-off, but filed after closing: counts from the next morning
            day = calendar.next_working_day(day)
        return datetime.combine(day, OFFICE_OPENS, VN_TZ)
    return max(local, datetime.combine(day, OFFICE_OPENS, VN_TZ))

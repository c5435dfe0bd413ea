"""How the page writes dates and times: the Vietnamese way (day/month/year, 24-hour clock), in Vietnam
time whatever zone a moment arrives in."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from services.shared.calendar import to_vietnam_time


def vn_time(moment: datetime) -> str:
    """'09:00 14/03/2025'."""
    return to_vietnam_time(moment).strftime("%H:%M %d/%m/%Y")


def vn_date(day: date) -> str:
    """'14/03/2025'."""
    return day.strftime("%d/%m/%Y")


def iso(moment: datetime | date) -> str:
    """For the datetime attribute of <time>, in Vietnam time when it is a moment."""
    return to_vietnam_time(moment).isoformat() if isinstance(moment, datetime) else moment.isoformat()


FILTERS: dict[str, Callable[..., Any]] = {"vn_time": vn_time, "vn_date": vn_date, "iso": iso}

"""The time an API accepts: RFC 3339 with an offset, any offset, written as Vietnam time."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

import pytest
from pydantic import TypeAdapter, ValidationError

from contracts.values import AwareTime, rfc3339
from services.shared.calendar import VN_TZ

TIME = TypeAdapter(AwareTime)


@pytest.mark.parametrize(
    "text", ["2026-03-10T02:30:00Z", "2026-03-10T09:30:00+07:00", "2026-03-09T21:30:00-05:00"]
)
def test_any_offset_is_accepted_and_written_as_vietnam_time(text: str) -> None:
    moment = TIME.validate_python(text)

    assert moment == datetime(2026, 3, 10, 9, 30, tzinfo=VN_TZ)
    assert TIME.dump_json(moment) == b'"2026-03-10T09:30:00+07:00"'


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("2026-03-10T09:30:00", "timezone_aware"),
        ("2026-03-10 09:30", "timezone_aware"),
        ("9999-12-31T23:30:00+00:00", "time_out_of_range"),  # after the last Vietnam date there is
        ("0001-01-01T00:00:00+14:00", "time_out_of_range"),
    ],
)
def test_a_time_without_an_offset_or_beyond_the_calendar_is_refused(text: str, error: str) -> None:
    with pytest.raises(ValidationError) as caught:
        TIME.validate_python(text)

    assert [e["type"] for e in caught.value.errors()] == [error]


def test_a_time_beyond_the_calendar_is_refused_saying_why() -> None:
    with pytest.raises(ValidationError) as caught:
        TIME.validate_python("9999-12-31T23:30:00+00:00")

    assert caught.value.errors()[0]["msg"] == "the time has no date in Vietnam (year 1 to 9999)"


class _NoOffset(tzinfo):
    """A zone that cannot say its offset: as ambiguous as no zone at all."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str | None:
        return None


@pytest.mark.parametrize("zone", [None, _NoOffset()])
def test_a_time_without_an_offset_is_never_written_as_a_guess(zone: tzinfo | None) -> None:
    with pytest.raises(ValueError) as refused:
        rfc3339(datetime(2026, 3, 10, 9, 30, tzinfo=zone))

    assert str(refused.value) == "a time needs a UTC offset; a naive time is ambiguous"

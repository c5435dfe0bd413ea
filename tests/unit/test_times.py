"""The time an API accepts: RFC 3339 with an offset, any offset, written as Vietnam time."""

from __future__ import annotations

from datetime import datetime

import pytest
from pydantic import TypeAdapter, ValidationError

from contracts.values import AwareTime
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

"""Times an API accepts: RFC 3339 with an offset, always.

A time without an offset is ambiguous (Hà Nội's clock, the server's, UTC?) and a legal clock counted
from the wrong one is off by seven hours, across the 15:00 cut-off. Such a time is refused with its own
reason, `time_without_offset`, naming the field and never echoing the value. Any offset is accepted and
the time is read as Vietnam time, where every fact of this system happens and whose days the clocks
count; a time with no Vietnam date (beyond year 1 or 9999 there) is refused as `time_out_of_range`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from services.shared.calendar import VN_TZ

TIME_WITHOUT_OFFSET = "time_without_offset"
"""The error type of a naive time, and the `reason` of the 422 problem that refuses it."""


def _with_offset(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise PydanticCustomError(
            TIME_WITHOUT_OFFSET, "a time needs an offset (RFC 3339), e.g. 2025-07-01T08:00:00+07:00"
        )
    try:
        return value.astimezone(VN_TZ)
    except OverflowError:
        raise PydanticCustomError(
            "time_out_of_range", "the time has no date in Vietnam (year 1 to 9999)"
        ) from None


AwareTime = Annotated[datetime, AfterValidator(_with_offset)]
"""A datetime given with its UTC offset, as Vietnam time; a naive one fails with `time_without_offset`."""


def naive_time_fields(errors: Sequence[Any]) -> list[str]:
    """The dotted names of the fields whose time came without an offset, from pydantic's errors."""
    return [
        ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        for error in errors
        if error.get("type") == TIME_WITHOUT_OFFSET
    ]

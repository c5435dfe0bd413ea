"""A time sent without a UTC offset: refused everywhere with one reason and one sentence.

The fix is the same for every such field (write the offset), and a naive time is a guess we refuse to
make, so a request — or one scan of an offline batch — whose only fault is that gets the reason
`time_without_offset` naming the fields (never their values) instead of a generic schema error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _field(error: Any) -> str:
    """Where an error is, as a caller names it: ``scanned_at``, ``scans.3.scanned_at`` (no ``body``)."""
    loc = list(error.get("loc", ()))
    return ".".join(str(part) for part in (loc[1:] if loc[:1] in (["body"], ["query"]) else loc))


TIME_WITHOUT_OFFSET = "time_without_offset"


def naive_time_detail(errors: Sequence[Any]) -> str | None:
    """The sentence for a request (or one scan of a batch) whose only fault is a time without an offset,
    naming the fields; None when anything else is wrong too. It gets a reason of its own because the fix is
    the same for every such field (write the offset), and a naive time is a guess we refuse to make."""
    if not errors or any(e.get("type") != "timezone_aware" for e in errors):
        return None
    fields = [_field(e) for e in errors]
    return (
        f"{', '.join(fields)}: a time needs a UTC offset (RFC 3339, e.g. +07:00 or Z); "
        "a time without one is ambiguous"
    )

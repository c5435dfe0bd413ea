"""Dated data: which of a series of consecutive periods is in force on a day.

Legal parameters change by instrument and amendment (deploy/rules, deploy/postal/breach_rules.yaml):
each file is a series of segments, the next one starting the day after the previous ends. One lookup for
every such series, so a day at a boundary is judged the same way everywhere.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import date


def segment_on(starts: Sequence[date], ends: date | None, day: date) -> int | None:
    """The index of the segment in force on ``day``: the last one starting on or before it. None before
    the first start, or after ``ends`` (the last day covered; None when the last segment is in force now).
    ``starts`` is in ascending order."""
    i = bisect.bisect_right(starts, day) - 1
    if i < 0 or (ends is not None and day > ends):
        return None
    return i

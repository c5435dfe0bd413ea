"""How long to wait before a retry: the first wait, doubling each time, never above a cap. One
definition for the retries inside one provider call (channels/http_retry.py) and the retries of a
message across calls (handlers.Dispatcher)."""

from __future__ import annotations


def doubling_backoff_s(first_s: float, cap_s: float, retry: int) -> float:
    """The wait before retry number ``retry`` (1 for the first): ``first_s``, doubled for each later one,
    at most ``cap_s``."""
    return min(cap_s, first_s * float(2 ** (retry - 1)))

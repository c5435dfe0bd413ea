"""A Vietnamese mobile number as the SMS and Zalo ZNS providers want it: ``84`` and nine digits.

The service holds numbers in E.164 (``+84912345678``); a number written nationally (``0912345678``) is
accepted too. Anything else is not a Vietnamese mobile number: the adapters answer a permanent failure
without calling the provider. The number is personal data: the error never carries it.
"""

from __future__ import annotations

import re

_NATIONAL = re.compile(r"0(\d{9})")
_INTERNATIONAL = re.compile(r"\+?84(\d{9})")
_SEPARATORS = str.maketrans("", "", " .-()")


class NotAVietnameseMobileError(ValueError):
    def __init__(self) -> None:
        super().__init__("not a Vietnamese mobile number (+84 and nine digits)")


def provider_phone(number: str) -> str:
    """``84xxxxxxxxx`` from ``+84xxxxxxxxx``, ``84xxxxxxxxx`` or ``0xxxxxxxxx`` (spaces, dots, dashes and
    brackets ignored)."""
    compact = number.translate(_SEPARATORS)
    match = _INTERNATIONAL.fullmatch(compact) or _NATIONAL.fullmatch(compact)
    if match is None or not match.group(1).isascii():
        raise NotAVietnameseMobileError()
    return "84" + match.group(1)

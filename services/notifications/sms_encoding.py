"""How an SMS body is encoded and how many segments the provider bills for it (3GPP TS 23.038).

A body whose every character is in the GSM 03.38 default alphabet (or its extension table, two septets
each) goes as GSM-7: 160 septets in one segment, 153 per segment once split (the concatenation header
takes the rest). Any other character — every Vietnamese letter with a diacritic but a few — makes the
whole body UCS-2: 70 UTF-16 units in one segment, 67 per segment once split. A pure function: the
templates' test and the SMS adapters ask it the same question.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

Encoding = Literal["GSM-7", "UCS-2"]


@dataclass(frozen=True)
class SmsEncoding:
    encoding: Encoding
    segments: int
    units: int
    """Septets (GSM-7) or UTF-16 code units (UCS-2) the body takes."""

    @property
    def multipart(self) -> bool:
        return self.segments > 1


def sms_encoding(body: str) -> SmsEncoding:
    if all(c in _GSM7_BASIC or c in _GSM7_EXTENSION for c in body):
        units = sum(2 if c in _GSM7_EXTENSION else 1 for c in body)
        return SmsEncoding("GSM-7", _segments(units, GSM7_SINGLE, GSM7_PART), units)
    units = len(body.encode("utf-16-le")) // 2
    return SmsEncoding("UCS-2", _segments(units, UCS2_SINGLE, UCS2_PART), units)


def _segments(units: int, single: int, part: int) -> int:
    if units <= single:
        return 1
    return -(-units // part)

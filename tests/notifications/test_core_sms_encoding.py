"""The SMS encoding: GSM-7 when every character is in the GSM 03.38 alphabet, UCS-2 otherwise, and how
many segments the provider bills (160/153 septets, 70/67 UTF-16 units)."""

from __future__ import annotations

import pytest

from services.notifications.sms_encoding import SmsEncoding, sms_encoding


@pytest.mark.parametrize(
    ("body", "encoding", "segments"),
    [
        ("", "GSM-7", 1),
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        # An extension character (€ [ ] { } ~ ^ \ |) takes two septets.
        ("€" * 80, "GSM-7", 1),
        ("€" * 81, "GSM-7", 2),
        ("a" * 159 + "[", "GSM-7", 2),
        # Plain Vietnamese without diacritics stays GSM-7.
        ("Ho so da duoc tiep nhan", "GSM-7", 1),
        # One Vietnamese letter with its diacritic makes the whole message UCS-2.
        ("Hồ sơ", "UCS-2", 1),
        ("ư" * 70, "UCS-2", 1),
        ("ư" * 71, "UCS-2", 2),
        ("ư" * 134, "UCS-2", 2),
        ("ư" * 135, "UCS-2", 3),
        # Outside the basic plane a character is two UTF-16 units.
        ("😀" * 35, "UCS-2", 1),
        ("😀" * 36, "UCS-2", 2),
    ],
)
def test_encoding_and_segments_follow_gsm_03_38(body: str, encoding: str, segments: int) -> None:
    expected = SmsEncoding(encoding=encoding, segments=segments, units=_units(body, encoding))  # type: ignore[arg-type]
    assert sms_encoding(body) == expected


def _units(body: str, encoding: str) -> int:
    if encoding == "UCS-2":
        return len(body.encode("utf-16-le")) // 2
    return sum(2 if c in "€[]{}~^\\|\f" else 1 for c in body)


def test_a_single_segment_message_is_not_multipart() -> None:
    assert not sms_encoding("Xin chao").multipart
    assert sms_encoding("Hồ sơ " * 12).multipart  # "à" is GSM-7, "ồ" is not

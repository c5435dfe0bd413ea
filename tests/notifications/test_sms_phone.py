"""Phone numbers as the SMS and ZNS providers want them, and the client reference they carry."""

from __future__ import annotations

import pytest

from services.notifications.channels.reference import client_reference
from services.notifications.channels.vn_phone import NotAVietnameseMobileError, provider_phone


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("+84912345678", "84912345678"),
        ("84912345678", "84912345678"),
        ("0912345678", "84912345678"),
        ("+84 91 234 56 78", "84912345678"),
        ("091.234.5678", "84912345678"),
        ("(+84) 912-345-678", "84912345678"),
    ],
)
def test_a_vietnamese_mobile_number_is_written_84_and_nine_digits(number: str, expected: str) -> None:
    assert provider_phone(number) == expected


@pytest.mark.parametrize(
    "number",
    [
        "",
        "+33612345678",
        "091234567",
        "09123456789",
        "+849123456789",
        "84912345678x",
        "０９１２３４５６７８",
        "+84９１２３４５６７８",
    ],
)
def test_anything_else_is_refused_without_echoing_the_number(number: str) -> None:
    with pytest.raises(NotAVietnameseMobileError) as refused:
        provider_phone(number)
    assert number.strip() == "" or number not in str(refused.value)


def test_a_short_safe_key_is_its_own_reference() -> None:
    assert client_reference("d1:accepted:sms", 50) == "d1:accepted:sms"


@pytest.mark.parametrize("key", ["x" * 51, "key with spaces", "khóa"])
def test_a_long_or_unsafe_key_becomes_a_stable_digest_of_the_providers_length(key: str) -> None:
    reference = client_reference(key, 50)
    assert len(reference) == 50
    assert reference == client_reference(key, 50)
    assert reference != client_reference(key + "!", 50)

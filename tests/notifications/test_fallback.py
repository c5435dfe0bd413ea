"""The fallback rule, table-tested: once, to a consented untried channel, only on a permanent failure."""

from __future__ import annotations

import pytest

from services.notifications.fallback import PREFERENCE, fallback_channel, first_choice, is_permanent
from services.notifications.ports import Channel, ReceiptStatus, SendOutcome

EMAIL, SMS, ZALO = Channel.EMAIL, Channel.SMS, Channel.ZALO
ALL = {EMAIL, SMS, ZALO}
PERMANENT_SEND = SendOutcome.PERMANENT_FAILURE
PERMANENT_RECEIPT = ReceiptStatus.PERMANENT_FAILURE


@pytest.mark.parametrize(
    ("failed", "failure", "consented", "tried", "expected"),
    [
        # A permanent failure falls back to the preferred consented channel not yet tried.
        (ZALO, PERMANENT_SEND, ALL, {ZALO}, SMS),
        (SMS, PERMANENT_SEND, ALL, {SMS}, ZALO),
        (EMAIL, PERMANENT_SEND, ALL, {EMAIL}, SMS),
        (ZALO, PERMANENT_RECEIPT, ALL, {ZALO}, SMS),
        (SMS, PERMANENT_RECEIPT, {SMS, EMAIL}, {SMS}, EMAIL),
        (EMAIL, PERMANENT_RECEIPT, {EMAIL, ZALO}, {EMAIL}, ZALO),
        # `tried` may or may not list the failed channel itself.
        (SMS, PERMANENT_SEND, ALL, set(), ZALO),
        # Only to a channel the applicant consented to.
        (SMS, PERMANENT_SEND, {SMS}, {SMS}, None),
        (ZALO, PERMANENT_SEND, {ZALO, EMAIL}, {ZALO}, EMAIL),
        (ZALO, PERMANENT_SEND, set(), {ZALO}, None),
        # Once: the fallback's own failure goes no further, even with a consented channel left.
        (SMS, PERMANENT_SEND, ALL, {ZALO, SMS}, None),
        (EMAIL, PERMANENT_RECEIPT, ALL, {SMS, EMAIL}, None),
        (ZALO, PERMANENT_SEND, ALL, {EMAIL}, None),
        # Never on a temporary failure, nor on a success.
        (ZALO, SendOutcome.TEMPORARY_FAILURE, ALL, {ZALO}, None),
        (SMS, ReceiptStatus.TEMPORARY_FAILURE, ALL, {SMS}, None),
        (SMS, SendOutcome.SENT, ALL, {SMS}, None),
        (SMS, SendOutcome.DUPLICATE, ALL, {SMS}, None),
        (ZALO, ReceiptStatus.DELIVERED, ALL, {ZALO}, None),
    ],
)
def test_fallback_goes_once_to_a_consented_untried_channel_on_a_permanent_failure(
    failed: Channel,
    failure: SendOutcome | ReceiptStatus,
    consented: set[Channel],
    tried: set[Channel],
    expected: Channel | None,
) -> None:
    assert fallback_channel(failed, failure, consented, tried) == expected


def test_fallback_never_returns_the_failed_channel_even_when_it_is_the_only_consent() -> None:
    for channel in ALL:
        assert fallback_channel(channel, PERMANENT_SEND, {channel}, set()) is None


def test_preference_is_sms_then_zalo_then_email() -> None:
    assert PREFERENCE == (SMS, ZALO, EMAIL)


@pytest.mark.parametrize(
    ("failure", "permanent"),
    [
        (SendOutcome.PERMANENT_FAILURE, True),
        (ReceiptStatus.PERMANENT_FAILURE, True),
        (SendOutcome.TEMPORARY_FAILURE, False),
        (ReceiptStatus.TEMPORARY_FAILURE, False),
        (SendOutcome.SENT, False),
        (SendOutcome.DUPLICATE, False),
        (ReceiptStatus.DELIVERED, False),
    ],
)
def test_only_the_permanent_failures_are_permanent(
    failure: SendOutcome | ReceiptStatus, permanent: bool
) -> None:
    assert is_permanent(failure) is permanent


@pytest.mark.parametrize(
    ("consented", "expected"),
    [
        (ALL, SMS),
        ({EMAIL, ZALO}, ZALO),
        ({EMAIL}, EMAIL),
        ({ZALO}, ZALO),
        (set(), None),
    ],
)
def test_a_message_goes_first_on_the_preferred_consented_channel_only(
    consented: set[Channel], expected: Channel | None
) -> None:
    assert first_choice(consented) == expected

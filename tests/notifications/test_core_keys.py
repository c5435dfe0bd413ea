"""The message's idempotency key, the consent check, the dates as forms write them, the receipts' order."""

from __future__ import annotations

from datetime import date

import pytest

from contracts.enums import NotificationChannel
from services.notifications.domain import Kind, consent_of, message_key, receipt_moves, shown
from services.notifications.ports import Channel


def test_a_message_key_names_the_dossier_the_message_which_one_and_the_channel() -> None:
    assert message_key("d-1", Kind.ACCEPTED, 1, Channel.SMS) == "d-1:accepted#1:sms"
    assert message_key("d-1", Kind.ACCEPTED, 2, Channel.EMAIL) == "d-1:accepted#2:email"


def test_the_record_of_a_message_nobody_consented_to_has_the_channel_none() -> None:
    assert message_key("d-1", Kind.ACCEPTED, 1, None) == "d-1:accepted#1:none"


def test_consent_allows_only_the_channels_chosen() -> None:
    consent = consent_of([NotificationChannel.SMS])
    assert consent.allows(Channel.SMS)
    assert not consent.allows(Channel.EMAIL)
    assert not consent_of(None).allows(Channel.SMS)


def test_a_date_is_shown_day_month_year() -> None:
    assert shown(date(2026, 3, 9)) == "09/03/2026"


@pytest.mark.parametrize(
    ("current", "moves"),
    [
        (None, True),
        ("temporary_failure", True),
        ("delivered", False),
        ("permanent_failure", False),
    ],
)
def test_a_receipt_never_undoes_a_final_delivery_status(current: str | None, moves: bool) -> None:
    assert receipt_moves(current) is moves

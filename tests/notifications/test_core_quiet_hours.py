"""Quiet hours: no SMS or Zalo message between 21:00 and 07:00 Vietnam time — it waits until 07:00, it is
not dropped; an e-mail goes at any hour."""

from __future__ import annotations

from datetime import datetime

import pytest

from services.notifications.domain import VIETNAM, release_at
from services.notifications.ports import Channel


def vn(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=VIETNAM)


@pytest.mark.parametrize(
    ("ready", "released"),
    [
        (vn(10, 7, 0), vn(10, 7, 0)),
        (vn(10, 12, 30), vn(10, 12, 30)),
        (vn(10, 20, 59), vn(10, 20, 59)),
        (vn(10, 21, 0), vn(11, 7, 0)),
        (vn(10, 23, 45), vn(11, 7, 0)),
        (vn(11, 0, 0), vn(11, 7, 0)),
        (vn(11, 6, 59), vn(11, 7, 0)),
        # Across the end of a month.
        (datetime(2026, 3, 31, 22, 0, tzinfo=VIETNAM), datetime(2026, 4, 1, 7, 0, tzinfo=VIETNAM)),
    ],
)
@pytest.mark.parametrize("channel", [Channel.SMS, Channel.ZALO])
def test_a_phone_message_ready_at_night_waits_until_seven(
    channel: Channel, ready: datetime, released: datetime
) -> None:
    assert release_at(channel, ready) == released


def test_the_hour_is_vietnam_time_whatever_the_clock_zone() -> None:
    # 14:30 UTC is 21:30 in Hanoi: quiet.
    from datetime import UTC

    assert release_at(Channel.SMS, datetime(2026, 3, 10, 14, 30, tzinfo=UTC)) == vn(11, 7, 0)
    assert release_at(Channel.SMS, datetime(2026, 3, 10, 13, 59, tzinfo=UTC)) == vn(10, 20, 59)


@pytest.mark.parametrize("ready", [vn(10, 23, 0), vn(11, 3, 0), vn(11, 12, 0)])
def test_an_email_goes_at_any_hour(ready: datetime) -> None:
    assert release_at(Channel.EMAIL, ready) == ready

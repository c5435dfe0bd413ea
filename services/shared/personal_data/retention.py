"""How long a vault record is kept for each of its purposes, counted from the fact that ends the purpose.

The end of each purpose is stored on the record when that fact happens (``Vault.end_purposes``), so
``held_until`` is a stored date: changing a setting later applies to the facts that happen after.

- ``result_delivery``: until the result is delivered or returned to the agency, or the dossier ends
  without a result to carry (withdrawn, closed), plus ``result_delivery`` (default none).
- ``notifications``: as long as a message about that last fact may still be sent (the notifications
  service retries a message for a few days).
- ``dispute``: a delivery opens the window in which the applicant may complain about the postal item.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.shared.personal_data.purposes import Purpose


@dataclass(frozen=True)
class Ends:
    """The purposes a fact ends (and when), and those it opens (added to the records)."""

    ends: Mapping[str, datetime]
    adding: tuple[str, ...] = ()


@dataclass(frozen=True)
class Retention:
    result_delivery: timedelta
    notifications: timedelta
    dispute_window: timedelta

    def delivered(self, at: datetime) -> Ends:
        """The result reached the applicant: nothing more to carry, a last message, the dispute window."""
        return Ends(
            {
                Purpose.RESULT_DELIVERY: at + self.result_delivery,
                Purpose.NOTIFICATIONS: at + self.notifications,
                Purpose.DISPUTE: at + self.dispute_window,
            },
            adding=(Purpose.DISPUTE,),
        )

    def finished_without_delivery(self, at: datetime) -> Ends:
        """The result went back to the agency, or the dossier ended with no result to carry."""
        return Ends(
            {
                Purpose.RESULT_DELIVERY: at + self.result_delivery,
                Purpose.NOTIFICATIONS: at + self.notifications,
            }
        )


DEFAULT_RETENTION = Retention(
    result_delivery=timedelta(0), notifications=timedelta(days=7), dispute_window=timedelta(days=92)
)
"""The settings' defaults (PersonalDataSettings says why each)."""

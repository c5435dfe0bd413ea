"""The applicant's choice of channels to be told on, as the counter and the desk record it at intake.

One rule for both owners of a contact (post office, agency): a channel is chosen only with an address to
reach it by — e-mail needs the applicant's e-mail address; SMS and Zalo go to the phone, always given.
The refusal names the field, never the values (they are personal data).
"""

from __future__ import annotations

from contracts.enums import NotificationChannel
from contracts.events.parts import ApplicantContact

MAX_CHANNELS = len(NotificationChannel)


def check_reachable(channels: tuple[NotificationChannel, ...], applicant: ApplicantContact) -> None:
    """Raises ValueError (a 422 at the API) for a repeated channel or e-mail chosen without an address."""
    if len(set(channels)) != len(channels):
        raise ValueError("notify_by names a channel twice")
    if NotificationChannel.EMAIL in channels and applicant.email is None:
        raise ValueError("notify_by chooses EMAIL, but applicant.email (the e-mail address) is missing")

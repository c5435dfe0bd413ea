"""The fallback rule: where a message goes after its channel failed for good (pure; no I/O, no clock).

A permanent failure on one channel — at sending (``SendOutcome.PERMANENT_FAILURE``) or reported later by
a receipt (``ReceiptStatus.PERMANENT_FAILURE``) — falls back ONCE to another channel the applicant
consented to; never to a channel already tried for that (dossier, stage), never on a temporary failure
(the service retries those on the same channel, then dead-letters), never a second time.

Order of preference, the first consented and untried channel wins:

1. SMS: reaches every mobile phone, with no app or account, and is read within minutes; the brandname
   is the sender citizens recognise.
2. Zalo ZNS: most Vietnamese phones have Zalo, but it needs an account linked to that number and a
   recent app, and the citizen may have refused ZNS from the Official Account.
3. E-mail: an address independent of the phone (so it still helps when the number itself is wrong), but
   the channel citizens read least often and last.
"""

from __future__ import annotations

from collections.abc import Collection

from services.notifications.ports import Channel, ReceiptStatus, SendOutcome

PREFERENCE: tuple[Channel, ...] = (Channel.SMS, Channel.ZALO, Channel.EMAIL)

Failure = SendOutcome | ReceiptStatus


def is_permanent(failure: Failure) -> bool:
    return failure in (SendOutcome.PERMANENT_FAILURE, ReceiptStatus.PERMANENT_FAILURE)


def first_choice(consented: Collection[Channel]) -> Channel | None:
    """The channel a citizen's message goes on first: the first consented one in PREFERENCE. One channel,
    not all of them: a brandname SMS is paid per message, and the others stay for the fallback."""
    for channel in PREFERENCE:
        if channel in consented:
            return channel
    return None


def fallback_channel(
    failed: Channel,
    failure: Failure,
    consented: Collection[Channel],
    tried: Collection[Channel],
) -> Channel | None:
    """The channel to send the same (dossier, stage) message on next, or None to stop there.

    ``tried`` is every channel this (dossier, stage) was already sent or attempted on, ``failed``
    included or not. Once two channels were tried, the one fallback has happened: a failure of the
    fallback falls back no further.
    """
    if not is_permanent(failure):
        return None
    already = set(tried) | {failed}
    if len(already) > 1:
        return None
    for channel in PREFERENCE:
        if channel in consented and channel not in already:
            return channel
    return None

"""The rules of telling citizens and desks where a dossier stands: which message a fact makes, whether a
late one still helps, who consented to what, when an SMS may go. Pure: no I/O, no clock reads."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from contracts.enums import NotificationChannel
from services.notifications.ports import Channel

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


class Kind(StrEnum):
    """A message's kind: the template's name, and a metric label (a dozen values)."""

    ACCEPTED = "accepted"
    RECEIVED = "received"
    SUPPLEMENT_REQUESTED = "supplement_requested"
    DELAY_NOTICE = "delay_notice"
    RESULT_READY = "result_ready"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERY_FAILED = "delivery_failed"
    DELIVERED = "delivered"
    RETURNED_TO_AGENCY = "returned_to_agency"
    CLOSED_NO_SUPPLEMENT = "closed_no_supplement"
    CLOCK_DUE_SOON = "clock_due_soon"
    CLOCK_OVERDUE = "clock_overdue"


DESK_KINDS = frozenset({Kind.CLOCK_DUE_SOON, Kind.CLOCK_OVERDUE})
"""Written to the agency's one-stop desk, not to the citizen."""
CITIZEN_KINDS = frozenset(Kind) - DESK_KINDS

_DOSSIER = frozenset({"dossier_ref"})
PARAMETERS: Mapping[Kind, frozenset[str]] = {
    Kind.ACCEPTED: _DOSSIER | {"post_office", "agency", "accepted_on", "due_date"},
    Kind.RECEIVED: _DOSSIER | {"agency", "received_on", "legal_due_date", "appointment_date"},
    Kind.SUPPLEMENT_REQUESTED: _DOSSIER | {"agency", "documents", "reason"},
    Kind.DELAY_NOTICE: _DOSSIER | {"agency", "previous_due_date", "new_due_date", "reason"},
    Kind.RESULT_READY: _DOSSIER | {"agency"},
    Kind.OUT_FOR_DELIVERY: _DOSSIER | {"post_office", "attempt"},
    Kind.DELIVERY_FAILED: _DOSSIER | {"post_office", "attempt", "next_attempt"},
    Kind.DELIVERED: _DOSSIER | {"delivered_on"},
    Kind.RETURNED_TO_AGENCY: _DOSSIER | {"agency"},
    Kind.CLOSED_NO_SUPPLEMENT: _DOSSIER | {"agency", "closed_on"},
    Kind.CLOCK_DUE_SOON: _DOSSIER | {"agency", "leg", "due_date"},
    Kind.CLOCK_OVERDUE: _DOSSIER | {"agency", "leg", "due_date"},
}
"""What each kind's templates may name; the handler fills exactly these from the facts it keeps."""


def shown(day: date) -> str:
    """A date as Vietnamese forms write it."""
    return day.strftime("%d/%m/%Y")


# --------------------------------------------------------------------------- late stages

LateRule = Mapping[Kind, frozenset[Kind]]
"""For each citizen message: the messages whose earlier sending makes it, arriving late, contradictory or
useless (templates/late_rule.yaml)."""


def late_message_helps(kind: Kind, already_sent: frozenset[Kind], rule: LateRule) -> bool:
    """Whether a message for a stage the tracker published late (``late=true``) still helps: not when a
    message for a stage that supersedes it was already sent to the citizen."""
    return not (rule[kind] & already_sent)


# --------------------------------------------------------------------------- consent and quiet hours


class Suppression(StrEnum):
    """Why a message was not sent (a stored reason and a metric label)."""

    NO_CONSENT = "no_consent"
    ERASED = "erased"
    LATE = "late"
    NO_ADDRESS = "no_address"


QUIET_START = time(21, 0)
QUIET_END = time(7, 0)
QUIET_CHANNELS = frozenset({Channel.SMS, Channel.ZALO})
"""Phones are not buzzed at night; an e-mail waits in the mailbox, so it goes at any hour."""


def release_at(channel: Channel, now: datetime) -> datetime:
    """When a message on ``channel`` may go, given it is ready at ``now`` (aware): ``now`` for e-mail and
    for SMS/Zalo in the day; 07:00 Vietnam time next for SMS/Zalo between 21:00 and 07:00 — queued, not
    dropped."""
    if channel not in QUIET_CHANNELS:
        return now
    local = now.astimezone(VIETNAM)
    if QUIET_END <= local.time() < QUIET_START:
        return now
    day = local.date() if local.time() < QUIET_END else local.date() + timedelta(days=1)
    return datetime.combine(day, QUIET_END, tzinfo=VIETNAM)


@dataclass(frozen=True)
class Consent:
    """The channels the applicant chose at intake (none: no message at all)."""

    channels: frozenset[Channel]

    def allows(self, channel: Channel) -> bool:
        return channel in self.channels


def consent_of(notify_by: Iterable[NotificationChannel] | None) -> Consent:
    """The consent an intake event records; absent (an event of before the choice was asked) is none."""
    return Consent(frozenset(Channel(c.value.lower()) for c in notify_by or ()))


def message_key(dossier_id: str, kind: Kind, occurrence: int, channel: Channel | None) -> str:
    """The one idempotency key of a message: (dossier, the stage's message and which one of its kind —
    the delivery attempt, the supplement request —, channel). Names no person; ``none`` is the record of
    a message nobody consented to."""
    return f"{dossier_id}:{kind.value}#{occurrence}:{'none' if channel is None else channel.value}"


# --------------------------------------------------------------------------- delivery receipts

FINAL_DELIVERIES = frozenset({"delivered", "permanent_failure"})
"""A receipt with one of these statuses settles the message: the phone or mailbox got it, or never will."""


def receipt_moves(current: str | None) -> bool:
    """Whether a new receipt changes a message whose delivery is ``current`` (null: no receipt yet).
    Receipts arrive in any order: a final status is never undone, so the first final one wins; a
    temporary failure replaces nothing or an earlier temporary failure, and is itself replaced by what
    comes next. (The same receipt resent is stopped before, by its stored id.)"""
    return current not in FINAL_DELIVERIES

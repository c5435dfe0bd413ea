"""The one port every channel is sent through, and the outcomes of a sending.

The notifications service decides what to send (templates, consent, quiet hours, exactly once); a
channel only delivers one message to one address and says what happened, in these words. Each provider
has its own adapter (services/notifications/channels/): e-mail over SMTP, SMS and Zalo ZNS over their
providers' HTTP APIs. An adapter maps its provider's answers and error codes onto ``SendOutcome``; it
never decides to retry later or fall back (the service does, from the outcome), and it never logs the
address or the text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    ZALO = "zalo"


class SendOutcome(StrEnum):
    SENT = "sent"
    """The provider accepted the message (delivery to the phone or mailbox is reported later by a
    receipt)."""
    DUPLICATE = "duplicate"
    """The provider already has a message with this idempotency key: the earlier send succeeded, so
    this counts as sent (a retry after a crash between the provider's answer and our record)."""
    TEMPORARY_FAILURE = "temporary_failure"
    """Worth retrying later: a timeout, a 5xx, throttling, the provider's own transient codes."""
    PERMANENT_FAILURE = "permanent_failure"
    """Retrying cannot help: an invalid or unreachable address, a template the provider refuses, an
    account not allowed to send; the service may fall back to another consented channel."""


@dataclass(frozen=True)
class Message:
    """One message to one address. ``idempotency_key`` is stable for (dossier, stage, channel): the
    adapter passes it to the provider where the provider supports one (a client reference), so a resend
    after a crash is recognised as a duplicate."""

    idempotency_key: str
    channel: Channel
    to: str
    """The e-mail address or phone number (E.164). Personal data: never logged, never a label."""
    template: str
    """The template's id (e.g. ``accepted.sms``): a bounded label for metrics."""
    body: str
    subject: str | None = None
    """E-mail only."""
    parameters: dict[str, str] = field(default_factory=dict)
    """The template's parameters, for providers that render their own registered templates (Zalo ZNS
    sends a registered template id with its parameters, not free text)."""


@dataclass(frozen=True)
class SendResult:
    outcome: SendOutcome
    provider_message_id: str | None = None
    """The provider's id of the message: what its delivery receipts name."""
    code: str | None = None
    """The provider's own answer or error code, kept as given (bounded vocabulary: safe as a label
    only after mapping; stored as is)."""
    detail: str | None = None
    """A short reason without personal data."""


class Sender(Protocol):
    """A channel's adapter."""

    channel: Channel

    async def send(self, message: Message) -> SendResult: ...


class ReceiptStatus(StrEnum):
    DELIVERED = "delivered"
    TEMPORARY_FAILURE = "temporary_failure"
    PERMANENT_FAILURE = "permanent_failure"


@dataclass(frozen=True)
class Receipt:
    """A provider's later report on one message it accepted (SMS delivery report, Zalo ZNS status
    callback, an SMTP bounce), already authenticated as the provider documents."""

    channel: Channel
    provider_message_id: str
    status: ReceiptStatus
    code: str | None = None
    reported_at_ms: int | None = None
    client_reference: str | None = None
    """The reference the adapter sent with the message (eSMS ``RequestId``, Zalo ZNS ``tracking_id``)
    when the provider echoes it: ``channels.reference.client_reference(idempotency_key)``. It lets a
    receipt find its message even when the provider's message id was never recorded (a crash between
    the provider's answer and the record, or a duplicate answer that names no id)."""

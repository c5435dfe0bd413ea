"""The local SMTP server: takes every e-mail and keeps it whole as an .eml file (any mail client opens
it). Addresses are personal data: never logged."""

from __future__ import annotations

from aiosmtpd.smtp import SMTP, Envelope, Session

from services.stack.sinks.files import Drop


class MailDrop:
    """aiosmtpd's handler: each accepted message, once per message whatever its recipients, in ``drop``."""

    def __init__(self, drop: Drop) -> None:
        self.drop = drop

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        self.drop.keep(envelope.original_content or b"")
        return "250 Message accepted for delivery"

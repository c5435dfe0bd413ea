"""E-mail over SMTP: one message per connection's transaction, mapped onto the port's outcomes.

The standard library's client runs in a worker thread (one blocking exchange at a time per message;
the dispatcher sends one message at a time per replica, so a thread pool of the default size is plenty).
SMTP offers no idempotency key: the message's ``Message-ID`` is derived from ours, so a copy resent after
a crash is shown by mail clients as the same message. Replies 4xx are temporary, 5xx permanent (RFC 5321
§4.2.1); a refused connection or a timeout is temporary.
"""

from __future__ import annotations

import asyncio
import hashlib
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

from services.notifications.ports import Channel, Message, SendOutcome, SendResult

MESSAGE_ID_DOMAIN = "notifications.dossier-post"


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    """The From address (the service's, never a citizen's)."""
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    timeout_s: float = 20.0


def message_id(idempotency_key: str) -> str:
    return f"<{hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]}@{MESSAGE_ID_DOMAIN}>"


class SmtpSender:
    channel = Channel.EMAIL

    def __init__(self, config: SmtpConfig) -> None:
        self._config = config

    async def send(self, message: Message) -> SendResult:
        mail = EmailMessage()
        mail["From"] = self._config.sender
        mail["To"] = message.to
        mail["Subject"] = message.subject or ""
        mail["Message-ID"] = message_id(message.idempotency_key)
        mail["Date"] = formatdate(localtime=False)
        mail["Content-Language"] = "vi"
        mail["X-Notification-Template"] = message.template
        mail.set_content(message.body, charset="utf-8")
        return await asyncio.to_thread(self._deliver, mail)

    def _deliver(self, mail: EmailMessage) -> SendResult:
        config = self._config
        try:
            with smtplib.SMTP(config.host, config.port, timeout=config.timeout_s) as smtp:
                if config.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if config.username:
                    smtp.login(config.username, config.password or "")
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            return _by_code(codes[0] if codes else 550, "recipient refused")
        except smtplib.SMTPResponseException as exc:
            return _by_code(exc.smtp_code, "refused by the server")
        except (smtplib.SMTPException, OSError) as exc:
            return SendResult(SendOutcome.TEMPORARY_FAILURE, detail=type(exc).__name__)
        return SendResult(SendOutcome.SENT, provider_message_id=str(mail["Message-ID"]), code="250")


def _by_code(code: int, detail: str) -> SendResult:
    outcome = SendOutcome.PERMANENT_FAILURE if 500 <= code < 600 else SendOutcome.TEMPORARY_FAILURE
    return SendResult(outcome, code=str(code), detail=detail)

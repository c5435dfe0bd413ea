"""One file per message a sink accepted, named by when it came and a counter, so `ls` lists them in
order and two messages of the same microsecond keep both."""

from __future__ import annotations

import itertools
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MAIL_DIR, SMS_DIR, ZALO_DIR = "mail", "sms", "zalo"
"""Where under the work directory the e-mails, the SMS and the Zalo messages are kept."""


class Drop:
    """A directory of kept messages."""

    def __init__(self, directory: Path, suffix: str) -> None:
        self.directory = directory
        self.suffix = suffix
        self._counter = itertools.count(1)

    def keep(self, content: bytes) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        while True:
            path = self.directory / f"{stamp}-{next(self._counter):06d}{self.suffix}"
            try:
                # Exclusive: a sink restarted within the same microsecond never overwrites a message.
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue
            with os.fdopen(descriptor, "wb") as out:
                out.write(content)
            return path

    def keep_json(self, document: dict[str, Any]) -> Path:
        return self.keep(json.dumps(document, ensure_ascii=False, indent=1).encode() + b"\n")

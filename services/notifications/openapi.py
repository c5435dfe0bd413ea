"""Writes the notifications service's OpenAPI document to contracts/openapi/notifications.json (or checks
it is current).

python -m services.notifications.openapi          # rewrite
python -m services.notifications.openapi --check  # exit 1 when the committed file differs from the code

The document is the one a deployment with default settings serves: the staff's read of a dossier's
messages. The providers' receipt endpoints (/receipts/sms, /receipts/zalo) exist only where their
provider's secret is set and are called by the providers, signed as each documents, not by clients of
this document; they are left out of it (tests/notifications/test_receipts.py covers them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from contracts.schema import render_json
from services.notifications.app import create_app
from services.notifications.settings import NotificationsSettings
from services.shared.openapi_file import write_or_check

# A key that seals nothing (the document's app never runs): without one, building the app would generate
# the local run's key file.
_UNUSED_KEY = "openapi:" + "A" * 43 + "="
OUTPUT = Path(__file__).resolve().parents[2] / "contracts" / "openapi" / "notifications.json"


def document() -> dict[str, Any]:
    # Building the app connects nothing; the database URL, keys and secrets do not appear in the document.
    settings = NotificationsSettings.model_validate(
        {"DATABASE_URL": "sqlite+aiosqlite:///:memory:", "contact_keys": _UNUSED_KEY}
    )
    return create_app(settings).openapi()


def render() -> str:
    return render_json(document())


def main(argv: list[str] | None = None) -> int:
    return write_or_check(OUTPUT, render(), "python -m services.notifications.openapi", argv)


if __name__ == "__main__":
    raise SystemExit(main())

"""Writes the tracker's OpenAPI document to contracts/openapi/tracker.json (or checks it is current).

python -m services.tracker.openapi          # rewrite
python -m services.tracker.openapi --check  # exit 1 when the committed file differs from the code
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from services.shared.openapi_file import write_or_check
from services.tracker.app import build
from services.tracker.settings import TrackerSettings

OUTPUT = Path(__file__).resolve().parents[2] / "contracts" / "openapi" / "tracker.json"


def document() -> dict[str, Any]:
    # Placeholders: building the app needs keys, the document does not depend on them.
    placeholder = SecretStr("openapi-document-placeholder-key!")
    settings = TrackerSettings.model_validate(
        {"DOSSIER_AUTH_SECRET": placeholder, "lookup_key": placeholder, "DATABASE_URL": "sqlite:///:memory:"}
    )
    return build(settings, consume=False).api.openapi()


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    return write_or_check(OUTPUT, render(), "python -m services.tracker.openapi", argv)


if __name__ == "__main__":
    raise SystemExit(main())

"""Writes the tracker's OpenAPI document to contracts/openapi/tracker.json (or checks it is current).

python -m services.tracker.openapi          # rewrite
python -m services.tracker.openapi --check  # exit 1 when the committed file differs from the code
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import SecretStr

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
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed document is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} is out of date: run python -m services.tracker.openapi", file=sys.stderr)
            return 1
        return 0
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

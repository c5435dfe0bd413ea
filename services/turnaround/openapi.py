"""Writes the turnaround's OpenAPI document to contracts/openapi/turnaround.json (or checks it is current).

python -m services.turnaround.openapi          # rewrite
python -m services.turnaround.openapi --check  # exit 1 when the committed file differs from the code
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from contracts.schema import render_json
from services.turnaround.app import create_app
from services.turnaround.settings import TurnaroundSettings

OUTPUT = Path(__file__).resolve().parents[2] / "contracts" / "openapi" / "turnaround.json"


def document() -> dict[str, Any]:
    # Building the app connects nothing; the database URL and secret do not appear in the document.
    settings = TurnaroundSettings.model_validate({"DATABASE_URL": "sqlite:///:memory:"})
    return create_app(settings).openapi()


def render() -> str:
    return render_json(document())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed document is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} is out of date: run python -m services.turnaround.openapi", file=sys.stderr)
            return 1
        return 0
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

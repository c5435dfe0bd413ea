"""Writes the turnaround's OpenAPI document to contracts/openapi/turnaround.json (or checks it is current).

python -m services.turnaround.openapi          # rewrite
python -m services.turnaround.openapi --check  # exit 1 when the committed file differs from the code
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from contracts.schema import render_json
from services.shared.openapi_file import write_or_check
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
    return write_or_check(OUTPUT, render(), "python -m services.turnaround.openapi", argv)


if __name__ == "__main__":
    raise SystemExit(main())

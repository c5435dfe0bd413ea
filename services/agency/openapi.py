"""Write, or check, the committed OpenAPI document of the agency API (contracts/openapi/agency.json).

python -m services.agency.openapi          # rewrite it from the code
python -m services.agency.openapi --check  # exit 1 when it differs from the code
"""

from __future__ import annotations

from pathlib import Path

from contracts.schema import render_json
from services.agency.app import create_app
from services.agency.settings import AgencySettings
from services.shared.openapi_file import write_or_check

PATH = Path(__file__).resolve().parents[2] / "contracts" / "openapi" / "agency.json"


def document() -> str:
    """The OpenAPI document as deterministic text (sorted keys, 2-space indent, trailing newline)."""
    return render_json(create_app(AgencySettings()).openapi())


def main(argv: list[str] | None = None) -> int:
    return write_or_check(PATH, document(), "python -m services.agency.openapi", argv)


if __name__ == "__main__":
    raise SystemExit(main())

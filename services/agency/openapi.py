"""Write, or check, the committed OpenAPI document of the agency API (contracts/openapi/agency.json).

python -m services.agency.openapi          # rewrite it from the code
python -m services.agency.openapi --check  # exit 1 when it differs from the code
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from contracts.schema import render_json
from services.agency.app import create_app
from services.agency.settings import AgencySettings

PATH = Path(__file__).resolve().parents[2] / "contracts" / "openapi" / "agency.json"


def document() -> str:
    """The OpenAPI document as deterministic text (sorted keys, 2-space indent, trailing newline)."""
    return render_json(create_app(AgencySettings()).openapi())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed file drifted")
    args = parser.parse_args(argv)
    text = document()
    if args.check:
        if not PATH.exists() or PATH.read_text(encoding="utf-8") != text:
            print(f"{PATH} differs from the code; run: python -m services.agency.openapi", file=sys.stderr)
            return 1
        return 0
    PATH.parent.mkdir(parents=True, exist_ok=True)
    PATH.write_text(text, encoding="utf-8")
    print(f"wrote {PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Write, or check, the committed OpenAPI document of the post office API.

    python -m services.post_office.openapi          # rewrite contracts/openapi/post_office.json
    python -m services.post_office.openapi --check  # exit 1 when the committed file drifted from the code

Deterministic (sorted keys, fixed indentation), so the file changes only when the API does.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from services.post_office.app import create_app
from services.post_office.settings import PostOfficeSettings
from services.shared.openapi_file import write_or_check

OPENAPI_PATH = Path(__file__).resolve().parents[2] / "contracts" / "openapi" / "post_office.json"


def document() -> dict[str, Any]:
    """The OpenAPI document of the app as the code declares it (nothing connects)."""
    return create_app(PostOfficeSettings()).openapi()


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def drifted(path: Path = OPENAPI_PATH) -> bool:
    return not path.exists() or path.read_text(encoding="utf-8") != render(document())


def main(argv: Sequence[str] | None = None) -> int:
    return write_or_check(OPENAPI_PATH, render(document()), "python -m services.post_office.openapi", argv)


if __name__ == "__main__":
    sys.exit(main())

"""The committed OpenAPI document of a service: rewrite it from the code, or check it has not drifted.

Every service's ``python -m services.<name>.openapi [--check]`` calls ``write_or_check``, so the five
documents are written and checked the same way.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def write_or_check(path: Path, text: str, command: str, argv: Sequence[str] | None = None) -> int:
    """Write ``text`` to ``path``, or with ``--check`` exit 1 when the committed file differs from it."""
    parser = argparse.ArgumentParser(prog=command, description=f"Write or check {path.name}.")
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed document is stale")
    args = parser.parse_args(argv)
    if args.check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            print(f"{path} is out of date: run {command}", file=sys.stderr)
            return 1
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
    return 0

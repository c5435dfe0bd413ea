"""Write, or check, the generated contract artefacts: JSON Schemas per event and the AsyncAPI document.

    python -m contracts.generate          # rewrite contracts/schemas/*.json and contracts/asyncapi.yaml
    python -m contracts.generate --check  # exit 1 naming every file that differs from the code

Output is deterministic (sorted keys, registry order), so the committed files change only when the
contracts do, and the diff shows what changed for review.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from contracts.asyncapi import asyncapi_document
from contracts.schema import event_schemas, render_json

ROOT = Path(__file__).resolve().parent
SCHEMA_DIR = ROOT / "schemas"
ASYNCAPI_PATH = ROOT / "asyncapi.yaml"


class _Dumper(yaml.SafeDumper):
    """Writes multi-line text as literal blocks, so descriptions read as they were written; no aliases."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_text)


def render_yaml(document: object) -> str:
    """Deterministic YAML: sorted keys, block style, UTF-8."""
    return yaml.dump(
        document, Dumper=_Dumper, sort_keys=True, allow_unicode=True, default_flow_style=False, width=110
    )


def artefacts(root: Path = ROOT) -> dict[Path, str]:
    """Every generated file and its expected content."""
    files = {root / "schemas" / name: render_json(schema) for name, schema in event_schemas().items()}
    files[root / "asyncapi.yaml"] = render_yaml(asyncapi_document())
    return files


def _stale(root: Path, expected: dict[Path, str]) -> list[Path]:
    return sorted(path for path in (root / "schemas").glob("*.json") if path not in expected)


def drift(root: Path = ROOT) -> list[Path]:
    """Files that are missing, differ from the code, or are no longer generated."""
    expected = artefacts(root)
    changed = [
        path
        for path, text in expected.items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    return sorted(changed) + _stale(root, expected)


def write(root: Path = ROOT) -> list[Path]:
    """Write what changed and remove schema files no longer generated; return the touched paths."""
    expected = artefacts(root)
    touched: list[Path] = []
    (root / "schemas").mkdir(exist_ok=True)
    for path, text in expected.items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            touched.append(path)
    for path in _stale(root, expected):
        path.unlink()
        touched.append(path)
    return touched


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m contracts.generate", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if committed files differ from the code")
    args = parser.parse_args(argv)
    if args.check:
        drifted = drift()
        for path in drifted:
            print(f"out of date: {path.relative_to(ROOT.parent)}", file=sys.stderr)
        if drifted:
            print("run: python -m contracts.generate", file=sys.stderr)
            return 1
        return 0
    for path in write():
        print(f"wrote {path.relative_to(ROOT.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

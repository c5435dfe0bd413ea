"""The serial numbers a run allocated, kept between runs so that item ids, record numbers and agency
dossier codes never repeat (a repeated item id would be refused as already used)."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

from services.simulator.plan import Serials


def load_serials(path: Path) -> Serials:
    """The serials of earlier runs; a first run starts at a random point of the 8-digit range, so that
    two machines (or a wiped state file) rarely meet."""
    if path.exists():
        raw = json.loads(path.read_text())
        return Serials(
            int(raw["item"]), int(raw["record"]), {str(k): int(v) for k, v in raw["codes"].items()}
        )
    base = random.SystemRandom().randrange(10_000_000, 80_000_000)
    return Serials(base, base, {})


def save_serials(path: Path, serials: Serials) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(
        json.dumps({"item": serials.item, "record": serials.record, "codes": serials.codes}, indent=1)
    )
    os.replace(tmp, path)

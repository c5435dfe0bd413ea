"""µs of CPU per envelope decoded: ``python -m bench.micro.decode [--rounds N] [--baseline DIR]``.

Decodes the realistic records of bench/events.py (every kind of event of the benchmarks' journeys, in
publication order) with ``contracts.envelope.decode``, and with ``decode_step_by_step`` (the fallback
that names a failure's reason) where it exists, and prints µs of CPU per record, the best of each round.
``--baseline DIR`` runs the same measurement on another checkout (e.g. ``git archive HEAD~1 | tar -x -C
DIR``) in a subprocess, alternating rounds with this one: a before/after on the same records.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable

from bench.events import Population

REPEAT = 3


def measure(dossiers: int) -> dict[str, float]:
    """µs of CPU per record for each decoder this checkout has (best of REPEAT passes)."""
    from contracts import envelope

    records = [(record.value, record.key) for record in Population(dossiers).records()]
    decoders: dict[str, Callable[..., object]] = {"decode": envelope.decode}
    step_by_step = getattr(envelope, "decode_step_by_step", None)
    if step_by_step is not None:
        decoders["decode_step_by_step"] = step_by_step
    figures = {"records": float(len(records))}
    for name, decoder in decoders.items():
        for raw, key in records[:1000]:
            decoder(raw, key)  # warm: lazily built validators and caches
        best = float("inf")
        for _ in range(REPEAT):
            started = time.process_time()
            for raw, key in records:
                decoder(raw, key)
            best = min(best, time.process_time() - started)
        figures[name] = best / len(records) * 1e6
    return figures


def _baseline(directory: str, dossiers: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": directory}
    # This file, run as a script, imports bench.events and contracts of the other checkout.
    command = [sys.executable, os.path.abspath(__file__), "--dossiers", str(dossiers), "--json"]
    done = subprocess.run(command, cwd=directory, env=env, capture_output=True, text=True, check=True)
    figures: dict[str, float] = json.loads(done.stdout)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline", help="another checkout to measure, alternating with this one")
    parser.add_argument("--json", action="store_true", help="one round, figures as JSON (for --baseline)")
    args = parser.parse_args()
    if args.json:
        print(json.dumps(measure(args.dossiers)))
        return
    for round_number in range(1, args.rounds + 1):
        here = measure(args.dossiers)
        line = f"round {round_number}: {int(here['records'])} records, µs CPU/record: " + ", ".join(
            f"{name} {value:.2f}" for name, value in here.items() if name != "records"
        )
        if args.baseline:
            before = _baseline(args.baseline, args.dossiers)
            line += f" | baseline decode {before['decode']:.2f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()

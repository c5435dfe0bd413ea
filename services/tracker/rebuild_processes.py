"""A rebuild shared by N processes: this process checks the topics, migrates the database and finds it
empty, once; then it starts N children (``python -m services.tracker.cli rebuild --share i/N``), each
replaying its share of the partitions into the same database, and waits for all of them.

One Python process folds on one core; N processes use N. A child that fails fails the rebuild: the
others are stopped, and the error names the child, its exit code and its last log lines. Each child
reads the end offsets of its own partitions when it starts, as each lane of a one-process rebuild does:
the children start together, and a dossier's events all belong to one child, so each dossier's history
is cut at one moment whichever child replays it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.shared.kafka_security import kafka_security_of
from services.shared.launcher import ManagedProcess
from services.tracker.consumers import TOPICS
from services.tracker.rebuild import (
    Out,
    RebuildRefusedError,
    RebuildSummary,
    Share,
    common_partition_count,
    count_projection,
    finish,
    partition_counts,
    prepare,
)
from services.tracker.settings import TrackerSettings

# How often the parent looks at its children: short beside a rebuild, long enough to cost nothing.
_POLL_S = 0.1
_TAIL_LINES = 15


class RebuildFailedError(Exception):
    """A child of a shared rebuild failed; the others were stopped."""


@dataclass
class _Child:
    share: Share
    process: ManagedProcess
    forwarded: int = 0
    """Bytes of its log already read."""
    summary: dict[str, Any] = field(default_factory=dict)


async def rebuild_in_processes(
    settings: TrackerSettings, database_url: str, processes: int, *, progress: Out | None = None
) -> RebuildSummary:
    started = time.monotonic()
    counts = await partition_counts(settings.kafka_bootstrap_servers, TOPICS, kafka_security_of(settings))
    count = common_partition_count(counts)
    if not 1 <= processes <= count:
        raise RebuildRefusedError(f"--processes must be between 1 and the topics' {count} partitions")
    await prepare(settings, database_url)
    say = progress or (lambda _: None)
    with tempfile.TemporaryDirectory(prefix="tracker-rebuild-") as logs:
        children = [_start(Share(i, processes), database_url, Path(logs)) for i in range(processes)]
        for child in children:
            say(f"rebuild: share {child.share} started (pid {child.process.pid})")
        await _supervise(children, say)
    await finish(database_url)
    summary = RebuildSummary(processes=processes)
    for child in children:
        summary.records += int(child.summary["records"])
        summary.refused.update(Counter(child.summary["refused"]))
    await count_projection(database_url, summary)
    summary.seconds = time.monotonic() - started
    return summary


def _start(share: Share, database_url: str, logs: Path) -> _Child:
    process = ManagedProcess(
        f"rebuild share {share}",
        [
            sys.executable,
            "-m",
            "services.tracker.cli",
            "rebuild",
            "--database-url",
            database_url,
            "--share",
            str(share),
        ],
        log_path=logs / f"share-{share.index}.log",
    )
    process.start()
    return _Child(share, process)


async def _supervise(children: list[_Child], say: Out) -> None:
    """Until every child has exited 0; at the first that did not, stop the others and raise. The
    children are stopped whatever ends the wait (Ctrl-C too): none outlives the rebuild."""
    try:
        while True:
            for child in children:
                _forward(child, say)
            for child in children:
                code = child.process.returncode
                if code not in (None, 0):
                    raise RebuildFailedError(
                        f"share {child.share} (pid {child.process.pid}) exited with exit code {code}; "
                        f"its last lines:\n{child.process.tail(_TAIL_LINES)}"
                    )
            if all(child.process.returncode == 0 for child in children):
                break
            await asyncio.sleep(_POLL_S)
    finally:
        await asyncio.gather(*(child.process.stop() for child in children))
    for child in children:
        _forward(child, say)  # what it wrote between the last look and its exit
        if not child.summary:
            raise RebuildFailedError(f"share {child.share} exited without its summary line")


def _forward(child: _Child, say: Out) -> None:
    """Pass the child's new complete log lines on, each marked with its share; keep its summary line."""
    text = b""
    with contextlib.suppress(FileNotFoundError), child.process.log_path.open("rb") as log:
        log.seek(child.forwarded)
        text = log.read()
    complete = text[: text.rfind(b"\n") + 1] if b"\n" in text else b""
    child.forwarded += len(complete)
    for line in complete.decode(errors="replace").splitlines():
        if line.startswith("--- start"):
            continue
        summary = _summary(line)
        if summary is not None:
            child.summary = summary
        elif line.strip():
            say(f"share {child.share}: {line}")


def _summary(line: str) -> dict[str, Any] | None:
    if not line.startswith("{"):
        return None
    try:
        parsed = json.loads(line)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) and parsed.get("rebuild") == "done" else None

"""Prometheus metrics of an API served by several uvicorn worker processes.

Each worker counts in its own process, and a scrape of /metrics reaches one worker only. With several
workers, prometheus_client's multiprocess mode is on: every worker writes its values into files of
its own (named by its pid) in one directory, and /metrics merges the files of every worker that ever
ran since the service started: counters and histograms are summed, so the counts of a worker that died
(a SIGKILL, the OOM killer) stay in the totals, and the series keep the names and labels they have with
one worker. Gauges are merged by their `multiprocess_mode`; a gauge of a worker's in-process state
must be one of the `live*` modes, whose files are dropped once that worker is gone.

prometheus_client chooses between in-memory and file-backed values at import, by the
PROMETHEUS_MULTIPROC_DIR environment variable: the parent sets it, to a fresh empty directory, before
it spawns the workers, and removes the directory when the service stops.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
_LIVE_GAUGE_FILE = re.compile(r"gauge_live[a-z]+_(\d+)\.db")


@contextlib.contextmanager
def shared_metrics_dir(service: str) -> Iterator[Path]:
    """A fresh, empty directory for the workers' metric files, named in the environment the workers
    inherit, and removed (with what the workers wrote) when the block ends."""
    path = Path(tempfile.mkdtemp(prefix=f"{service}-metrics-"))
    previous = os.environ.get(MULTIPROC_DIR)
    os.environ[MULTIPROC_DIR] = str(path)
    try:
        yield path
    finally:
        if previous is None:
            os.environ.pop(MULTIPROC_DIR, None)
        else:
            os.environ[MULTIPROC_DIR] = previous
        shutil.rmtree(path, ignore_errors=True)


def multiprocess_dir() -> Path | None:
    """The workers' shared directory when this process is one of several workers, else None."""
    path = os.environ.get(MULTIPROC_DIR)
    return Path(path) if path else None


def exposition_registry(registry: CollectorRegistry) -> CollectorRegistry:
    """What /metrics serves: the service's own registry, or, in a worker of several, the merge of every
    worker's files (the service's metrics are all in them: they are created on its registry while
    the variable is set)."""
    path = multiprocess_dir()
    if path is None:
        return registry
    merged = CollectorRegistry()
    merged.register(WorkersCollector(path))
    return merged


class WorkersCollector(Collector):
    """prometheus_client's MultiProcessCollector, after forgetting the live gauges of dead workers.

    prometheus_client leaves that to the code that sees a worker exit (`mark_process_dead`); uvicorn's
    supervisor replaces dead workers without a hook for it, so each scrape drops the `live*` gauge files
    of the pids that no longer run. Counter and histogram files are never dropped.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        # prometheus_client's multiprocess module has no type hints.
        self._merged = MultiProcessCollector(None, path=str(path))  # type: ignore[no-untyped-call]

    def collect(self) -> Iterable[Metric]:
        forget_dead_workers(self._path)
        metrics: Iterable[Metric] = self._merged.collect()  # type: ignore[no-untyped-call]
        return metrics


def forget_dead_workers(path: Path) -> None:
    for pid in {int(m.group(1)) for f in path.iterdir() if (m := _LIVE_GAUGE_FILE.fullmatch(f.name))}:
        if not _running(pid):
            mark_process_dead(pid, str(path))  # type: ignore[no-untyped-call]


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a process of another user holds the pid: not one of the workers
        return False
    return True

"""The machine a run measured, and how busy other work kept it meanwhile.

Other test suites may share the machine. Besides the load average, each benchmark records the CPU
time spent by everything outside this run (the benchmark's process tree, its broker and its
PostgreSQL cluster) while it ran: ``others_cores`` is that time over the wall time, the number of cores
other work took on average. A figure measured with ``others_cores`` well above zero was contended.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.infra import ROOT

_TICK = os.sysconf("SC_CLK_TCK")


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def describe(pg_bin: str | None = None) -> dict[str, Any]:
    cpu_model = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/cpuinfo").splitlines()
            if "model name" in line
        ),
        platform.processor() or "unknown",
    )
    mem_kib = next(
        (int(line.split()[1]) for line in _read("/proc/meminfo").splitlines() if line.startswith("MemTotal")),
        0,
    )
    return {
        "host": socket.gethostname(),
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": round(mem_kib / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": _version([pg_bin or _pg_bin(), "--version"]),
        "kafka": _kafka_version(),
        "java": _version(["java", "-version"]),
        "packages": {
            name: _package(name)
            for name in (
                "aiokafka",
                "faststream",
                "asyncpg",
                "sqlalchemy",
                "pydantic",
                "fastapi",
                "uvicorn",
                "uvloop",
            )
        },
        "commit": _commit(),
    }


def _version(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=20, check=False)
    except OSError:
        return "unknown"
    return ((done.stdout or done.stderr).strip().splitlines() or ["unknown"])[0]


def _pg_bin() -> str:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    return str(found[-1]) if found else "postgres"


def _kafka_version() -> str:
    pom = _read(str(ROOT / "deploy" / "kafka" / "pom.xml"))
    start = pom.find("<kafka.version>")
    return pom[start + 15 : pom.find("</kafka.version>")] if start >= 0 else "unknown"


def _package(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "-"


def _commit() -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}{'+changes' if dirty else ''}"


def now() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------- contention


def _busy_ticks() -> int:
    fields = _read("/proc/stat").splitlines()[0].split()[1:]
    values = [int(v) for v in fields]
    # user nice system idle iowait irq softirq steal guest guest_nice; guests are inside user.
    return sum(values[:8]) - values[3] - values[4]


def _processes() -> dict[int, tuple[int, int]]:
    """pid → (parent pid, CPU ticks of it and of its reaped children)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _read(f"/proc/{entry.name}/stat")
        if not stat:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        found[int(entry.name)] = (int(fields[1]), sum(int(v) for v in fields[11:15]))
    return found


def _tree_ticks(roots: set[int]) -> int:
    processes = _processes()
    total = 0
    for pid, (_, ticks) in processes.items():
        current = pid
        for _ in range(64):
            if current in roots:
                total += ticks
                break
            parent = processes.get(current)
            if parent is None or parent[0] <= 1:
                break
            current = parent[0]
    return total


def _pid_from(path: Path | None) -> int | None:
    if path is None:
        return None
    text = _read(str(path)).split()
    return int(text[0]) if text and text[0].isdigit() else None


@dataclass
class Contention:
    """Started before a benchmark, finished after it: the load average and other work's CPU."""

    pid_files: tuple[Path | None, ...] = ()
    load_before: tuple[float, float, float] = field(default_factory=os.getloadavg)
    _started: float = 0.0
    _busy: int = 0
    _ours: int = 0

    def _roots(self) -> set[int]:
        return {os.getpid(), *(pid for f in self.pid_files if (pid := _pid_from(f)) is not None)}

    def start(self) -> Contention:
        import time

        self.load_before = os.getloadavg()
        self._started = time.monotonic()
        self._busy = _busy_ticks()
        self._ours = _tree_ticks(self._roots())
        return self

    def finish(self) -> dict[str, Any]:
        import time

        seconds = time.monotonic() - self._started
        busy = (_busy_ticks() - self._busy) / _TICK
        ours = (_tree_ticks(self._roots()) - self._ours) / _TICK
        return {
            "load_before": [round(v, 2) for v in self.load_before],
            "load_after": [round(v, 2) for v in os.getloadavg()],
            "busy_cores": round(busy / seconds, 2) if seconds else 0.0,
            "ours_cores": round(ours / seconds, 2) if seconds else 0.0,
            "others_cores": round(max(0.0, busy - ours) / seconds, 2) if seconds else 0.0,
        }

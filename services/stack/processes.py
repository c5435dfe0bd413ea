"""Child processes of the local run and of the end-to-end tests: each service (one `python -m` command
with its environment) and Prometheus. Each starts in a session of its own, so Ctrl-C reaches only the
supervisor, which stops them in order; each dies with the supervisor should the supervisor be killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
from pydantic_settings import BaseSettings

from services.agency.settings import AgencySettings
from services.post_office.settings import PostOfficeSettings
from services.stack.settings import env_var
from services.tracker.settings import TrackerSettings
from services.turnaround.settings import TurnaroundSettings

ROOT = Path(__file__).resolve().parents[2]
_PR_SET_PDEATHSIG = 1


class ProcessFailedError(RuntimeError):
    """A child exited, or did not become ready in time; the message ends with its last log lines."""


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass(frozen=True)
class ServiceSpec:
    """One deployable: its `python -m` command and the settings fields that place its HTTP listener."""

    name: str
    module: str
    args: tuple[str, ...]
    settings: type[BaseSettings]
    host_field: str
    port_field: str

    def command(self, python: str = sys.executable) -> list[str]:
        return [python, "-m", self.module, *self.args]

    def listen_env(self, host: str, port: int) -> dict[str, str]:
        return {
            env_var(self.settings, self.host_field): host,
            env_var(self.settings, self.port_field): str(port),
        }


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("post_office", "services.post_office", (), PostOfficeSettings, "host", "port"),
    ServiceSpec("agency", "services.agency", (), AgencySettings, "http_host", "http_port"),
    ServiceSpec("tracker", "services.tracker", ("serve",), TrackerSettings, "host", "port"),
    ServiceSpec("turnaround", "services.turnaround", (), TurnaroundSettings, "http_host", "http_port"),
)
BY_NAME = {spec.name: spec for spec in SERVICES}


class ManagedProcess:
    """A child process with its log file and, optionally, a URL that answers 200 once it is ready."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        ready_url: str | None = None,
        cwd: Path = ROOT,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.log_path = log_path
        self.env = dict(env) if env is not None else dict(os.environ)
        self.ready_url = ready_url
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> None:
        """Start the child. Call from the thread that outlives it (the child dies with that thread)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def failure(self, what: str) -> ProcessFailedError:
        return ProcessFailedError(f"{self.name} {what}; last lines of {self.log_path}:\n{self.tail()}")

    async def wait_ready(self, timeout_s: float) -> None:
        """Until ready_url answers 200; ProcessFailedError if the child exits or the time runs out."""
        if self.ready_url is None:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                if not self.running():
                    code = self.process.returncode if self.process else None
                    raise self.failure(f"exited with status {code} during start-up")
                try:
                    if (await client.get(self.ready_url)).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if loop.time() > deadline:
                    raise self.failure(f"did not answer {self.ready_url} within {timeout_s:.0f} s")
                await asyncio.sleep(0.25)

    async def stop(self, timeout_s: float) -> int | None:
        """SIGTERM, wait, SIGKILL after the timeout. Returns the exit status."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.to_thread(process.wait), timeout_s)
            except TimeoutError:
                process.kill()
                await asyncio.to_thread(process.wait)
        if self._log is not None:
            self._log.close()
            self._log = None
        return process.returncode


def service_process(
    spec: ServiceSpec,
    *,
    host: str,
    port: int,
    env: Mapping[str, str],
    log_dir: Path,
    python: str = sys.executable,
) -> ManagedProcess:
    """A service with the shared environment plus its own listener settings; ready once /ready says so."""
    return ManagedProcess(
        spec.name,
        spec.command(python),
        log_path=log_dir / f"{spec.name}.log",
        env={**env, **spec.listen_env(host, port), "PYTHONUNBUFFERED": "1"},
        ready_url=f"http://{host}:{port}/ready",
    )

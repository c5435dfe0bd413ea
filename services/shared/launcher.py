"""The one way a process of this project starts another and knows when it is ready: the local run's
supervisor (services/stack), the end-to-end and reliability tests and the benchmarks all start services
(and Prometheus) through `ManagedProcess`.

A child writes stdout and stderr to a log file (a file, not a pipe: nobody has to read it while the child
runs), in a session of its own (Ctrl-C at a terminal reaches only the parent, which stops its children in
order), and dies with the thread that started it should the parent be killed. Waiting until it is ready
is a condition with a deadline: its readiness URL answers 200. A child that exits meanwhile fails the
wait at once, with its exit code and the tail of its log — a dead process is never waited out.

The waits poll `Popen.poll()` rather than await an asyncio child watcher, so a process started under one
event loop can be stopped under another (pytest fixtures of wider scope, `asyncio.run` per step).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
_PR_SET_PDEATHSIG = 1
# How often a wait looks again: short beside any deadline, long enough to cost nothing.
_POLL_S = 0.05
_READY_POLL_S = 0.1


class ProcessFailedError(RuntimeError):
    """A child exited, or did not become ready in time; the message ends with its last log lines."""


def _find_prctl() -> Callable[..., int] | None:
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: children do not die with their parent
        return None
    return prctl


# Looked up here, in the parent: loading a library between fork and exec could wait forever on a lock
# another thread of the parent held at the fork.
_PRCTL = _find_prctl()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


def stop_with_parent(parent_pid: int) -> None:
    """From now on this process gets SIGTERM when `parent_pid`, its parent, exits (Linux; elsewhere
    nothing). For children that another library starts (uvicorn's workers); if the parent is already
    gone, this process exits at once."""
    _die_with_parent()
    if os.getppid() != parent_pid:
        raise SystemExit(f"the parent process {parent_pid} has exited")


class ManagedProcess:
    """A child process with its log file and, optionally, a URL that answers 200 once it is ready.

    `start` may be called again once the child has exited (the crash tests restart what they killed);
    the log keeps every run, each after a `--- start N` line."""

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
        self.starts = 0

    # ------------------------------------------------------------------ starting

    def start(self) -> None:
        """Start the child (returns at once; `wait_ready` waits). Call it from the thread that outlives
        the child: the child is sent SIGTERM when that thread ends."""
        if self.running():
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"--- start {self.starts + 1} of {self.name}\n".encode())
            log.flush()
            # The child keeps its own copy of the descriptor; ours closes on leaving the block.
            self.process = subprocess.Popen(
                self.command,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        self.starts += 1

    async def wait_ready(self, timeout_s: float) -> None:
        """Until `ready_url` answers 200 (or, without one, only that the child still runs).

        ProcessFailedError at once if the child exits meanwhile (naming its exit code), or once
        `timeout_s` has passed; either way with the tail of its log. A child that is only slow keeps
        running: stopping it is the caller's choice."""
        self._check_alive("during start-up")
        if self.ready_url is None:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        # A request never outlasts the deadline by much, and a hung child cannot stall the exit check long.
        async with httpx.AsyncClient(timeout=min(2.0, max(timeout_s, 0.1))) as client:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(self.ready_url)).status_code == 200:
                        return
                self._check_alive("during start-up")
                if loop.time() >= deadline:
                    raise self.failure(f"did not answer {self.ready_url} with 200 within {timeout_s:g} s")
                await asyncio.sleep(_READY_POLL_S)

    # ------------------------------------------------------------------ what it is doing

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def returncode(self) -> int | None:
        """The exit code once the child has exited (negative: the signal that ended it), else None."""
        return self.process.poll() if self.process else None

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

    def _check_alive(self, when: str) -> None:
        if self.process is None:
            raise RuntimeError(f"{self.name} was never started")
        code = self.process.poll()
        if code is not None:
            raise self.failure(f"exited with exit code {code} {when}")

    # ------------------------------------------------------------------ ending

    async def wait(self, timeout_s: float | None = None) -> int:
        """Until the child exits; its exit code. TimeoutError if it still runs after `timeout_s`."""
        if self.process is None:
            raise RuntimeError(f"{self.name} was never started")
        # No asyncio child watcher to await (see the module's docstring): the exit is polled.
        async with asyncio.timeout(timeout_s):
            while True:
                code = self.process.poll()
                if code is not None:
                    return code
                await asyncio.sleep(_POLL_S)

    async def stop(self, timeout_s: float = 30.0) -> int | None:
        """SIGTERM (the child shuts down in order), SIGKILL if it has not exited after `timeout_s`.
        Returns the exit code (None if it was never started)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return await self.wait(timeout_s)
            except TimeoutError:
                return await self.kill()
        return self.process.returncode

    async def kill(self) -> int | None:
        """SIGKILL: no shutdown of any kind, as a crash or the OOM killer. Returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.kill()
        return await self.wait()

"""The one process launcher (services/shared/launcher.py): ready once the readiness URL answers 200, a
failure at once when the child exits during start-up, at the deadline when it never gets ready (each
with the tail of its log), and a stop that lets the child shut down before it is killed.

The children are tests/unit/launched_child.py, a few lines of http.server, not real services."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from services.shared.launcher import ROOT, ManagedProcess, ProcessFailedError

CHILD = Path(__file__).with_name("launched_child.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child(tmp_path: Path, *args: str) -> ManagedProcess:
    port = _free_port()
    return ManagedProcess(
        "child",
        [sys.executable, str(CHILD), str(port), *args],
        log_path=tmp_path / "logs" / "child.log",
        ready_url=f"http://127.0.0.1:{port}/ready",
    )


async def test_waits_until_the_readiness_url_answers_200(tmp_path: Path) -> None:
    marker = tmp_path / "ready"
    process = child(tmp_path, "--ready-when", str(marker))
    process.start()
    try:
        waiting = asyncio.create_task(process.wait_ready(60))

        async def refused_once() -> None:  # the child has answered 503 at least once
            while "-> 503" not in process.tail():
                assert not waiting.done(), "ready before the child said so"
                await asyncio.sleep(0.05)

        await asyncio.wait_for(refused_once(), 30)
        assert not waiting.done()
        marker.touch()
        await asyncio.wait_for(waiting, 30)
        assert process.running() and process.pid is not None
        assert f"child pid {process.pid} starting" in process.tail()
    finally:
        await process.stop(10)


async def test_a_child_that_exits_during_start_up_fails_at_once_naming_its_exit_code(
    tmp_path: Path,
) -> None:
    process = child(tmp_path, "--exit", "3")
    process.start()
    deadline_s = 60.0
    started = time.monotonic()

    with pytest.raises(ProcessFailedError) as failed:
        await process.wait_ready(deadline_s)

    # A bound, not a measure of speed: the failure did not wait for the deadline.
    assert time.monotonic() - started < deadline_s / 2
    message = str(failed.value)
    assert "exit code 3" in message
    assert "giving up: the database refused the connection" in message, "the log's tail"
    assert process.returncode == 3 and not process.running()


async def test_a_child_that_never_gets_ready_fails_at_the_deadline_with_its_log_tail(
    tmp_path: Path,
) -> None:
    process = child(tmp_path, "--ready-when", str(tmp_path / "never"))
    process.start()
    deadline_s = 2.0
    started = time.monotonic()
    try:
        with pytest.raises(ProcessFailedError) as failed:
            await process.wait_ready(deadline_s)
        assert time.monotonic() - started >= deadline_s, "it waited out its deadline"
        message = str(failed.value)
        assert f"did not answer {process.ready_url} with 200 within {deadline_s:g} s" in message
        assert "GET /ready -> 503" in message, "the log's tail"
        assert process.running(), "a child that is only slow is left for the caller to stop"
    finally:
        await process.stop(10)


async def test_stop_sends_sigterm_and_lets_the_child_shut_down_in_order(tmp_path: Path) -> None:
    flushed = tmp_path / "flushed"
    process = child(tmp_path, "--on-term", "flush", str(flushed))
    process.start()
    await process.wait_ready(60)

    code = await process.stop(30)

    assert flushed.read_text() == "flushed", "the child saw SIGTERM and finished its work"
    assert code == 0 and process.returncode == 0


async def test_stop_kills_a_child_that_ignores_sigterm_once_the_deadline_passes(tmp_path: Path) -> None:
    process = child(tmp_path, "--on-term", "ignore")
    process.start()
    await process.wait_ready(60)
    started = time.monotonic()

    code = await process.stop(0.5)

    assert time.monotonic() - started >= 0.5, "SIGKILL only once the deadline passed"
    assert code == -9 and not process.running()


async def test_kill_ends_the_child_without_a_shutdown(tmp_path: Path) -> None:
    flushed = tmp_path / "flushed"
    process = child(tmp_path, "--on-term", "flush", str(flushed))
    process.start()
    await process.wait_ready(60)

    assert await process.kill() == -9
    assert not flushed.exists(), "SIGKILL leaves no chance to shut down"


async def test_a_stopped_child_can_be_started_again_and_its_log_keeps_both_runs(tmp_path: Path) -> None:
    process = child(tmp_path)
    process.start()
    await process.wait_ready(60)
    first = process.pid
    await process.kill()

    process.start()
    try:
        await process.wait_ready(60)
        assert process.pid != first
        log = process.log_path.read_text()
        assert f"child pid {first} starting" in log and f"child pid {process.pid} starting" in log
    finally:
        await process.stop(10)


def _ended(pid: int) -> bool:
    """Gone, or a zombie nobody has reaped yet (its parent was killed)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state == "Z"


async def test_a_child_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    """A test run or a local run killed with SIGKILL leaves no service behind on its ports."""
    port = _free_port()
    parent_code = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from services.shared.launcher import ManagedProcess\n"
        f"child = ManagedProcess('child', [sys.executable, {str(CHILD)!r}, '{port}'],"
        f" log_path=Path({str(tmp_path / 'child.log')!r}), ready_url='http://127.0.0.1:{port}/ready')\n"
        "child.start()\n"
        "asyncio.run(child.wait_ready(60))\n"
        "print(child.pid, flush=True)\n"
        "sys.stdin.read()\n"
    )
    parent = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        parent_code,
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert parent.stdout is not None
        pid = int(await asyncio.wait_for(parent.stdout.readline(), 60))
        assert not _ended(pid)
    finally:
        parent.kill()
        await parent.wait()

    async def child_ended() -> None:
        while not _ended(pid):
            await asyncio.sleep(0.05)

    try:
        await asyncio.wait_for(child_ended(), 30)
    finally:
        if not _ended(pid):  # the test failed: leave no orphan behind
            os.kill(pid, signal.SIGKILL)

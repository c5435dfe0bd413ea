"""The benchmarks start their services through the project's launcher (bench/infra.py): ready once the
readiness URL answers, a service that dies at start fails the wait at once, a stop lets it shut down."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from bench.infra import local_ready_url, start_service
from services.shared.launcher import ProcessFailedError

CHILD = Path(__file__).with_name("launched_child.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_benchmarked_service_is_awaited_sampled_and_stopped_in_order(tmp_path: Path) -> None:
    port, flushed = _free_port(), tmp_path / "flushed"
    service = start_service(
        "child",
        [str(CHILD), str(port), "--on-term", "flush", str(flushed)],
        {},
        tmp_path / "logs",
        ready_url=local_ready_url(port),
    )
    try:
        await service.ready(60)
        assert service.alive() and f"child pid {service.pid} starting" in service.log_path.read_text()
    finally:
        code = await service.stop(10)

    assert code == 0 and flushed.read_text() == "flushed"
    assert service.peak_rss > 0, "sampled while it ran"


async def test_a_benchmarked_service_that_dies_at_start_fails_its_wait_at_once(tmp_path: Path) -> None:
    port = _free_port()
    service = start_service(
        "child",
        [str(CHILD), str(port), "--exit", "4"],
        {},
        tmp_path / "logs",
        ready_url=local_ready_url(port),
    )
    started = time.monotonic()

    with pytest.raises(ProcessFailedError, match="exit code 4") as failed:
        await service.ready(60)

    assert time.monotonic() - started < 30, "not waited out"
    assert "giving up" in str(failed.value)
    with pytest.raises(ProcessFailedError, match="exit code 4"):
        service.check_alive()
    await service.stop()

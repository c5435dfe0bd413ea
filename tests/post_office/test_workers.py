"""The post office on several uvicorn worker processes (POST_OFFICE_WORKERS, issue 19): the workers
share the listening socket and the scans, /metrics counts every request and scan whichever worker
served it, and a worker killed with SIGKILL is replaced without its counts being lost.

The service runs as it is deployed, ``python -m services.post_office``, against the session's Kafka and
the package's PostgreSQL database. Which worker served a request is read from the kernel: the worker
process that holds the server end of the client's TCP connection (/proc), never from the service.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from contracts.topics import POSTAL_EVENTS
from services.post_office.app import create_app
from services.post_office.settings import PostOfficeSettings
from services.shared.launcher import ROOT, ManagedProcess
from tests.fixtures.kafka import KafkaLogin
from tests.post_office.conftest import AGENCY_EVENTS_GROUP, SECRET, settings_for
from tests.post_office.helpers import (
    SCAN_PATHS,
    PostOfficeClient,
    Tokens,
    acceptance,
    at,
    new_item_id,
    online,
    scan,
)

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

HOST = "127.0.0.1"
WORKERS = 2
CONNECTIONS = 12  # concurrent keep-alive connections a round of scans opens
DEADLINE_S = 90.0
T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T | None]], what: str, timeout_s: float = DEADLINE_S) -> T:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        found = await check()
        if found is not None:
            return found
        assert loop.time() < deadline, f"not within {timeout_s:g} s: {what}"
        await asyncio.sleep(0.1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def children(pid: int) -> set[int]:
    """The live worker processes under `pid`, from /proc: multiprocessing's spawned children (its
    resource tracker, also a child, is not a worker)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found.update(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return {c for c in found if _alive(c) and b"--multiprocessing-fork" in _command_line(c)}


def _command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def established_inodes(port: int) -> set[str]:
    """Socket inodes of the server ends of established TCP connections to `port` on this machine."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01":  # 01: ESTABLISHED
                inodes.add(fields[9])
    return inodes


def connections_held(pids: set[int], port: int) -> Counter[int]:
    """How many established connections to `port` each process holds the server end of."""
    inodes = established_inodes(port)
    held: Counter[int] = Counter()
    for pid in pids:
        try:
            descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in descriptors:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                held[pid] += 1
    return held


@dataclass
class Metrics:
    """One /metrics answer: every sample by (name, sorted labels)."""

    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]
    duplicates: list[tuple[str, tuple[tuple[str, str], ...]]]

    def value(self, name: str, **labels: str) -> float:
        return self.samples.get((name, tuple(sorted(labels.items()))), 0.0)


def parse_metrics(text: str) -> Metrics:
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    duplicates = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            if key in samples:
                duplicates.append(key)
            samples[key] = sample.value
    return Metrics(samples, duplicates)


@pytest.fixture
async def post_office_workers(
    database_url: str, post_office_kafka: KafkaLogin, tmp_path: Path
) -> AsyncIterator[tuple[ManagedProcess, int]]:
    port = _free_port()
    process = ManagedProcess(
        "post_office",
        [sys.executable, "-m", "services.post_office"],
        log_path=tmp_path / "post_office.log",
        env={
            **os.environ,
            **post_office_kafka.env(),
            "DATABASE_URL": database_url,
            "DOSSIER_AUTH_SECRET": SECRET,
            "POST_OFFICE_HOST": HOST,
            "POST_OFFICE_PORT": str(port),
            "POST_OFFICE_WORKERS": str(WORKERS),
            # The package's group (its database is this one): the series match one_process_metrics'.
            "POST_OFFICE_AGENCY_EVENTS_GROUP_ID": AGENCY_EVENTS_GROUP,
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        },
        ready_url=f"http://{HOST}:{port}/ready",
        cwd=ROOT,
    )
    process.start()
    try:
        await process.wait_ready(DEADLINE_S)
        yield process, port
    finally:
        await process.stop(30)


class Clerk:
    """Rounds of scans, each sent at once on CONNECTIONS new keep-alive connections."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.token = token
        self.scans = 0

    async def round_of_scans(self, item_id: str, workers: set[int]) -> Counter[int]:
        """Send the round; how many of its connections each worker answered. A worker's event loop
        accepts every connection waiting when it wakes, so one round may all land on one worker: each
        round opens connections of its own."""
        clients = [
            httpx.AsyncClient(
                base_url=f"http://{HOST}:{self.port}",
                headers={"Authorization": f"Bearer {self.token}"},
                limits=httpx.Limits(max_connections=1),
                timeout=30,
            )
            for _ in range(CONNECTIONS)
        ]

        async def one(client: httpx.AsyncClient) -> None:
            body = online(scan("IN_TRANSIT", item_id, at(15, 8, minute=1)))
            answer = await client.post(SCAN_PATHS["IN_TRANSIT"], json=body)
            assert answer.status_code == 201, (answer.status_code, answer.text)

        try:
            await asyncio.gather(*(one(c) for c in clients))
            self.scans += len(clients)
            # The connections are still open: the worker holding each one answered its scan.
            return connections_held(workers, self.port)
        finally:
            await asyncio.gather(*(c.aclose() for c in clients))


async def test_two_workers_share_the_scans_and_metrics_count_every_one_of_them(
    post_office_workers: tuple[ManagedProcess, int],
    tokens: Tokens,
    database_url: str,
    post_office_kafka: KafkaLogin,
) -> None:
    settings = settings_for(database_url, post_office_kafka)
    process, port = post_office_workers
    assert process.pid is not None
    parent = process.pid

    async def both_workers() -> set[int] | None:
        found = children(parent)
        return found if len(found) == WORKERS else None

    workers = await eventually(both_workers, f"{WORKERS} worker processes under the post office", 30)
    clerk = Clerk(port, tokens.clerk)
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", timeout=30) as http:
        accepted = await http.post(
            "/v1/dossiers",
            json=acceptance(new_item_id()),
            headers={"Authorization": f"Bearer {tokens.clerk}"},
        )
        assert accepted.status_code == 201, accepted.text
        item_id = accepted.json()["item_id"]

        await every_worker_serves(clerk, item_id, workers)

        async def metrics() -> Metrics:
            answer = await http.get("/metrics")
            assert answer.status_code == 200
            return parse_metrics(answer.text)

        async def counted() -> Metrics:
            """/metrics once it counts every answered scan, then checked whole: a request is counted
            after its answer has left, so a scrape right after the last answer can come first."""
            route = SCAN_PATHS["IN_TRANSIT"]

            async def every_answer() -> Metrics | None:
                found = await metrics()
                done = found.value("http_requests_total", method="POST", route=route, status="201")
                return found if done >= clerk.scans else None

            found = await eventually(every_answer, f"/metrics counting {clerk.scans} scans", 15)
            expect_counts(found, scans=clerk.scans, dossiers=1)
            return found

        found = await counted()
        assert not found.duplicates
        assert not [key for key in found.samples if "pid" in dict(key[1])]
        # The same series as one process shows after the same requests.
        assert series(found) == series(await one_process_metrics(settings, tokens, clerk.scans))

        # A worker dies as the OOM killer would end it: uvicorn starts another in its place, and
        # what the dead one counted stays in the totals.
        victim = next(iter(workers))
        os.kill(victim, signal.SIGKILL)

        async def replaced() -> set[int] | None:
            now = children(parent)
            return now if len(now) == WORKERS and victim not in now else None

        workers = await eventually(replaced, "a new worker in place of the killed one")
        await eventually(lambda: _ready(http), "/ready once the worker was replaced")
        assert process.running()
        expect_counts(await metrics(), scans=clerk.scans, dossiers=1)  # all counted before the kill

        await every_worker_serves(clerk, item_id, workers)  # the new one included
        after = await counted()
        assert not after.duplicates


async def every_worker_serves(clerk: Clerk, item_id: str, workers: set[int]) -> None:
    """Rounds of scans until each of `workers` has answered some."""
    served: Counter[int] = Counter()

    async def each_served() -> Counter[int] | None:
        served.update(await clerk.round_of_scans(item_id, workers))
        return served if set(served) == workers else None

    await eventually(each_served, f"scans answered by every worker of {sorted(workers)}")


async def _ready(http: httpx.AsyncClient) -> bool | None:
    try:
        return True if (await http.get("/ready")).status_code == 200 else None
    except httpx.HTTPError:
        return None


def series(found: Metrics) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    """Every series but the creation times (prometheus_client's multiprocess mode has none) and the
    requests the test itself made to /metrics and /ready."""
    return {
        key
        for key in found.samples
        if not key[0].endswith("_created") and dict(key[1]).get("route") not in ("/metrics", "/ready")
    }


async def one_process_metrics(settings: PostOfficeSettings, tokens: Tokens, scans: int) -> Metrics:
    """/metrics of a post office in this process after one dossier and `scans` scans."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://post-office.test") as http:
            client = PostOfficeClient(http, tokens)
            item_id = (await client.accepted_dossier())["item_id"]
            for _ in range(scans):
                await client.ok(
                    SCAN_PATHS["IN_TRANSIT"], online(scan("IN_TRANSIT", item_id, at(15, 8, minute=1)))
                )
            return parse_metrics((await http.get("/metrics")).text)


def expect_counts(found: Metrics, *, scans: int, dossiers: int) -> None:
    """Every counter summed over the workers, the dead ones included."""
    route = SCAN_PATHS["IN_TRANSIT"]
    assert found.value("post_office_scans_total", outcome="accepted") == scans
    assert found.value("http_requests_total", method="POST", route=route, status="201") == scans
    assert found.value("http_request_duration_seconds_count", method="POST", route=route) == scans
    assert found.value("http_requests_total", method="POST", route="/v1/dossiers", status="201") == dossiers
    # One DossierAccepted per dossier, one ItemInTransit per scan.
    assert found.value("dossier_events_published_total", topic=POSTAL_EVENTS.name) == scans + dossiers
    assert found.value("post_office_publish_duration_seconds_count") == scans + dossiers
    assert found.value("post_office_rejections_total", reason="unknown_item") == 0


async def test_the_workers_stop_when_the_supervising_process_is_killed(
    post_office_workers: tuple[ManagedProcess, int],
) -> None:
    # Left running, they would keep the port and answer scans that no supervisor restarts or stops.
    process, _ = post_office_workers
    assert process.pid is not None
    parent = process.pid

    async def both_workers() -> set[int] | None:
        found = children(parent)
        return found if len(found) == WORKERS else None

    workers = await eventually(both_workers, f"{WORKERS} worker processes under the post office", 30)
    await process.kill()

    async def all_gone() -> bool | None:
        return True if not any(_alive(pid) for pid in workers) else None

    await eventually(all_gone, "the workers' exit after their supervisor's", 30)

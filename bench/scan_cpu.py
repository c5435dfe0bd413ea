"""CPU per online scan in the post office process, without uvicorn and Kafka: a micro-benchmark.

    python -m bench.scan_cpu                         # a throwaway PostgreSQL cluster of its own
    python -m bench.scan_cpu --database-url URL      # a PostgreSQL server (a new database on it)
    python -m bench.scan_cpu --sqlite                # the local run's embedded database

The post office is built by its own ``create_app`` and served in this process: every request is handed to
the ASGI application directly (no sockets, no HTTP parsing), and the Kafka broker is replaced by one that
encodes each event as the real publisher does and acknowledges at once. What remains is what a transit
scan costs the post office's code, FastAPI, pydantic, SQLAlchemy and asyncpg: the process CPU time
(``os.times``: user and system) of ``--scans`` sequential ``POST /v1/scans/in-transit`` divided by their
count, after a warm-up (statement caches, prepared statements). Repeated ``--rounds`` times; the median is the
figure. Sequential requests keep the process's CPU free of the machine's other work (the database server
is another process). ``py-spy record --format raw -- .venv/bin/python -m bench.scan_cpu`` profiles it;
``python -m bench.profiles FILE`` summarises.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import statistics
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, MutableMapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

from fastapi import FastAPI
from sqlalchemy import text

from bench.infra import SECRET, free_port, issue_token, new_migrated_database
from bench.load import acceptance, transit_scan
from contracts.envelope import Envelope, kafka_record
from contracts.values import make_s10
from services.post_office import app as post_office_app
from services.post_office import consumers as post_office_consumers
from services.post_office.settings import PostOfficeSettings
from services.shared.auth import Role
from services.shared.db import migrate
from services.shared.db.engine import make_engine
from services.shared.logs import configure

ROOT = Path(__file__).resolve().parents[1]
OFFICE = "100000"


class _AcknowledgingBroker:
    """Stands in for the Kafka broker: connects, answers pings, stops."""

    async def connect(self) -> None:
        return None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def ping(self, **_: float) -> bool:
        return True


class _EncodingPublisher:
    """Encodes each event into its Kafka record as services.shared.kafka.EventPublisher does, then
    counts it as acknowledged."""

    def __init__(self, _broker: Any, *, timeout_s: float) -> None:
        self.records = 0

    async def publish_many(self, envelopes: Sequence[Envelope[Any]]) -> None:
        for envelope in envelopes:
            kafka_record(envelope)
            self.records += 1


@asynccontextmanager
async def serving(database_url: str) -> AsyncIterator[FastAPI]:
    settings = PostOfficeSettings.model_validate(
        {
            "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
            "DATABASE_URL": database_url,
            "DOSSIER_AUTH_SECRET": SECRET,
        }
    )
    with (
        mock.patch.object(post_office_app, "make_broker", lambda *_, **__: _AcknowledgingBroker()),
        mock.patch.object(post_office_app, "EventPublisher", _EncodingPublisher),
        # The consumer of agency.events.v1 has no part in a scan's cost, and no broker to join here.
        mock.patch.object(post_office_consumers, "subscribe", lambda *_, **__: None),
    ):
        app = post_office_app.create_app(settings)
        async with app.router.lifespan_context(app):
            yield app


async def post(app: FastAPI, path: str, token: str, body: dict[str, Any]) -> int:
    """One request handed to the ASGI application; its status."""
    payload = json.dumps(body).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"post-office.bench"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
            (b"authorization", f"Bearer {token}".encode()),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8001),
    }
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            # The client waits for the answer and never disconnects.
            await asyncio.Event().wait()
        sent = True
        return {"type": "http.request", "body": payload, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def measure(
    database_url: str, items: int, scans: int, warmup: int, rounds: int
) -> list[tuple[float, float]]:
    """CPU µs per scan of each round: (user, system). The system part is mostly the kernel's work for
    the database's socket: each round trip is a send and a receive."""
    token = await issue_token(database_url, Role.POST_OFFICE, OFFICE, f"bench-clerk-{uuid.uuid4().hex[:8]}")
    rng = random.Random(0)
    base = random.SystemRandom().randrange(10**7, 9 * 10**7)
    item_ids = [make_s10("EB", base + n) for n in range(items)]
    _memory("imports and migration")
    async with serving(database_url) as app:
        _memory("started (catalog, calendar, pool, routes)")
        for item_id in item_ids:
            status = await post(app, "/v1/dossiers", token, acceptance(item_id, OFFICE, rng))
            if status != 201:
                raise RuntimeError(f"acceptance answered {status}")
        sent = 0

        async def scan_round(count: int) -> None:
            nonlocal sent
            for _ in range(count):
                body = {**transit_scan(item_ids[sent % items], sent // items), "post_office_code": OFFICE}
                status = await post(app, "/v1/scans/in-transit", token, body)
                if status != 201:
                    raise RuntimeError(f"a transit scan answered {status}")
                sent += 1

        await scan_round(warmup)
        _memory(f"{items} dossiers accepted, {warmup} scans")
        server = await _server_processes(database_url)
        per_scan: list[tuple[float, float]] = []
        for _ in range(rounds):
            started, server_started = os.times(), server()
            await scan_round(scans)
            ended, server_ended = os.times(), server()
            per_scan.append(
                ((ended.user - started.user) / scans * 1e6, (ended.system - started.system) / scans * 1e6)
            )
            if server_ended is not None and server_started is not None:
                _SERVER_CPU.append((server_ended - server_started) / scans * 1e6)
        _memory(f"{sent} scans")
        return per_scan


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A PostgreSQL cluster of this run's own (deploy/postgres/pg.sh), stopped and removed at the end."""
    pg_sh = str(ROOT / "deploy" / "postgres" / "pg.sh")
    with tempfile.TemporaryDirectory(prefix="dossier-scan-cpu-pg-") as data:
        Path(data).chmod(0o755)  # the cluster runs as the postgres user
        port = str(free_port())
        subprocess.run(["bash", pg_sh, "start", data, port], check=True, stdout=subprocess.DEVNULL)
        try:
            url = subprocess.run(
                ["bash", pg_sh, "url", data, port], check=True, capture_output=True, text=True
            ).stdout.strip()
            yield url
        finally:
            subprocess.run(["bash", pg_sh, "stop", data], check=False, stdout=subprocess.DEVNULL)


async def _run(args: argparse.Namespace, server_url: str | None) -> list[tuple[float, float]]:
    if args.sqlite:
        directory = tempfile.mkdtemp(prefix="dossier-scan-cpu-")
        url = f"sqlite+aiosqlite:///{directory}/dossier.db"
        await migrate.upgrade_async(url)
    else:
        assert server_url is not None
        url = await new_migrated_database(server_url, "scan_cpu")
    return await measure(url, args.items, args.scans, args.warmup, args.rounds)


_REPORT_MEMORY = False
_SERVER_CPU: list[float] = []
"""PostgreSQL's CPU µs per scan of each round (all of the server's processes), when it runs on this host."""


def _parent_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None  # another host's server, or not ours to read


async def _server_processes(database_url: str) -> Callable[[], float | None]:
    """A reader of the CPU seconds the PostgreSQL server's processes have used, when it runs on this
    host and its processes are readable (None otherwise): the postmaster's children, found as the
    parent of a connection's backend. The server shares the machine's cores with the post office."""
    if not database_url.startswith("postgresql"):
        return lambda: None
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            backend = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            # While the connection is open: its backend ends with it.
            postmaster = _parent_of(backend)
    finally:
        await engine.dispose()
    if postmaster is None:
        return lambda: None
    ticks = os.sysconf("SC_CLK_TCK")

    def used() -> float | None:
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # a process that ended meanwhile
            if int(fields[1]) == postmaster:
                total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / ticks

    return used


def _memory(stage: str) -> None:
    """With --memory: this process's resident memory and its peak (what a worker of the service holds,
    with this benchmark's own modules and the migration's alembic besides)."""
    if _REPORT_MEMORY:
        status = dict(
            line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line
        )
        rss, peak = (int(status[key].split()[0]) // 1024 for key in ("VmRSS", "VmHWM"))
        print(f"memory after {stage}: VmRSS {rss} MiB, VmHWM {peak} MiB")


def _log_as_the_service() -> None:
    """Logging as the service configures it at its default level (its JSON lines cost CPU too), into
    /dev/null."""
    configure(PostOfficeSettings.model_fields["log_level"].default)
    devnull = open(os.devnull, "w")  # noqa: SIM115 -- open for the whole run
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--database-url", help="a PostgreSQL server to create the database on")
    parser.add_argument("--sqlite", action="store_true", help="run on a SQLite file instead")
    parser.add_argument("--items", type=int, default=200, help="dossiers accepted before the scans")
    parser.add_argument("--scans", type=int, default=2000, help="scans per measured round")
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--memory", action="store_true", help="print this process's memory by stage")
    args = parser.parse_args(argv)
    global _REPORT_MEMORY
    _REPORT_MEMORY = args.memory
    _log_as_the_service()
    if args.sqlite or args.database_url:
        rounds = asyncio.run(_run(args, args.database_url))
    else:
        with throwaway_postgres() as server_url:
            rounds = asyncio.run(_run(args, server_url))
    backend = "sqlite" if args.sqlite else "postgresql"
    totals = [user + system for user, system in rounds]
    print(
        f"{backend}: CPU per transit scan {statistics.median(totals):.0f} µs (median of rounds: "
        + ", ".join(f"{user + system:.0f} = {user:.0f} user + {system:.0f} system" for user, system in rounds)
        + f"; {args.scans} scans each)"
    )
    if _SERVER_CPU:
        print(
            f"PostgreSQL's processes: {statistics.median(_SERVER_CPU):.0f} µs per scan (rounds: "
            + ", ".join(f"{c:.0f}" for c in _SERVER_CPU)
            + ")"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

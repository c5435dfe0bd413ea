"""CPU time of the tracker's projector per event: ``python -m bench.micro.projector [--events 200000]``.

Realistic events (bench.events) are decoded once before the clock, in the order a catch-up consumer
reads them (partition by partition), then applied batch by batch through the consumer's real path:
the inbox and the Projector in one transaction per batch (``BatchProcessor._apply_batch``), into a
fresh migrated database (``--database-url`` of a server's admin database; without it a throwaway
cluster is started with deploy/postgres/pg.sh under .work/micro-pg-<pid> and removed at the end). The
decoded events are kept out of the cyclic collector's walks (gc.freeze), as a consumer holds one batch
at a time. Decoding and the outbox relay are left out. Prints the CPU of this process per event (µs), and with
``--profile`` the top frames of cProfile; the wall time is shown but means little on a shared machine.
With ``--rebuild`` the Projector runs as one rebuild lane does (services.tracker.rebuild: no stage
changes, no dossier locks, the views kept in a write-back cache of ``--capacity`` and the rest written at
the end, inside the clock). PostgreSQL's CPU per event is printed too when its server runs on this host
(all the server's processes, as bench.scan_cpu reads them): run with the throwaway cluster for a figure
of this run alone.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import os
import pstats
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aiokafka.partitioner import DefaultPartitioner
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select, text

from bench import events as journeys
from bench.infra import drop_database, free_port, new_migrated_database
from bench.scan_cpu import _server_processes
from bench.tracker import TOPICS
from contracts.envelope import Envelope, decode
from contracts.events import Event
from services.shared.consuming import BatchProcessor, RawRecord
from services.shared.db.engine import make_engine
from services.tracker.adapters import repository
from services.tracker.adapters.tables import dossier, event
from services.tracker.app import agency_due_policy
from services.tracker.handlers import PhoneDigest, Projector
from services.tracker.metrics import TrackerMetrics
from services.tracker.rebuild import Lane
from services.tracker.settings import TrackerSettings
from services.tracker.write_back import WriteBackViews

ROOT = Path(__file__).resolve().parents[2]
PARTITIONS = {topic.name: topic.partitions for topic in TOPICS}
Batch = list[tuple[RawRecord, Envelope[Event]]]


@dataclass
class Result:
    events: int
    cpu_s: float
    wall_s: float
    stored_events: int
    dossiers: int
    server_cpu_s: float | None = None
    dossier_writes: int | None = None

    @property
    def cpu_us_per_event(self) -> float:
        return self.cpu_s / self.events * 1e6

    @property
    def server_us_per_event(self) -> float | None:
        return None if self.server_cpu_s is None else self.server_cpu_s / self.events * 1e6


def batches(events: int, size: int, by_time: bool = False) -> list[Batch]:
    """The decoded events cut into batches as a catch-up consumer reads them: partition by partition,
    the two topics' partitions of one number (the same dossiers) merged in publication order, as the
    tracker merges them by record time (services.shared.alignment). ``by_time``: every partition at
    once in publication order, as a rebuild lane reads its partitions (a dossier's journey then spans
    several batches, as in a real log)."""
    population = journeys.Population(journeys.dossiers_for(events))
    lanes: dict[int, Batch] = {}
    for offset, record in enumerate(population.records(events)):
        partition = DefaultPartitioner()(record.key, list(range(PARTITIONS[record.topic])), [])
        raw = RawRecord(record.topic, partition, offset, record.key, record.value)
        lanes.setdefault(partition, []).append((raw, decode(record.value, record.key)))
    ordered = [pair for _, pairs in sorted(lanes.items()) for pair in pairs]
    if by_time:
        ordered.sort(key=lambda pair: pair[0].offset)
    return [ordered[start : start + size] for start in range(0, len(ordered), size)]


async def measure(
    database_url: str, work: Sequence[Batch], profile: cProfile.Profile | None, capacity: int | None = None
) -> Result:
    """``capacity``: as a rebuild lane, with a write-back cache of that many views."""
    settings = TrackerSettings(database_url=database_url)
    engine = repository.tune(make_engine(database_url))
    metrics = TrackerMetrics(CollectorRegistry())
    views = None if capacity is None else WriteBackViews(capacity)
    projector = Projector(
        due=agency_due_policy(settings),
        digest=PhoneDigest(settings.phone_digest_keys()),
        metrics=metrics,
        publish_stage_changes=views is None,
        views=views,
    )

    async def nowhere(*_: object) -> None:
        raise AssertionError("the benchmark's events are valid")

    processor = BatchProcessor(
        consumer=f"micro-{uuid.uuid4().hex[:8]}",
        engine=engine,
        apply=projector,
        dead_letters=nowhere,
        metrics=metrics.consumer,
    )
    server = await _server_processes(database_url)
    try:
        async with engine.connect() as conn:  # the pool's first connection, outside the clock
            await conn.execute(select(1))
        server_before = server()
        cpu, wall = time.process_time(), time.monotonic()
        if profile is not None:
            profile.enable()
        for batch in work:
            await processor._apply_batch(batch)
        if views is not None:
            await Lane(processor, views, engine).write_back()
        if profile is not None:
            profile.disable()
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
        server_after = server()
        async with engine.connect() as conn:
            stored = await conn.scalar(select(func.count()).select_from(event))
            dossiers = await conn.scalar(select(func.count()).select_from(dossier))
    finally:
        await engine.dispose()
    writes = await _dossier_writes(database_url)
    server_cpu = None if server_before is None or server_after is None else server_after - server_before
    return Result(sum(map(len, work)), cpu, wall, stored or 0, dossiers or 0, server_cpu, writes)


async def _dossier_writes(database_url: str) -> int | None:
    """Rows inserted and updated in the dossier table (PostgreSQL's statistics, flushed by the run's
    backends as they ended): what the write-back cache saves."""
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            found = await conn.scalar(
                text(
                    "SELECT n_tup_ins + n_tup_upd FROM pg_stat_user_tables WHERE relname = 'tracker_dossier'"
                )
            )
            return None if found is None else int(found)
    finally:
        await engine.dispose()


def _pg(command: str, data: Path, port: int) -> str:
    script = ROOT / "deploy" / "postgres" / "pg.sh"
    done = subprocess.run(
        ["bash", str(script), command, str(data), str(port)], check=True, capture_output=True
    )
    return done.stdout.decode().strip()


async def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.micro.projector")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--database-url", help="an admin database URL (a fresh database is made beside it)")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top frames (slower)")
    parser.add_argument("--rebuild", action="store_true", help="as a rebuild lane (write-back cache)")
    parser.add_argument("--by-time", action="store_true", help="all partitions at once, in time order")
    parser.add_argument(
        "--capacity",
        type=int,
        default=TrackerSettings.model_fields["rebuild_cache_views"].default,
        help="views in the rebuild's cache",
    )
    options = parser.parse_args(argv)

    started = time.monotonic()
    work = batches(options.events, options.batch, options.by_time)
    # The decoded events stay alive for the whole run, a heap no consumer holds: frozen, the cyclic
    # collector does not walk them at every full collection (it would bill the projector for them).
    gc.collect()
    gc.freeze()
    print(f"{sum(map(len, work)):,} events decoded in {time.monotonic() - started:.1f} s", flush=True)

    data = ROOT / ".work" / f"micro-pg-{os.getpid()}"
    admin = options.database_url
    if admin is None:
        port = free_port()
        _pg("start", data, port)
        admin = _pg("url", data, port)
    try:
        database = await new_migrated_database(admin, "micro")
        try:
            profile = cProfile.Profile() if options.profile else None
            result = await measure(database, work, profile, options.capacity if options.rebuild else None)
        finally:
            await drop_database(admin, database)
    finally:
        if options.database_url is None:
            _pg("stop", data, 0)
            shutil.rmtree(data, ignore_errors=True)
    assert result.stored_events == result.events, result
    server = result.server_us_per_event
    print(
        f"projector{' (rebuild)' if options.rebuild else ''}: {result.events:,} events, "
        f"{result.dossiers:,} dossiers, batches of {options.batch}: "
        f"{result.cpu_us_per_event:.1f} µs CPU/event ({result.cpu_s:.2f} s CPU, {result.wall_s:.2f} s wall)"
        + ("" if server is None else f"; PostgreSQL {server:.1f} µs CPU/event")
        + ("" if result.dossier_writes is None else f"; {result.dossier_writes:,} dossier rows written")
    )
    if profile is not None:
        profile.dump_stats(ROOT / ".work" / "micro-projector.prof")  # for pstats' print_callees
        pstats.Stats(profile, stream=sys.stdout).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    asyncio.run(main())

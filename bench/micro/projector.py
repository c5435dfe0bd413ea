"""CPU time of the tracker's projector per event: ``python -m bench.micro.projector [--events 200000]``.

Realistic events (bench.events) are decoded once before the clock, in the order a catch-up consumer
reads them (partition by partition), then applied batch by batch through the consumer's real path:
the inbox and the Projector in one transaction per batch (``BatchProcessor._apply_batch``), into a
fresh migrated database (``--database-url`` of a server's admin database; without it a throwaway
cluster is started with deploy/postgres/pg.sh under .work/micro-pg-<pid> and removed at the end). The
decoded events are kept out of the cyclic collector's walks (gc.freeze), as a consumer holds one batch
at a time. Decoding and the outbox relay are left out. Prints the CPU of this process per event (µs), and with
``--profile`` the top frames of cProfile; the wall time is shown but means little on a shared machine.
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
from sqlalchemy import func, select

from bench import events as journeys
from bench.infra import drop_database, free_port, new_migrated_database
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
from services.tracker.settings import TrackerSettings

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

    @property
    def cpu_us_per_event(self) -> float:
        return self.cpu_s / self.events * 1e6


def batches(events: int, size: int) -> list[Batch]:
    """The decoded events cut into batches as a catch-up consumer reads them: partition by partition,
    the two topics' partitions of one number (the same dossiers) merged in publication order, as the
    tracker merges them by record time (services.shared.alignment)."""
    population = journeys.Population(journeys.dossiers_for(events))
    lanes: dict[int, Batch] = {}
    for offset, record in enumerate(population.records(events)):
        partition = DefaultPartitioner()(record.key, list(range(PARTITIONS[record.topic])), [])
        raw = RawRecord(record.topic, partition, offset, record.key, record.value)
        lanes.setdefault(partition, []).append((raw, decode(record.value, record.key)))
    ordered = [pair for _, pairs in sorted(lanes.items()) for pair in pairs]
    return [ordered[start : start + size] for start in range(0, len(ordered), size)]


async def measure(database_url: str, work: Sequence[Batch], profile: cProfile.Profile | None) -> Result:
    settings = TrackerSettings(database_url=database_url)
    engine = repository.tune(make_engine(database_url))
    metrics = TrackerMetrics(CollectorRegistry())
    projector = Projector(
        due=agency_due_policy(settings), digest=PhoneDigest(settings.phone_digest_keys()), metrics=metrics
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
    try:
        async with engine.connect() as conn:  # the pool's first connection, outside the clock
            await conn.execute(select(1))
        cpu, wall = time.process_time(), time.monotonic()
        if profile is not None:
            profile.enable()
        for batch in work:
            await processor._apply_batch(batch)
        if profile is not None:
            profile.disable()
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
        async with engine.connect() as conn:
            stored = await conn.scalar(select(func.count()).select_from(event))
            dossiers = await conn.scalar(select(func.count()).select_from(dossier))
    finally:
        await engine.dispose()
    return Result(sum(map(len, work)), cpu, wall, stored or 0, dossiers or 0)


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
    options = parser.parse_args(argv)

    started = time.monotonic()
    work = batches(options.events, options.batch)
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
            result = await measure(database, work, profile)
        finally:
            await drop_database(admin, database)
    finally:
        if options.database_url is None:
            _pg("stop", data, 0)
            shutil.rmtree(data, ignore_errors=True)
    assert result.stored_events == result.events, result
    print(
        f"projector: {result.events:,} events, {result.dossiers:,} dossiers, batches of {options.batch}: "
        f"{result.cpu_us_per_event:.1f} µs CPU/event ({result.cpu_s:.2f} s CPU, {result.wall_s:.2f} s wall)"
    )
    if profile is not None:
        profile.dump_stats(ROOT / ".work" / "micro-projector.prof")  # for pstats' print_callees
        pstats.Stats(profile, stream=sys.stdout).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    asyncio.run(main())

"""Intake latency of the post office API, and the time from a scan's 2xx to the tracker showing it.

The services run as they are deployed: ``python -m services.post_office`` (uvicorn on
``POST_OFFICE_WORKERS`` worker processes, the suite's ``--post-office-workers``; acks=all producer)
and, for scan-to-visible, ``python -m services.tracker serve`` (API, consumer group and outbox relay
in one process) on the same database. The load comes from ``python -m bench.load``
in a process of its own (see there for how latencies are measured).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from bench.infra import (
    Environment,
    Service,
    commit_group_at,
    end_offsets,
    free_port,
    issue_token,
    local_ready_url,
    new_migrated_database,
    service_env,
    start_service,
)
from bench.tracker import TOPICS, Say
from services.shared.auth import Role

OFFICE = "100000"


@dataclass
class LoadRun:
    load: dict[str, Any]
    services: dict[str, Service]
    load_peak_rss: int
    seconds: float


async def _drive(
    env: Environment, spec: dict[str, Any], services: dict[str, Service], name: str, say: Say
) -> LoadRun:
    spec_path = env.work_dir / f"{name}-spec.json"
    out_path = env.work_dir / f"{name}-result.json"
    spec_path.write_text(json.dumps(spec))
    started = time.monotonic()
    load = start_service(
        f"{name}-load", ["-m", "bench.load", str(spec_path), str(out_path)], {}, env.work_dir / "logs"
    )
    while load.alive():
        for service in services.values():
            service.check_alive()
        await asyncio.sleep(0.5)
        load.sample()
    code = await load.wait()
    if code != 0:
        raise RuntimeError(f"the load generator exited with {code}:\n{load.log_path.read_text()[-3000:]}")
    for service in services.values():
        service.sample()
    return LoadRun(json.loads(out_path.read_text()), services, load.peak_rss, time.monotonic() - started)


async def _post_office(env: Environment, database: str, workers: int) -> tuple[Service, int]:
    port = free_port()
    service = start_service(
        "post-office",
        ["-m", "services.post_office"],
        service_env(
            env, database, "post-office", POST_OFFICE_PORT=str(port), POST_OFFICE_WORKERS=str(workers)
        ),
        env.work_dir / "logs",
        ready_url=local_ready_url(port),
    )
    await service.ready()
    return service, port


async def intake(
    env: Environment,
    *,
    rate: float,
    duration_s: float,
    batches: int,
    batch_size: int,
    workers: int,
    say: Say,
) -> LoadRun:
    """The post office alone, on `workers` processes, under open-loop single scans, then batch uploads."""
    database = await new_migrated_database(env.admin_url, "intake")
    token = await issue_token(database, Role.POST_OFFICE, OFFICE, "clerk-bench")
    post_office, port = await _post_office(env, database, workers)
    try:
        spec = {
            "post_office_port": port,
            "post_office_token": token,
            "office": OFFICE,
            "items": 2000,
            "rate": rate,
            "duration_s": duration_s,
            "batches": batches,
            "batch_size": batch_size,
            "seed": 1,
        }
        say(
            f"  intake: {rate:.0f} scans/s for {duration_s:.0f} s, then {batches} batches of {batch_size}, "
            f"post office on {workers} worker{'s' if workers > 1 else ''}"
        )
        return await _drive(env, spec, {"post_office": post_office}, "intake", say)
    finally:
        await post_office.stop()


async def visible(env: Environment, *, rate: float, duration_s: float, workers: int, say: Say) -> LoadRun:
    """Post office and tracker on one database; scans at ``rate``, a sample of them looked up."""
    database = await new_migrated_database(env.admin_url, "visible")
    clerk = await issue_token(database, Role.POST_OFFICE, OFFICE, "clerk-bench")
    operator = await issue_token(database, Role.OPERATOR, None, "ops-bench")
    group = f"tracker-bench-visible-{uuid.uuid4().hex[:8]}"  # the tracker principal's group prefix
    # The topics hold the throughput benchmark's events: the tracker starts at their end.
    ends = await end_offsets(env.bootstrap, TOPICS, env.security)
    await commit_group_at(env.bootstrap, group, ends, env.security)
    tracker_port = free_port()
    tracker = start_service(
        "tracker-serve",
        ["-m", "services.tracker", "serve"],
        service_env(env, database, "tracker", TRACKER_PORT=str(tracker_port), TRACKER_CONSUMER_GROUP=group),
        env.work_dir / "logs",
        ready_url=local_ready_url(tracker_port),
    )
    post_office: Service | None = None
    try:
        await tracker.ready()
        post_office, port = await _post_office(env, database, workers)
        spec = {
            "post_office_port": port,
            "post_office_token": clerk,
            "office": OFFICE,
            "items": 2000,
            "rate": rate,
            "duration_s": duration_s,
            "batches": 0,
            "batch_size": 0,
            "tracker_port": tracker_port,
            "tracker_token": operator,
            "visible_every": 10,
            "poll_s": 0.02,
            "seed": 2,
        }
        say(f"  scan to visible: {rate:.0f} scans/s for {duration_s:.0f} s, every 10th looked up")
        return await _drive(env, spec, {"post_office": post_office, "tracker": tracker}, "visible", say)
    finally:
        if post_office is not None:
            await post_office.stop()
        await tracker.stop()

"""Tracker replicas join and leave one consumer group while events stream in. Each membership change is
made while a slice of the events is being published, and counts only once every member of the replicas
left running has a new assignment from its own rebalance callback (the `consumer_partitions_assigned`
lines each replica logs) and those assignments share out every partition; partitions change hands at
each one. Still no event is lost or applied twice, and each partition (so each dossier) is applied in log
order, event by event: the transactions that applied a partition's records (their inbox rows' xmin)
follow its offsets in contiguous runs, one after the other in time."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from contracts.enums import ServiceForm
from contracts.envelope import decode
from contracts.topics import AGENCY_EVENTS, POSTAL_EVENTS
from services.shared.db.engine import make_engine
from services.shared.kafka_groups import PARTITIONS_ASSIGNED
from services.tracker.adapters import repository
from services.tracker.app import build
from tests.fixtures.kafka import KafkaLogin
from tests.fixtures.kafka_groups import start_group_at_end
from tests.reliability.expected import compare_tracker, events_of
from tests.reliability.support import (
    Service,
    end_offsets,
    eventually,
    inbox_count,
    lag,
    publish,
    read_range,
    tracker_environment,
)
from tests.reliability.workload import workload
from tests.tracker.journeys import journey, new_dossier
from tests.tracker.support import settings_for

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

TOPICS = (POSTAL_EVENTS, AGENCY_EVENTS)
PARTITIONS = frozenset(f"{t.name}:{p}" for t in TOPICS for p in range(t.partitions))
EVENTS = 6000
CHUNK = 200

Owner = tuple[str, int]  # (replica, member within the replica)


def assignments(replica: Service, group: str) -> list[tuple[int, frozenset[str]]]:
    """Every assignment the replica's members received, in order: (member, partitions)."""
    if not replica.log.exists():
        return []
    found = []
    for line in replica.log.read_text(errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        if entry.get("event") == PARTITIONS_ASSIGNED and entry.get("group") == group:
            found.append((int(entry["member"]), frozenset(entry["partitions"])))
    return found


async def rebalanced(
    running: Sequence[Service], group: str, seen: dict[str, int], members: int
) -> dict[str, Owner]:
    """Waits for a rebalance among the `running` replicas, each with `members` members: every member
    got an assignment after the `seen` ones, and together the latest assignments own each partition
    once. Returns who owns each partition; `seen` moves on to the assignments counted."""
    owners: dict[str, Owner] = {}

    async def shared_out() -> bool:
        owners.clear()
        latest: dict[Owner, frozenset[str]] = {}
        for replica in running:
            await replica.check()
            new = assignments(replica, group)[seen.get(replica.name, 0) :]
            for member, partitions in new:
                latest[(replica.name, member)] = partitions
        if len(latest) != members * len(running):
            return False
        for owner, partitions in latest.items():
            for partition in partitions:
                if partition in owners:
                    return False  # a later rebalance is still under way
                owners[partition] = owner
        return set(owners) == PARTITIONS

    await eventually(shared_out, within=90, what=f"a rebalance among {[r.name for r in running]}")
    for replica in running:
        seen[replica.name] = len(assignments(replica, group))
    return dict(owners)


async def test_replicas_joining_and_leaving_under_load_lose_nothing_and_keep_each_dossiers_order(
    migrated_database: str, kafka_admin: KafkaLogin, tracker_kafka: KafkaLogin, tmp_path: Path, seed: int
) -> None:
    work = workload(seed, EVENTS)
    group = f"tracker-rebalance-{uuid.uuid4().hex[:8]}"
    start = await start_group_at_end(kafka_admin, group, TOPICS)
    members = 2
    env = tracker_environment(
        migrated_database,
        tracker_kafka,
        group,
        TRACKER_MAX_BATCH="200",
        TRACKER_CONSUMERS=str(members),
        LOG_LEVEL="INFO",  # the members' assignment callbacks log at INFO
    )
    replicas = [
        Service(f"tracker-{n}", ["-m", "services.tracker", "consume"], env, tmp_path / f"{n}.log")
        for n in "abc"
    ]
    a, b, c = replicas
    # Each join and each orderly leave is a rebalance of the group.
    plan = [("join", b), ("join", c), ("leave", a), ("leave", b), ("join", a)]
    size = -(-EVENTS // (len(plan) + 1))
    slices = [work.events[i : i + size] for i in range(0, EVENTS, size)]
    rounds: list[dict[str, Owner]] = []
    handovers: list[int] = []
    seen: dict[str, int] = {}
    try:
        await a.start()
        running = [a]
        rounds.append(await rebalanced(running, group, seen, members))
        for (action, replica), events in zip(plan, slices, strict=False):
            # The change is made while its slice is being published (and consumed).
            await publish(kafka_admin, events[:CHUNK])
            rest = asyncio.create_task(publish(kafka_admin, events[CHUNK:], chunk=CHUNK, pause_s=0.3))
            if action == "join":
                seen[replica.name] = len(assignments(replica, group))  # its earlier run's are spent
                await replica.start()
                running.append(replica)
            else:
                running.remove(replica)
                await replica.stop()
            rounds.append(await rebalanced(running, group, seen, members))
            await rest
            before, after = rounds[-2], rounds[-1]
            handovers.append(sum(1 for p in PARTITIONS if before[p][0] != after[p][0]))
        await publish(kafka_admin, slices[-1], chunk=CHUNK)
        ends = await end_offsets(kafka_admin, TOPICS)

        async def caught_up() -> bool:
            for replica in replicas:
                await replica.check()
            return await lag(kafka_admin, group, ends) == 0

        await eventually(caught_up, within=120, what="the group to catch up")
    finally:
        await asyncio.gather(*(r.stop() for r in replicas))

    assert len(rounds) == len(plan) + 1, "every intended rebalance happened"
    assert all(n > 0 for n in handovers), f"partitions changed hands at each rebalance: {handovers}"
    assert [sorted({o[0] for o in r.values()}) for r in rounds] == [
        ["tracker-a"],
        ["tracker-a", "tracker-b"],
        ["tracker-a", "tracker-b", "tracker-c"],
        ["tracker-b", "tracker-c"],
        ["tracker-c"],
        ["tracker-a", "tracker-c"],
    ], "each rebalance shared the partitions among the replicas then running"
    callbacks = sum(len(assignments(r, group)) for r in replicas)

    records = await read_range(kafka_admin, start, ends, lambda r: r.key is not None and r.key in work.keys)
    assert len(records) == EVENTS
    engine = make_engine(migrated_database)
    try:
        tracked = await compare_tracker(engine, events_of(records))
        assert (tracked.missing, tracked.unexpected) == ([], []), f"seed {seed}: events lost or invented"
        assert tracked.wrong_rows == [], (
            f"seed {seed}: dossier rows lost another replica's update, "
            f"e.g. {list(tracked.differences.items())[:1]}"
        )
        ids = {str(e.id) for e in work.events}
        assert await inbox_count(engine, group, ids) == EVENTS, "each event applied once"

        async with engine.connect() as conn:
            # xmin: the transaction that wrote the inbox row, i.e. the batch that applied the event.
            applied = {
                row.event_id: (int(row.tx), row.processed_at)
                for row in await conn.execute(
                    text(
                        "SELECT event_id, xmin::text AS tx, processed_at FROM processed_event "
                        "WHERE consumer = :group"
                    ),
                    {"group": group},
                )
            }
    finally:
        await engine.dispose()

    by_partition: dict[tuple[str, int], list[tuple[int, datetime]]] = defaultdict(list)
    for record in records:  # in offset order
        by_partition[(record.topic, record.partition)].append(
            applied[str(decode(record.value, record.key).id)]
        )
    out_of_order = {tp: why for tp, txs in by_partition.items() if (why := applied_in_order(txs))}
    assert out_of_order == {}, f"seed {seed}: records applied before earlier ones of their partition"
    print(
        f"rebalance: {EVENTS} events, 3 replicas × {members} members, {len(plan)} membership changes, "
        f"{len(rounds)} rebalances seen by the members' callbacks ({callbacks} assignments), partitions "
        f"changing replica per rebalance {handovers}, losses 0"
    )


def applied_in_order(txs: list[tuple[int, datetime]]) -> str | None:
    """Why a partition's records (in offset order, each with its applying transaction and time) were
    not applied in order, or None: each transaction applies one contiguous run of offsets, and each run
    is applied after the one before it."""
    runs: list[tuple[int, datetime]] = []
    for tx, at in txs:
        if runs and runs[-1][0] == tx:
            continue
        if any(tx == earlier for earlier, _ in runs):
            return f"transaction {tx} applied records on both sides of another transaction's"
        if runs and at <= runs[-1][1]:
            return f"transaction {tx} applied later records no later than {runs[-1][0]} applied earlier ones"
        runs.append((tx, at))
    return None


async def test_two_replicas_applying_one_dossiers_postal_and_agency_events_at_once_keep_both(
    migrated_database: str,
) -> None:
    tracker = build(settings_for(migrated_database), consume=False)
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    accepted, in_transit, handed_over, received = journey(dossier)[:4]
    try:
        async with tracker.engine.begin() as conn:
            await tracker.projector(conn, [accepted, in_transit])
        postal = await tracker.engine.connect()
        await postal.begin()
        await tracker.projector(postal, [handed_over])  # replica A, not committed yet
        replica_a = await postal.scalar(text("SELECT pg_backend_pid()"))

        async def replica_b() -> None:
            async with tracker.engine.begin() as conn:
                await tracker.projector(conn, [received])

        agency = asyncio.create_task(replica_b())

        async def b_waits_for_a() -> bool:
            # The race only happens if B is blocked on a lock A holds (the dossier's lock) when A commits.
            async with tracker.engine.connect() as conn:
                blocked = await conn.scalar(
                    text("SELECT count(*) FROM pg_stat_activity WHERE :a = ANY(pg_blocking_pids(pid))"),
                    {"a": replica_a},
                )
            assert not agency.done(), "replica B finished without waiting for replica A"
            return bool(blocked)

        await eventually(b_waits_for_a, within=30, what="replica B to wait for replica A's lock")
        await postal.commit()
        await postal.close()
        await asyncio.wait_for(agency, 30)
        async with tracker.engine.connect() as conn:
            row = await repository.get_dossier(conn, dossier.dossier_id)
    finally:
        await tracker.dispose()
    assert row is not None and row.event_count == 4, "the row folds all four events"
    assert row.stage == "RECEIVED"

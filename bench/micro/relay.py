"""CPU per stage change of the tracker's outbox relay: `python -m bench.micro.relay --bootstrap HOST:PORT
--admin-url postgresql+asyncpg://…/dossier [--events 20000] [--rounds 5]` (a PLAINTEXT broker from
`deploy/kafka/kafka.sh start`, a server from `deploy/postgres/pg.sh start`).

The outbox is filled once by the tracker's own projection of realistic events (bench/events.py), its
rows kept aside; each round puts them back and times, in CPU of this process (time.process_time: the
relay, SQLAlchemy/asyncpg and aiokafka's producer all run here), the relay draining them to the broker
with acks=all. Not a test and not part of `python -m bench`: for A/B comparisons of the relay's code,
run alternately against two checkouts.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
import uuid
from typing import Any

from sqlalchemy import insert, select

from bench.events import Population, dossiers_for
from bench.infra import SECRET, drop_database, new_migrated_database
from contracts.topics import all_topics
from services.shared.consuming import RawRecord
from services.shared.kafka_admin import create_topics, wait_for_broker
from services.tracker.adapters.tables import outbox
from services.tracker.app import build, run
from services.tracker.settings import TrackerSettings


async def main(bootstrap: str, admin_url: str, events: int, rounds: int) -> None:
    await wait_for_broker(bootstrap)
    await create_topics(bootstrap, all_topics())
    url = await new_migrated_database(admin_url, "relay_micro")
    settings = TrackerSettings.model_validate(
        {
            "DATABASE_URL": url,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "DOSSIER_AUTH_SECRET": SECRET,
            "TRACKER_LOOKUP_KEY": "relay-micro-lookup-key-0123456789",
            "consumer_group": f"relay-micro-{uuid.uuid4().hex[:8]}",
        }
    )
    tracker = build(settings, consume=False)
    try:
        population = Population(dossiers_for(events), first=uuid.uuid4().int % 10**7)
        batch: list[RawRecord] = []
        for offset, record in enumerate(population.records(events)):
            batch.append(RawRecord(record.topic, 0, offset, record.key, record.value))
            if len(batch) == settings.max_batch:
                await tracker.processor.process(batch)
                batch = []
        if batch:
            await tracker.processor.process(batch)
        async with tracker.engine.connect() as conn:
            rows: list[dict[str, Any]] = [
                dict(row._mapping) for row in await conn.execute(select(outbox).order_by(outbox.c.seq))
            ]
        async with tracker.engine.begin() as conn:
            await conn.execute(outbox.delete())
        print(f"{len(rows):,} stage changes of {events:,} events")
        # The rows kept aside are not the relay's: the collector need not walk them in every round.
        gc.collect()
        gc.freeze()
        await tracker.broker.connect()  # the producer only: no consumer group beside the relay
        per_row = []
        for round_ in range(rounds):
            async with tracker.engine.begin() as conn:
                await conn.execute(insert(outbox), [{k: v for k, v in r.items() if k != "seq"} for r in rows])
            cpu, wall = time.process_time(), time.perf_counter()
            while await tracker.relay.drain_once():
                pass
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            per_row.append(cpu / len(rows) * 1e6)
            print(
                f"round {round_ + 1}: {cpu / len(rows) * 1e6:6.1f} µs CPU per stage change "
                f"({wall:.2f} s wall)"
            )
        print(f"median {statistics.median(per_row):.1f} µs CPU per stage change")
        await tracker.broker.stop()
    finally:
        await tracker.dispose()
        await drop_database(admin_url, url)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--admin-url", required=True)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--outbox-batch-bytes", type=int, help="TRACKER_OUTBOX_BATCH_BYTES (default: its default)"
    )
    args = parser.parse_args()
    # On uvloop, as the tracker runs (services.tracker.app.run).
    run(main(args.bootstrap, args.admin_url, args.events, args.rounds))

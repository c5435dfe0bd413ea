"""Peak RSS of `python -m services.tracker consume` projecting a backlog: `python -m bench.micro.memory
--bootstrap HOST:PORT --admin-url postgresql+asyncpg://…/dossier [--events 50000] [--no-fill]
[ENV=VALUE …]` (a PLAINTEXT broker from `deploy/kafka/kafka.sh start`, a server from
`deploy/postgres/pg.sh start`; ENV=VALUE pairs go to the tracker, e.g. TRACKER_CONSUMERS=1).

The tracker benchmark's own run (bench/tracker.py: the realistic events, the tracker's process from
the start of the backlog to its end, its VmHWM sampled) on a broker of one's own and smaller, so that
settings can be compared without the whole suite. Each run fills the topics with `--events`
more, unless --no-fill: then it projects the last fill's events again (the same backlog).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid

from aiokafka import TopicPartition

from bench.events import Population, dossiers_for
from bench.infra import ROOT, Environment, end_offsets
from bench.tracker import fill, tracker_throughput
from contracts.topics import all_topics
from services.shared.kafka_admin import create_topics, wait_for_broker
from services.tracker.consumers import TOPICS


async def main(bootstrap: str, admin_url: str, events: int, refill: bool, extra: dict[str, str]) -> None:
    await wait_for_broker(bootstrap)
    await create_topics(bootstrap, all_topics())
    env = Environment(bootstrap, admin_url, ROOT / ".work" / "micro")
    (env.work_dir / "logs").mkdir(parents=True, exist_ok=True)
    saved = env.work_dir / "memory-backlog.json"
    if refill:
        before = await end_offsets(bootstrap, TOPICS)
        await fill(bootstrap, Population(dossiers_for(events), first=uuid.uuid4().int % 10**7), events, print)
        saved.write_text(json.dumps({f"{tp.topic}:{tp.partition}": offset for tp, offset in before.items()}))
    # The backlog of the last fill, from the offsets before it.
    starts = {}
    for name, offset in json.loads(saved.read_text()).items():
        topic, _, partition = name.rpartition(":")
        starts[TopicPartition(topic, int(partition))] = offset
    ends = await end_offsets(bootstrap, TOPICS)
    expected = sum(end - starts[tp] for tp, end in ends.items())
    result = await tracker_throughput(env, starts, expected, print, extra_env=extra)
    cpu_us = result.cpu_seconds / result.events * 1e6
    print(
        f"{result.events:,} events in {result.seconds:.1f} s, {cpu_us:.0f} µs CPU each; "
        f"peak RSS {result.peak_rss / 2**20:.0f} MiB "
        f"({' '.join(f'{k}={v}' for k, v in extra.items()) or 'defaults'})"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--admin-url", required=True)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--fill", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("env", nargs="*", help="ENV=VALUE for the tracker's process")
    args = parser.parse_args()
    extra = dict(pair.split("=", 1) for pair in args.env)
    asyncio.run(main(args.bootstrap, args.admin_url, args.events, args.fill, extra))

"""Consumer lag per group and topic: end offsets minus the group's committed offsets.

Generic over groups (any service's group can be watched); a candidate for services/shared. A partition
the group has not committed yet counts from the log start, as `auto_offset_reset="earliest"` reads it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.shared.logs import log_event

logger = logging.getLogger(__name__)


@dataclass
class LagReading:
    taken_at: float = 0.0
    lag: dict[tuple[str, str], int] = field(default_factory=dict)  # (group, topic) → records


class ConsumerLagMonitor:
    def __init__(self, bootstrap_servers: str, groups: Mapping[str, Sequence[str]], client_id: str) -> None:
        """groups: consumer group → the topics it consumes."""
        self._bootstrap = bootstrap_servers
        self._groups = groups
        self._client_id = client_id
        self.current = LagReading()
        self.failures = 0

    async def measure(self) -> LagReading:
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, client_id=self._client_id)
        consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, client_id=self._client_id)
        await admin.start()
        await consumer.start()
        try:
            topics = sorted({t for ts in self._groups.values() for t in ts})
            described = await admin.describe_topics(topics)
            partitions = [
                TopicPartition(d["topic"], p["partition"])
                for d in described
                if not d["error_code"]
                for p in d["partitions"]
            ]
            ends = await consumer.end_offsets(partitions)
            starts = await consumer.beginning_offsets(partitions)
            lag: dict[tuple[str, str], int] = {}
            for group, group_topics in sorted(self._groups.items()):
                committed = await admin.list_consumer_group_offsets(group)
                for tp in partitions:
                    if tp.topic not in group_topics:
                        continue
                    meta = committed.get(tp)
                    position = meta.offset if meta is not None and meta.offset >= 0 else starts[tp]
                    lag[(group, tp.topic)] = lag.get((group, tp.topic), 0) + max(0, ends[tp] - position)
        finally:
            await consumer.stop()
            await admin.close()
        loop = asyncio.get_running_loop()
        return LagReading(taken_at=loop.time(), lag=lag)

    async def run(self, interval_s: float) -> None:
        while True:
            try:
                self.current = await self.measure()
            except Exception as exc:
                self.failures += 1
                log_event(logger, "consumer_lag_unavailable", logging.WARNING, error=type(exc).__name__)
            await asyncio.sleep(interval_s)

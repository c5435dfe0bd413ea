"""Consumer lag per group and topic, as services/shared/consumer_lag defines it, measured every interval
for the `dossier_consumer_lag_records` metric. Generic over groups (any service's group can be watched).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from services.shared.consumer_lag import consumer_lag
from services.shared.kafka_security import PLAINTEXT, KafkaSecurity
from services.shared.logs import log_event

logger = logging.getLogger(__name__)


@dataclass
class LagReading:
    taken_at: float = 0.0
    lag: dict[tuple[str, str], int] = field(default_factory=dict)  # (group, topic) → records


class ConsumerLagMonitor:
    def __init__(
        self,
        bootstrap_servers: str,
        groups: Mapping[str, Sequence[str]],
        client_id: str,
        security: KafkaSecurity = PLAINTEXT,
    ) -> None:
        """groups: consumer group → the topics it consumes."""
        self._bootstrap = bootstrap_servers
        self._security = security
        self._groups = groups
        self._client_id = client_id
        self.current = LagReading()
        self.failures = 0

    async def measure(self) -> LagReading:
        by_partition = await consumer_lag(self._bootstrap, self._groups, self._client_id, self._security)
        lag: dict[tuple[str, str], int] = {}
        for group, partitions in by_partition.items():
            for tp, records in partitions.items():
                lag[(group, tp.topic)] = lag.get((group, tp.topic), 0) + records
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

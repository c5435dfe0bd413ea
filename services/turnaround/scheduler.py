"""The scheduler: a tick every few seconds raises due alerts; the outbox relay publishes them.

Every replica runs both loops. Alerts are exactly once whatever the number of replicas (the unique
alert key decides), and the relay skips rows another replica is publishing. The time source is injected
(`now`), so tests set the day the clocks are judged on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from services.shared.logs import log_event
from services.turnaround.handlers import AlertRaiser, OutboxRelay
from services.turnaround.metrics import TurnaroundMetrics

logger = logging.getLogger(__name__)


class Scheduler:
    def __init__(
        self,
        raiser: AlertRaiser,
        relay: OutboxRelay,
        metrics: TurnaroundMetrics,
        *,
        tick_interval_s: float,
        relay_interval_s: float,
    ) -> None:
        self._raiser = raiser
        self._relay = relay
        self._metrics = metrics
        self._tick_interval_s = tick_interval_s
        self._relay_interval_s = relay_interval_s
        self._wake_relay = asyncio.Event()

    async def tick(self) -> int:
        try:
            raised = await self._raiser.tick()
        except Exception as exc:
            self._metrics.ticks.labels("failed").inc()
            log_event(logger, "scheduler_tick_failed", logging.WARNING, error=type(exc).__name__)
            return 0
        self._metrics.ticks.labels("ok").inc()
        if raised:
            self._wake_relay.set()
        return raised

    async def run_ticks(self) -> None:
        while True:
            await self.tick()
            await asyncio.sleep(self._tick_interval_s)

    async def run_relay(self) -> None:
        while True:
            try:
                await self._relay.publish_pending()
            except Exception as exc:  # the broker or the database is away; the rows wait
                log_event(logger, "outbox_publish_failed", logging.WARNING, error=type(exc).__name__)
            self._wake_relay.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_relay.wait(), self._relay_interval_s)

"""The closure job: every few seconds, close the dossiers whose supplement never came.

Every replica runs it; `AgencyDesk.close_due` makes each closure happen once whatever the number of
replicas and restarts. The interval and the clock (the desk's) are injected, so tests choose the day.
"""

from __future__ import annotations

import asyncio
import logging

from services.agency.handlers import AgencyDesk
from services.agency.metrics import AgencyMetrics
from services.shared.logs import log_event

logger = logging.getLogger(__name__)


class ClosureJob:
    def __init__(self, desk: AgencyDesk, metrics: AgencyMetrics, *, interval_s: float) -> None:
        self._desk = desk
        self._metrics = metrics
        self._interval_s = interval_s

    async def run_once(self) -> int:
        """One run; how many dossiers this replica closed (0 after a failure, retried next run)."""
        try:
            closed = await self._desk.close_due()
        except Exception as exc:  # the broker or the database is away: nothing recorded, next run retries
            self._metrics.closure_runs.labels("failed").inc()
            log_event(logger, "closure_run_failed", logging.WARNING, error=type(exc).__name__)
            return 0
        self._metrics.closure_runs.labels("ok").inc()
        return closed

    async def run(self) -> None:
        while True:
            try:
                scheduled = await self._desk.schedule_closures()
            except Exception as exc:  # the database is away: try again after an interval
                log_event(logger, "closure_scheduling_failed", logging.WARNING, error=type(exc).__name__)
                await asyncio.sleep(self._interval_s)
                continue
            if scheduled:
                log_event(logger, "closures_scheduled", count=scheduled)
            break
        while True:
            await self.run_once()
            await asyncio.sleep(self._interval_s)

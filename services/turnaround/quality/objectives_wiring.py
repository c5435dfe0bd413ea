"""Wires the quality objectives into the turnaround app: one call from app.create_app.

The objectives file is read here, when the app is created, so a malformed file stops the service's start
with ObjectivesError naming the objective and the field. The metrics are refreshed by a task that lives
as long as the app (the router's lifespan, which FastAPI runs inside the app's own, after the service
has started).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Protocol

from fastapi import APIRouter, FastAPI
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from services.turnaround.quality import objectives_api
from services.turnaround.quality.objective_metrics import ObjectiveMetrics
from services.turnaround.quality.objectives import load_objectives
from services.turnaround.settings import TurnaroundSettings


class Wired(Protocol):
    """What install needs of app.Turnaround (a protocol: app imports this module, not the reverse)."""

    @property
    def settings(self) -> TurnaroundSettings: ...
    @property
    def engine(self) -> AsyncEngine: ...
    @property
    def registry(self) -> CollectorRegistry: ...


def install(app: FastAPI, service: Wired, now: Callable[[], datetime]) -> ObjectiveMetrics:
    settings = service.settings
    objectives = load_objectives(settings.objectives_file)
    metrics = ObjectiveMetrics(service.engine, objectives, now)
    service.registry.register(metrics)
    app.state.objectives = objectives
    app.state.quality_now = now
    app.state.objective_metrics = metrics

    @contextlib.asynccontextmanager
    async def refreshing(_: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(metrics.run(settings.objectives_refresh_s), name="objective-metrics")
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    router = APIRouter(lifespan=refreshing)
    router.include_router(objectives_api.router)
    app.include_router(router)
    return metrics

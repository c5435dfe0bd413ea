"""The two readiness checks every service's /ready runs, one definition for all of them: its database
answers a query, and its Kafka broker answers and accepts the service's login.

Each returns None when ready, or a short reason naming only the kind of failure (never a connection
string or a host). Both are bounded (2 s), so a /ready probe answers in time when a dependency hangs.
"""

from __future__ import annotations

import asyncio

from faststream.kafka import KafkaBroker
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.shared.kafka_authorisation import kafka_refusals

TIMEOUT_S = 2.0


async def database_not_ready(engine: AsyncEngine | None) -> str | None:
    if engine is None:
        return "not started"
    try:
        async with asyncio.timeout(TIMEOUT_S), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means not ready; the reason names its kind only
        return f"database unreachable ({type(exc).__name__})"
    return None


async def kafka_not_ready(broker: KafkaBroker | None) -> str | None:
    if broker is None:
        return "not started"
    if (refused := kafka_refusals(broker).not_ready()) is not None:
        return refused  # the broker answers, but refuses this service's principal
    return None if await broker.ping(timeout=TIMEOUT_S) else "Kafka unreachable"

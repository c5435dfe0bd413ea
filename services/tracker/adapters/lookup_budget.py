"""Budgets of failed public lookups, held in the database so that every replica, and a restarted one,
draws on the same budget.

Each budget is a counter in a fixed window: the first attempt opens a window of ``window_s`` seconds, at
most ``allowed`` failed lookups fit in it, and a budget used up stays used up until its window ends,
whatever else arrives (nothing evicts a live row). An attempt reserves one unit of every budget it
concerns in a single ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` (PostgreSQL and SQLite alike),
so concurrent attempts on several replicas cannot all pass a check made before any of them counted;
an attempt that is refused, or that finds its dossier, gives its units back. Keys are stored only as an
HMAC of their name (client addresses and references are not kept). Rows whose window ended are deleted
in bounded batches as lookups go: at least every ``sweep_every_s`` seconds, and after every
``sweep_after`` attempts, each sweep deleting up to ``sweep_batch`` rows — more than those attempts can
have created — so the table holds about the rows of one window.

Windows are read from the replicas' wall clocks (NTP keeps them within far less than a window).
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.tracker.adapters.tables import lookup_budget as budget

MAX_KEYS_PER_ATTEMPT = 32
"""A client, and the dossiers a reference leads to (the lookup reads at most 20) or the reference."""


@dataclass(frozen=True)
class Reservation:
    """The units one attempt reserved: (key, the end of the window it was reserved in)."""

    units: tuple[tuple[str, int], ...]
    retry_after: int | None
    """Seconds until every exhausted budget's window ends, when one is exhausted; else None."""


class LookupBudget:
    def __init__(
        self,
        engine: AsyncEngine,
        key: bytes,
        *,
        allowed: int,
        window_s: float,
        clock: Callable[[], datetime],
        sweep_every_s: float = 60.0,
        sweep_after: int = 500,
        sweep_batch: int = 2000,
    ) -> None:
        self._engine = engine
        self._key = key
        self._allowed = allowed
        self._window_ms = max(1, round(window_s * 1000))
        self._clock = clock
        self._sweep_every_ms = round(sweep_every_s * 1000)
        self._sweep_after = sweep_after
        # Twice what ``sweep_after`` attempts of a client and one dossier (two budgets each) can create.
        self._sweep_batch = sweep_batch
        self._next_sweep_ms = 0
        self._since_sweep = 0

    def _now_ms(self) -> int:
        return math.floor(self._clock().timestamp() * 1000)

    def _digest(self, name: str) -> str:
        return hmac.new(self._key, name.encode(), hashlib.sha256).hexdigest()

    async def reserve(self, names: Sequence[str]) -> Reservation:
        """One unit of each named budget; ``retry_after`` is set when any of them was already used up."""
        keys = sorted({self._digest(name) for name in names})  # one lock order for every replica
        if not keys or len(keys) > MAX_KEYS_PER_ATTEMPT:
            raise ValueError(f"an attempt concerns 1 to {MAX_KEYS_PER_ATTEMPT} budgets, not {len(keys)}")
        now = self._now_ms()
        await self._sweep_if_due(now)
        async with self._engine.begin() as conn:
            rows = list(await conn.execute(self._spend(conn, now, keys)))
        waits = [row.window_ends_ms - now for row in rows if row.used > self._allowed]
        return Reservation(
            units=tuple((row.key, row.window_ends_ms) for row in rows),
            retry_after=max(1, math.ceil(max(waits) / 1000)) if waits else None,
        )

    def _spend(self, conn: AsyncConnection, now: int, keys: Sequence[str]) -> Any:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(budget).values(
            [{"key": key, "window_ends_ms": now + self._window_ms, "used": 1} for key in keys]
        )
        ended = budget.c.window_ends_ms <= now
        window_ends = insert.excluded.window_ends_ms
        # Both SET expressions read the row as it was: a window that ended starts afresh at this attempt.
        return insert.on_conflict_do_update(
            index_elements=[budget.c.key],
            set_={
                "used": case((ended, 1), else_=budget.c.used + 1),
                "window_ends_ms": case((ended, window_ends), else_=budget.c.window_ends_ms),
            },
        ).returning(budget.c.key, budget.c.used, budget.c.window_ends_ms)

    async def give_back(self, reservation: Reservation) -> None:
        """Return the units of an attempt that failed no lookup (refused, or found its dossier)."""
        statement = (
            update(budget)
            .where(
                and_(
                    budget.c.key == bindparam("k"),
                    budget.c.window_ends_ms == bindparam("ends"),
                    budget.c.used > 0,
                )
            )
            .values(used=budget.c.used - 1)
        )
        async with self._engine.begin() as conn:
            # In key order, like the reservation: concurrent attempts lock their rows in one order.
            units = sorted(reservation.units)
            await conn.execute(statement, [{"k": key, "ends": ends} for key, ends in units])

    async def _sweep_if_due(self, now: int) -> None:
        self._since_sweep += 1
        if now < self._next_sweep_ms and self._since_sweep < self._sweep_after:
            return
        self._next_sweep_ms = now + self._sweep_every_ms
        self._since_sweep = 0
        await self.sweep(now)

    async def sweep(self, now: int | None = None) -> int:
        """Delete up to ``sweep_batch`` budgets whose window ended; returns how many."""
        at = self._now_ms() if now is None else now
        ended = select(budget.c.key).where(budget.c.window_ends_ms <= at).limit(self._sweep_batch)
        # The outer condition is checked again on a row another replica renewed meanwhile: kept.
        statement = delete(budget).where(budget.c.key.in_(ended), budget.c.window_ends_ms <= at)
        async with self._engine.begin() as conn:
            result = await conn.execute(statement)
        return int(result.rowcount or 0)

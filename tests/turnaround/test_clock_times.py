"""A clock's times keep their instant through the store, SQLite included (the local run): SQLite keeps
no offset, so a time stored as it came (+07:00) would be read back naive and answered 7 hours off, or
not answered at all."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

from contracts.enums import Leg
from services.shared.db.engine import make_engine
from services.turnaround.adapters import repository
from services.turnaround.adapters.tables import clock
from services.turnaround.domain import Clock, ClockState, Timeliness

VIETNAM = timezone(timedelta(hours=7))


async def test_a_clock_read_back_from_sqlite_has_the_instants_it_was_stored_with(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'clocks.db'}")
    dossier_id = str(uuid.uuid4())
    started = datetime(2025, 3, 14, 9, 30, tzinfo=VIETNAM)
    finished = datetime(2025, 3, 17, 16, 0, tzinfo=VIETNAM)
    stored = Clock(
        leg=Leg.INBOUND_POSTAL,
        generation=1,
        state=ClockState.FINISHED,
        started_at=started,
        start_day=date(2025, 3, 14),
        due_date=date(2025, 3, 18),
        province="01",
        field_key="civil_status",
        route="INTRA_PROVINCIAL",
        finished_at=finished,
        finished_day=date(2025, 3, 17),
        working_days=1,
        timeliness=Timeliness.EARLY,
    )
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda sync: clock.create(sync))
            await repository.upsert_clocks(conn, [(dossier_id, stored)], datetime.now(UTC))
        async with engine.connect() as conn:
            [read] = await repository.clocks_of_dossier(conn, dossier_id)
    finally:
        await engine.dispose()

    assert read.started_at.utcoffset() is not None and read.started_at == started
    assert read.finished_at is not None and read.finished_at.utcoffset() is not None
    assert read.finished_at == finished

"""The vault's times keep their instant and their zone on SQLite too (the local run's database), which
stores only the wall time it is given and reads it back without a zone."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import MetaData

from contracts.values import VIETNAM_OFFSET
from services.shared.db.engine import make_engine
from services.shared.personal_data.audit import reads, record_read
from services.shared.personal_data.tables import vault_tables


async def test_a_read_recorded_in_vietnam_time_reads_back_as_the_same_instant_with_a_zone_on_sqlite(
    tmp_path: Path,
) -> None:
    schema = MetaData()
    tables = vault_tables("times", schema)
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'vault.db'}")
    at = datetime(2026, 3, 2, 9, 30, tzinfo=VIETNAM_OFFSET)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(schema.create_all)
            await record_read(
                conn, tables, dossier_id="d-1", purpose="notifications", reader="op", role="operator", at=at
            )
        async with engine.connect() as conn:
            (read,) = await reads(conn, tables, None, 10)
    finally:
        await engine.dispose()
    assert read.read_at == at
    assert read.read_at.tzinfo is not None
    assert read.read_at == datetime(2026, 3, 2, 2, 30, tzinfo=UTC)


async def test_a_time_without_its_zone_is_refused_rather_than_guessed(tmp_path: Path) -> None:
    schema = MetaData()
    tables = vault_tables("naive", schema)
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'vault.db'}")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(schema.create_all)
        with pytest.raises(Exception, match="without its zone"):
            async with engine.begin() as conn:
                await record_read(
                    conn,
                    tables,
                    dossier_id="d-1",
                    purpose="notifications",
                    reader="op",
                    role="operator",
                    at=datetime(2026, 3, 2, 9, 30),
                )
    finally:
        await engine.dispose()

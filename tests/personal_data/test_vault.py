"""The vault on a real database (SQLite here; the services' tests use PostgreSQL): store, read, erase,
find a person's records by phone or ID number, rotate the KEK while readers use both keys."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import MetaData, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services.agency.adapters.tables import personal_data_tables
from services.shared.db import migrate
from services.shared.db.engine import make_engine
from services.shared.personal_data.index import BlindIndex
from services.shared.personal_data.keys import Keyring, UnknownKeyIdError
from services.shared.personal_data.tables import VaultTables, vault_tables
from services.shared.personal_data.vault import Erased, Held, Rotation, Unopened, Vault

AT = datetime(2026, 3, 14, 2, 30, tzinfo=UTC)
CONTACT = {"name": "Trần Thị Bình", "phone": "0912345678", "address": {"line": "12 Phố Huế"}}


def ring(*kids: str) -> Keyring:
    return Keyring.parse(",".join(f"{kid}:{base64.b64encode(os.urandom(32)).decode()}" for kid in kids))


@pytest.fixture
async def database() -> AsyncIterator[tuple[AsyncEngine, VaultTables]]:
    engine = create_async_engine("sqlite+aiosqlite://")
    metadata = MetaData()
    tables = vault_tables("test", on=metadata)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine, tables
    await engine.dispose()


async def _store(engine: AsyncEngine, vault: Vault, dossier: str, *, phone: str = "0912345678") -> None:
    async with engine.begin() as conn:
        await vault.store(
            conn,
            dossier_id=dossier,
            kind="applicant",
            purposes=["result_delivery"],
            data={**CONTACT, "phone": phone},
            collected_at=AT,
            phone=phone,
            id_number="079123456789",
        )


async def test_a_stored_record_reads_back_and_nothing_readable_is_in_the_row(
    database: tuple[AsyncEngine, VaultTables],
) -> None:
    engine, tables = database
    vault = Vault(tables, ring("k1"), BlindIndex(os.urandom(32)))
    dossier = str(uuid.uuid4())
    await _store(engine, vault, dossier)
    async with engine.connect() as conn:
        held = await vault.read(conn, dossier, "applicant")
        row = (await conn.execute(select(tables.records))).one()
        assert await vault.read(conn, dossier, "delivery_address") is None
    assert isinstance(held, Held) and held.data == CONTACT and held.purposes == ("result_delivery",)
    assert all("Bình" not in str(value) and "0912345678" not in str(value) for value in row)


async def test_an_erased_record_reads_as_erased_and_keeps_no_key_nor_index(
    database: tuple[AsyncEngine, VaultTables],
) -> None:
    engine, tables = database
    vault = Vault(tables, ring("k1"), BlindIndex(os.urandom(32)))
    dossier = str(uuid.uuid4())
    await _store(engine, vault, dossier)
    async with engine.begin() as conn:
        assert await vault.erase(conn, dossier, "citizen request", AT) == 1
        assert await vault.erase(conn, dossier, "again", AT) == 0  # idempotent
    async with engine.connect() as conn:
        erased = await vault.read(conn, dossier, "applicant")
        assert isinstance(erased, Erased) and (erased.kind, erased.reason) == ("applicant", "citizen request")
        row = (await conn.execute(select(tables.records))).one()
        assert (row.sealed, row.wrapped_key, row.kid, row.phone_index, row.id_number_index) == (None,) * 5
        assert await vault.find_by_phone(conn, "0912345678") == []


async def test_a_persons_records_are_found_by_phone_or_id_number_without_opening_others(
    database: tuple[AsyncEngine, VaultTables],
) -> None:
    engine, tables = database
    vault = Vault(tables, ring("k1"), BlindIndex(os.urandom(32)))
    mine, other = str(uuid.uuid4()), str(uuid.uuid4())
    await _store(engine, vault, mine)
    await _store(engine, vault, other, phone="0987654321")
    async with engine.connect() as conn:
        by_phone = await vault.find_by_phone(conn, "+84 912 345 678")
        by_id = await vault.find_by_id_number(conn, "079123456789")
    assert [h.dossier_id for h in by_phone] == [mine]
    assert sorted(h.dossier_id for h in by_id) == sorted([mine, other])


async def test_rotation_rewraps_every_data_key_while_readers_use_either_key(
    database: tuple[AsyncEngine, VaultTables],
) -> None:
    engine, tables = database
    index = BlindIndex(os.urandom(32))
    old = ring("k2026a")
    dossiers = [str(uuid.uuid4()) for _ in range(7)]
    for dossier in dossiers:
        await _store(engine, Vault(tables, old, index), dossier)
    both = Keyring((("k2026b", os.urandom(32)), *old.keys))
    rotating = Vault(tables, both, index)
    await _store(engine, rotating, str(uuid.uuid4()))  # a new record is wrapped by the new key at once
    assert (await rotating.rotate(engine, batch=3)) == Rotation(rewrapped=7, unknown=0, remaining=0)
    async with engine.connect() as conn:
        kids = set((await conn.execute(select(tables.records.c.kid))).scalars())
        assert kids == {"k2026b"}
        only_new = Vault(tables, Keyring(both.keys[:1]), index)
        for dossier in dossiers:
            held = await only_new.read(conn, dossier, "applicant")
            assert isinstance(held, Held) and held.data == CONTACT
        # A reader still on the old ring alone cannot open them: that is what dropping the old key means.
        with pytest.raises(UnknownKeyIdError):
            await Vault(tables, old, index).read(conn, dossiers[0], "applicant")


@pytest.mark.timeout(30)
async def test_rotation_names_the_records_whose_data_key_does_not_unwrap_and_rotates_the_others(
    database: tuple[AsyncEngine, VaultTables],
) -> None:
    """More broken records than a batch holds: each is named once, none is read again, the others move."""
    engine, tables = database
    index = BlindIndex(os.urandom(32))
    old = ring("k2026a")
    broken = sorted(f"0-{uuid.uuid4()}" for _ in range(3))  # sorted first: the first batches are all broken
    fine = sorted(f"1-{uuid.uuid4()}" for _ in range(2))
    for dossier in [*broken, *fine]:
        await _store(engine, Vault(tables, old, index), dossier)
    async with engine.begin() as conn:
        await conn.execute(
            update(tables.records)
            .where(tables.records.c.dossier_id.in_(broken))
            .values(wrapped_key=bytes(40))
        )
    both = Keyring((("k2026b", os.urandom(32)), *old.keys))

    done = await Vault(tables, both, index).rotate(engine, batch=2)

    reason = "the data key does not unwrap under key 'k2026a'"
    assert done == Rotation(
        rewrapped=2, unknown=0, remaining=0, unopened=tuple(Unopened(d, "applicant", reason) for d in broken)
    )
    async with engine.connect() as conn:
        rows = await conn.execute(select(tables.records.c.dossier_id, tables.records.c.kid))
        kids = {row.dossier_id: row.kid for row in rows}
    assert kids == {**dict.fromkeys(broken, "k2026a"), **dict.fromkeys(fine, "k2026b")}


def test_the_operator_command_rotates_a_services_vault(tmp_path: Path) -> None:
    """python -m services.agency.personal_data rotate, on a migrated SQLite database, beside records under
    the old key: every one is re-wrapped and still opens with the new key alone."""
    database = f"sqlite+aiosqlite:///{tmp_path / 'agency.db'}"
    asyncio.run(migrate.upgrade_async(database))
    old = ring("k2026a")
    new_first = Keyring((("k2026b", os.urandom(32)), *old.keys))
    index = BlindIndex(os.urandom(32))
    dossier = str(uuid.uuid4())

    async def store() -> None:
        engine = make_engine(database)
        try:
            await _store(engine, Vault(personal_data_tables, old, index), dossier)
        finally:
            await engine.dispose()

    asyncio.run(store())
    environment = {
        **os.environ,
        "DATABASE_URL": database,
        "PERSONAL_DATA_KEYS": new_first.render(),
        "PERSONAL_DATA_INDEX_KEY": "vault-tests-index-key-0123456789",
    }
    done = subprocess.run(
        [sys.executable, "-m", "services.agency.personal_data", "rotate", "--batch", "2"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "re-wrapped 1 data key(s) under k2026b" in done.stdout

    async def read() -> object:
        engine = make_engine(database)
        try:
            async with engine.connect() as conn:
                return await Vault(personal_data_tables, Keyring(new_first.keys[:1]), index).read(
                    conn, dossier, "applicant"
                )
        finally:
            await engine.dispose()

    held = asyncio.run(read())
    assert isinstance(held, Held) and held.data == CONTACT

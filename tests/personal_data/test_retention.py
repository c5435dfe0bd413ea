"""Retention per purpose: each record knows the date each of its purposes ends (stored when the fact that
ends it happens), and the records whose every purpose has ended are erased once, whatever the replicas."""

from __future__ import annotations

import asyncio
import base64
import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from services.post_office.adapters.tables import personal_data_tables as tables
from services.shared.db.engine import make_engine
from services.shared.personal_data.index import BlindIndex
from services.shared.personal_data.keys import Keyring
from services.shared.personal_data.purposes import Purpose
from services.shared.personal_data.vault import Erased, Vault

AT = datetime(2026, 3, 14, 2, 30, tzinfo=UTC)
DELIVERED = AT + timedelta(days=10)

pytestmark = pytest.mark.postgres


def a_vault() -> Vault:
    ring = Keyring.parse(f"k1:{base64.b64encode(os.urandom(32)).decode()}")
    return Vault(tables, ring, BlindIndex(os.urandom(32)))


async def _store(url: str, vault: Vault, dossier: str, *purposes: Purpose) -> None:
    engine = make_engine(url)
    async with engine.begin() as conn:
        await vault.store(
            conn,
            dossier_id=dossier,
            kind="applicant",
            purposes=purposes,
            data={"name": "Trần Thị Bình", "phone": "0912345678"},
            collected_at=AT,
            phone="0912345678",
        )
    await engine.dispose()


async def test_a_record_is_held_until_its_last_purpose_ends(migrated_database: str) -> None:
    vault = a_vault()
    dossier = str(uuid.uuid4())
    await _store(migrated_database, vault, dossier, Purpose.NOTIFICATIONS, Purpose.RESULT_DELIVERY)
    engine = make_engine(migrated_database)
    try:
        async with engine.begin() as conn:
            assert (await vault.holding(conn, dossier))[0].held_until is None  # no purpose has ended yet
            await vault.end_purposes(
                conn,
                dossier,
                {
                    Purpose.RESULT_DELIVERY: DELIVERED,
                    Purpose.NOTIFICATIONS: DELIVERED + timedelta(days=7),
                    Purpose.DISPUTE: DELIVERED + timedelta(days=90),
                },
                adding=(Purpose.DISPUTE,),
            )
        async with engine.connect() as conn:
            (held,) = await vault.holding(conn, dossier)
            stored = (await conn.execute(select(tables.records.c.held_until))).scalar_one()
    finally:
        await engine.dispose()
    assert held.purposes == ("dispute", "notifications", "result_delivery")
    assert held.held_until == stored == DELIVERED + timedelta(days=90)
    assert held.purpose_ends["result_delivery"] == DELIVERED


async def test_the_job_erases_exactly_the_expired_records_once(migrated_database: str) -> None:
    vault = a_vault()
    expired, later, open_ = (str(uuid.uuid4()) for _ in range(3))
    for dossier in (expired, later, open_):
        await _store(migrated_database, vault, dossier, Purpose.RESULT_DELIVERY)
    engine = make_engine(migrated_database)
    try:
        async with engine.begin() as conn:
            await vault.end_purposes(conn, expired, {Purpose.RESULT_DELIVERY: DELIVERED})
            await vault.end_purposes(conn, later, {Purpose.RESULT_DELIVERY: DELIVERED + timedelta(days=2)})
        now = DELIVERED + timedelta(days=1)
        async with engine.begin() as conn:
            first = await vault.erase_expired(conn, now, reason="retention", batch=10)
        async with engine.begin() as conn:
            again = await vault.erase_expired(conn, now, reason="retention", batch=10)
        async with engine.connect() as conn:
            states = {d: await vault.read(conn, d, "applicant") for d in (expired, later, open_)}
    finally:
        await engine.dispose()
    assert [(e.dossier_id, e.kinds) for e in first] == [(expired, ("applicant",))]
    assert again == []
    erased = states[expired]
    assert isinstance(erased, Erased) and erased.reason == "retention"
    assert not isinstance(states[later], Erased) and not isinstance(states[open_], Erased)


async def test_two_replicas_racing_erase_each_record_once(migrated_database: str) -> None:
    """Forced, not hoped: both replicas' transactions are open at once (a barrier) before either claims."""
    vault = a_vault()
    dossiers = [str(uuid.uuid4()) for _ in range(6)]
    for dossier in dossiers:
        await _store(migrated_database, vault, dossier, Purpose.RESULT_DELIVERY)
    engines = [make_engine(migrated_database), make_engine(migrated_database)]
    async with engines[0].begin() as conn:
        for dossier in dossiers:
            await vault.end_purposes(conn, dossier, {Purpose.RESULT_DELIVERY: DELIVERED})
    both_open = asyncio.Barrier(2)
    first_claimed = asyncio.Event()
    second_done = asyncio.Event()

    async def replica(index: int) -> list[str]:
        async with engines[index].begin() as conn:
            await both_open.wait()
            if index == 1:
                await first_claimed.wait()  # the first replica holds its locks, uncommitted
            erased = await vault.erase_expired(
                conn, DELIVERED + timedelta(days=1), reason="retention", batch=3
            )
            if index == 0:
                first_claimed.set()
                await second_done.wait()  # commit only after the other replica claimed
            else:
                second_done.set()
            return [e.dossier_id for e in erased]

    try:
        first, second = await asyncio.wait_for(asyncio.gather(replica(0), replica(1)), timeout=30)
    finally:
        for engine in engines:
            await engine.dispose()
    assert len(first) == 3 and len(second) == 3
    assert sorted(first + second) == sorted(dossiers)

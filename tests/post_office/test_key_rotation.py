"""Rotating the vault's key-encryption key with no downtime, and a record whose key is missing or broken, on
the post office as it runs (its API on the session's broker, a database of this module's own).

The operator's steps (contracts/README.md, Personal data): list the new KEK first with the old one kept
(the replicas restart one by one), run `python -m services.post_office.personal_data rotate` beside them,
then drop the old KEK. Staff keep reading contacts throughout.
"""

from __future__ import annotations

import asyncio
import base64
import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from contracts.values import dossier_id_for_item
from services.post_office.adapters.tables import personal_data_tables
from services.post_office.app import create_app
from services.post_office.settings import PostOfficeSettings
from services.shared.db import migrate
from services.shared.db.engine import make_engine
from tests.fixtures.kafka import KafkaLogin
from tests.post_office.conftest import SECRET, fresh_postgres_database, issue_tokens
from tests.post_office.helpers import PostOfficeClient, Tokens, acceptance, new_item_id

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
INDEX_KEY = "rotation-tests-index-key-0123456789"
NAME = "Võ Thị Sáu"


def kek(kid: str) -> str:
    return f"{kid}:{base64.b64encode(os.urandom(32)).decode()}"


def settings(database_url: str, kafka: KafkaLogin, keys: str) -> PostOfficeSettings:
    return PostOfficeSettings.model_validate(
        {
            **kafka.env(),
            "DATABASE_URL": database_url,
            "DOSSIER_AUTH_SECRET": SECRET,
            "PERSONAL_DATA_KEYS": keys,
            "PERSONAL_DATA_INDEX_KEY": INDEX_KEY,
            "publish_timeout_s": 3.0,
            "credential_cache_s": 0,
        }
    )


@asynccontextmanager
async def post_office(
    database_url: str, kafka: KafkaLogin, keys: str, tokens: Tokens
) -> AsyncIterator[PostOfficeClient]:
    """One replica of the post office holding ``keys`` (PERSONAL_DATA_KEYS)."""
    app = create_app(settings(database_url, kafka, keys))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://post-office.test") as http:
            yield PostOfficeClient(http, tokens)


async def read_contact(api: PostOfficeClient, item_id: str) -> httpx.Response:
    return await api.http.get(
        f"/v1/dossiers/{item_id}/contact",
        params={"purpose": "result_delivery"},
        headers={"Authorization": f"Bearer {api.tokens.clerk}"},
    )


async def accept(api: PostOfficeClient, count: int) -> list[str]:
    items = [new_item_id() for _ in range(count)]
    for item in items:
        body = acceptance(item)
        body["applicant"] = {**body["applicant"], "name": NAME}
        await api.ok("/v1/dossiers", body)
    return items


async def rotate_command(database_url: str, kafka: KafkaLogin, keys: str) -> tuple[int, str, str]:
    """The operator's command, as a process of its own beside the running service."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "POST_OFFICE_"))}
    environment |= {
        **kafka.env(),
        "DATABASE_URL": database_url,
        "DOSSIER_AUTH_SECRET": SECRET,
        "PERSONAL_DATA_KEYS": keys,
        "PERSONAL_DATA_INDEX_KEY": INDEX_KEY,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.post_office.personal_data",
        "rotate",
        "--batch",
        "2",
        cwd=ROOT,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=90)
    return int(process.returncode or 0), out.decode(), err.decode()


@pytest.fixture
async def database(postgres_url: str) -> tuple[str, Tokens]:
    url = await fresh_postgres_database(postgres_url, "rotation")
    await migrate.upgrade_async(url)
    return url, await issue_tokens(url)


async def kids(database_url: str, items: list[str]) -> dict[str, str | None]:
    t = personal_data_tables.records
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(t.c.dossier_id, t.c.kid).where(
                    t.c.dossier_id.in_([dossier_id_for_item(i) for i in items])
                )
            )
            return {row.dossier_id: row.kid for row in rows}
    finally:
        await engine.dispose()


async def test_the_kek_rotates_while_staff_keep_reading_contacts_and_the_old_kek_can_then_go(
    database: tuple[str, Tokens], post_office_kafka: KafkaLogin
) -> None:
    database_url, tokens = database
    old, new = kek(f"old-{uuid.uuid4().hex[:6]}"), kek(f"new-{uuid.uuid4().hex[:6]}")
    old_id, new_id = old.split(":")[0], new.split(":")[0]
    async with post_office(database_url, post_office_kafka, old, tokens) as before:
        items = await accept(before, 12)
    assert set((await kids(database_url, items)).values()) == {old_id}

    # The replica restarted with the new KEK first and the old one still listed.
    async with post_office(database_url, post_office_kafka, f"{new},{old}", tokens) as api:
        reads: list[tuple[int, bool]] = []  # (status, whether the command was running)
        rotating = asyncio.Event()
        done = asyncio.Event()

        async def staff_reading() -> None:
            while not done.is_set():
                for item in items:
                    answer = await read_contact(api, item)
                    name = answer.json().get("contact", {}).get("name") if answer.status_code == 200 else None
                    reads.append(
                        (answer.status_code if name == NAME else -answer.status_code, rotating.is_set())
                    )

        reader = asyncio.create_task(staff_reading())
        try:
            rotating.set()
            code, out, err = await rotate_command(database_url, post_office_kafka, f"{new},{old}")
            rotating.clear()
            after = len(reads)
            while len(reads) < after + len(items):  # a whole round of reads after the rotation
                await asyncio.sleep(0.05)
        finally:
            done.set()
            await reader
        assert (code, err) == (0, ""), (out, err)
        assert f"re-wrapped 12 data key(s) under {new_id}" in out
        during = [status for status, running in reads if running]
        assert len(during) >= len(items), "staff read every contact at least once while the command ran"
        assert {status for status, _ in reads} == {200}, f"failed reads: {[s for s, _ in reads if s != 200]}"
    assert set((await kids(database_url, items)).values()) == {new_id}

    # The old KEK dropped from the settings: every record still opens.
    async with post_office(database_url, post_office_kafka, new, tokens) as after_rotation:
        answers = [await read_contact(after_rotation, item) for item in items]
    assert [(a.status_code, a.json()["contact"]["name"]) for a in answers] == [(200, NAME)] * len(items)


async def test_a_record_under_a_missing_or_broken_key_fails_alone_and_the_rotation_reports_it_and_goes_on(
    database: tuple[str, Tokens], post_office_kafka: KafkaLogin
) -> None:
    database_url, tokens = database
    old, new = kek("old-b"), kek("new-b")
    async with post_office(database_url, post_office_kafka, old, tokens) as before:
        fine, missing, broken, also_fine = await accept(before, 4)
    t = personal_data_tables.records
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                update(t).where(t.c.dossier_id == dossier_id_for_item(missing)).values(kid="gone")
            )
            wrapped = (
                await conn.execute(
                    select(t.c.wrapped_key).where(t.c.dossier_id == dossier_id_for_item(broken))
                )
            ).scalar_one()
            await conn.execute(
                update(t)
                .where(t.c.dossier_id == dossier_id_for_item(broken))
                .values(wrapped_key=bytes([wrapped[0] ^ 0xFF]) + wrapped[1:])
            )
    finally:
        await engine.dispose()

    async with post_office(database_url, post_office_kafka, f"{new},{old}", tokens) as api:
        answers = {item: await read_contact(api, item) for item in (fine, missing, broken, also_fine)}
        code, out, err = await rotate_command(database_url, post_office_kafka, f"{new},{old}")
        again = {item: await read_contact(api, item) for item in (fine, missing, broken, also_fine)}
        ready = await api.http.get("/ready")

    for read in (answers, again):
        assert [read[i].status_code for i in (fine, also_fine)] == [200, 200]
        for item, named in ((missing, "'gone'"), (broken, "'old-b'")):
            problem = read[item].json()
            assert (read[item].status_code, problem["reason"]) == (409, "personal_data_key_unavailable")
            assert named in problem["detail"] and NAME not in read[item].text
    assert ready.status_code == 200, ready.text
    # The command re-wraps what it can, names each record it cannot (dossier and kind, no personal data)
    # and says so in its exit status.
    assert code == 1, (out, err)
    assert "re-wrapped 2 data key(s) under new-b" in out, (out, err)
    assert "Traceback" not in err
    assert f"{dossier_id_for_item(missing)} applicant: key 'gone' is not listed" in err, err
    assert (
        f"{dossier_id_for_item(broken)} applicant: the data key does not unwrap under key 'old-b'" in err
    ), err
    assert (await kids(database_url, [fine, also_fine, missing, broken])) == {
        dossier_id_for_item(fine): "new-b",
        dossier_id_for_item(also_fine): "new-b",
        dossier_id_for_item(missing): "gone",
        dossier_id_for_item(broken): "old-b",
    }

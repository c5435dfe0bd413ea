"""After the stack has carried dossiers with distinctive applicant data (tests/security/conftest.py), and has
been probed and fuzzed by the other tests of this package: the applicants' names, phones (in every way a
phone number is written), ID numbers and address lines appear in none of the public lookup's answers, the
staff lookups, the services' logs (at DEBUG), their /metrics, the Kafka keys and headers of every topic,
the values of the events the services derive, or the database. The events that must carry them —
postal.events.v1 and agency.events.v1 — are read too, to show the scan finds what is there.
"""

from __future__ import annotations

import json
import unicodedata

import pytest
from aiokafka.structs import ConsumerRecord
from sqlalchemy import select

from contracts.topics import all_topics
from services.shared.db.engine import make_engine
from services.shared.db.schema import all_tables_metadata
from tests.reliability.support import end_offsets, read_range
from tests.security.conftest import APPLICANT, RECIPIENT, Applicant, Stack

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def _folded(text: str) -> str:
    """Without diacritics, as a log line or a search index might spell it."""
    decomposed = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _significant(phone: str) -> str:
    """The nine digits every spelling of a Vietnamese mobile number shares (0…, +84…, 84…)."""
    digits = "".join(c for c in phone if c.isdigit())
    return digits[2:] if digits.startswith("84") else digits.lstrip("0")


def needles(person: Applicant) -> set[str]:
    significant = _significant(person.phone)
    spaced = f"{significant[:2]} {significant[2:5]} {significant[5:]}"
    out = {
        significant,
        spaced,
        f"0{spaced}",
        f"+84 {spaced}",
        f"0{significant[:3]} {significant[3:6]} {significant[6:]}",
        f"{significant[:3]} {significant[3:6]} {significant[6:]}",
        f"{significant[:3]}.{significant[3:6]}.{significant[6:]}",
        person.id_number,
    }
    for text in (person.name, person.address_line):
        out |= {text, _folded(text), json.dumps(text)[1:-1], text.lower(), _folded(text).lower()}
    return out


NEEDLES = needles(APPLICANT) | needles(RECIPIENT)


def leaks(where: str, text: str) -> list[str]:
    return [f"{where}: {needle!r}" for needle in sorted(NEEDLES) if needle in text]


def _text(value: bytes | None) -> str:
    return value.decode("utf-8", "replace") if value else ""


async def _records(stack: Stack) -> list[ConsumerRecord[bytes, bytes]]:
    ends = await end_offsets(stack.kafka_admin, all_topics())
    return await read_range(stack.kafka_admin, stack.topics_start, ends, lambda r: True)


async def test_no_personal_data_in_lookups_logs_metrics_kafka_keys_derived_events_or_the_database(
    stack: Stack,
) -> None:
    journey = stack.journey
    found: list[str] = []
    scanned: dict[str, int] = {}

    def scan(where: str, text: str) -> None:
        scanned[where.split(" ")[0]] = scanned.get(where.split(" ")[0], 0) + len(text)
        found.extend(leaks(where, text))

    last4 = {p: "".join(c for c in p.phone if c.isdigit())[-4:] for p in (APPLICANT, RECIPIENT)}
    async with stack.client("tracker") as public:
        for reference, person in (
            (journey.item_id, APPLICANT),
            (journey.result_item_id, APPLICANT),
            (journey.agency_dossier_code, APPLICANT),
            (journey.registered_code, RECIPIENT),
        ):
            response = await public.get(
                f"/public/dossiers/{reference}", params={"phone_last4": last4[person]}
            )
            assert response.status_code == 200, (reference, response.text)
            scan(f"public lookup {reference}", response.text)
    staff = {
        "tracker": [f"/dossiers/{d}" for d in (journey.dossier_id, journey.registered_id, journey.filed_id)],
        "agency": [f"/dossiers/{r}" for r in (journey.item_id, journey.registered_code)],
        "turnaround": [f"/dossiers/{d}/clocks" for d in (journey.dossier_id, journey.registered_id)],
    }
    for service, paths in staff.items():
        async with stack.client(service, "operator") as http:
            for path in paths:
                response = await http.get(path)
                assert response.status_code == 200, (service, path, response.text)
                scan(f"staff {service}{path}", response.text)
    for service in stack.urls:
        async with stack.client(service) as http:
            scan(f"metrics {service}", (await http.get("/metrics")).text)
    for service, log in stack.logs.items():
        text = log.read_text(encoding="utf-8", errors="replace")
        assert '"event": ' in text, f"{service} logged (LOG_LEVEL=DEBUG)"
        scan(f"log {service}", text)

    for record in await _records(stack):
        where = f"kafka {record.topic}[{record.partition}]@{record.offset}"
        scan(f"{where} key", _text(record.key))
        scan(f"{where} headers", " ".join(f"{k}={_text(v)}" for k, v in record.headers or ()))
        if not record.topic.endswith(".dlt"):  # a dead letter keeps the original bytes, by design
            scan(f"{where} value", _text(record.value))

    # The control: the contact is where it is kept, and an operator who reads it is recorded doing so.
    async with stack.client("post_office", "operator") as reader:
        contact = await reader.get(
            f"/v1/dossiers/{journey.item_id}/contact", params={"purpose": "result_delivery"}
        )
        audit = await reader.get("/v1/audit/personal-data-reads", params={"dossier": journey.item_id})
    assert contact.status_code == 200, contact.text
    assert leaks("control", contact.text), "the scan finds the contact where it is kept"
    assert [r["purpose"] for r in audit.json()["reads"]][:1] == ["result_delivery"]

    engine = make_engine(stack.database_url)
    try:
        async with engine.connect() as conn:
            for table in all_tables_metadata().sorted_tables:
                rows = (await conn.execute(select(table))).all()
                scan(f"database {table.name}", "\n".join(map(str, rows)))
    finally:
        await engine.dispose()

    assert found == [], "\n".join(found)
    print(f"\nprivacy: {len(NEEDLES)} values searched in {_summary(scanned)}, 0 found")


def _summary(scanned: dict[str, int]) -> str:
    return ", ".join(f"{where} ({size // 1024} KiB)" for where, size in sorted(scanned.items()))

"""After the stack has carried dossiers with distinctive applicant data (tests/security/conftest.py), and has
been probed and fuzzed by the other tests of this package: the applicants' names, phones (in every way a
phone number is written), ID numbers and address lines appear in none of the public lookup's answers, the
staff lookups, the services' logs (at DEBUG), their /metrics, the Kafka keys and headers of every topic,
the values of the events the services derive, or the database. The events that must carry them —
postal.events.v1 and agency.events.v1 — are read too, to show the scan finds what is there.
"""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.structs import ConsumerRecord

from contracts.topics import all_topics
from tests.fixtures.privacy_scan import Person, Scanner
from tests.reliability.support import end_offsets, read_range
from tests.security.conftest import APPLICANT, RECIPIENT, Applicant, Stack

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def person(applicant: Applicant) -> Person:
    return Person(applicant.name, applicant.phone, applicant.id_number, applicant.address_line)


# Matched case-folded and without diacritics on both sides (tests/fixtures/privacy_scan.py): an upper-cased
# or de-accented copy in a log or a label is found too.
SCANNER = Scanner([person(APPLICANT), person(RECIPIENT)])


def leaks(where: str, text: str) -> list[str]:
    return [f"{where}: {needle!r}" for needle in SCANNER.needles.found_in(text)]


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
        "post_office": [f"/v1/audit/personal-data-reads?dossier={journey.item_id}"],
        "notifications": [
            f"/v1/dossiers/{d}/messages"
            for d in (journey.dossier_id, journey.registered_id, journey.filed_id)
        ],
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

    # Every table, text and binary columns alike (a bytea read as UTF-8 too), as pg_dump writes them.
    tables = await asyncio.to_thread(SCANNER.scan, databases=[stack.database_url])
    found.extend(f"database {h.place}: {h.needle!r}" for h in tables.hits)

    assert found == [], "\n".join(found)
    print(
        f"\nprivacy: {len(SCANNER.needles)} values searched in {_summary(scanned)} and "
        f"{tables.tally.tables} tables / {tables.tally.rows} rows, 0 found"
    )


def _summary(scanned: dict[str, int]) -> str:
    return ", ".join(f"{where} ({size // 1024} KiB)" for where, size in sorted(scanned.items()))

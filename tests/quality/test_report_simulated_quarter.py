"""A simulated quarter through the real turnaround consumer (Kafka and PostgreSQL): the report of the
quarter equals what the test counts itself from the events it published.

About 60 dossiers of one agency (a unique code: the report's scope), drawn at random with the test's seed:
accepted at a post office between late March and the end of June 2026, handed to the agency the next
working day, then resolved early, on time or late, refused, or left open (some overdue by the end of
June); some results are picked up by post and reach their first delivery attempt within or after J+2.
Dossiers accepted in March, and events after 30 June, check the quarter's bounds. The expected figures
are tallied here from each dossier's dates, with the definitions the report states (reports.py); the
nonconformities are left out (the register fills them; tests/quality/test_report_counts.py covers them).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaProducer
from sqlalchemy import select

from contracts.envelope import Envelope, kafka_record
from contracts.events import Event
from contracts.topics import AGENCY_EVENTS, POSTAL_EVENTS
from services.shared.calendar import VN_TZ, agency_due_date
from services.shared.db.engine import make_engine
from services.turnaround.adapters.tables import clock
from services.turnaround.adapters.tables import report as report_table
from services.turnaround.app import create_app, load_rules
from services.turnaround.domain import ClockRules
from services.turnaround.settings import TurnaroundSettings
from tests.fixtures.kafka import KafkaLogin
from tests.fixtures.kafka_groups import start_group_at_end
from tests.post_office.conftest import SECRET, issue_tokens
from tests.turnaround.journeys import ENTERPRISE, JUDICIAL_RECORD, PASSPORT, Journey, vn

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

FIRST, LAST = date(2026, 4, 1), date(2026, 6, 30)  # 2026-Q2
NOW = datetime(2026, 7, 20, 3, tzinfo=UTC)
END = datetime.combine(date(2026, 7, 1), time(0), VN_TZ)
PROCEDURES = (ENTERPRISE, PASSPORT, JUDICIAL_RECORD)
RETURN_LIMIT = 2  # intra-provincial route: J+2 working days (deploy/postal/route_limits.yaml)


@dataclass
class Planned:
    """One dossier as the test planned it: the dates the expected figures are counted from."""

    journey: Journey
    accepted: datetime
    filed: datetime
    due: date
    ready: datetime | None = None
    refused: datetime | None = None
    picked_up: datetime | None = None
    return_due: date | None = None
    attempt: datetime | None = None


def in_quarter(moment: datetime | None) -> bool:
    return moment is not None and FIRST <= moment.astimezone(VN_TZ).date() <= LAST


def grade(day: date, due: date) -> str:
    return "early" if day < due else "on_time" if day == due else "late"


def plan_quarter(rules: ClockRules, rng: random.Random, agency: str) -> list[Planned]:
    cal, cat = rules.calendar, rules.catalog
    base = uuid.uuid4().int % 90_000_000
    days = [
        d for d in (date.fromordinal(o) for o in range(date(2026, 3, 23).toordinal(), LAST.toordinal() + 1))
    ]
    working = [d for d in days if cal.is_working_day(d)]
    planned: list[Planned] = []
    for n in range(60):
        j = Journey(base + n, procedure=rng.choice(PROCEDURES), agency=agency)
        accepted_day = LAST if n == 0 else rng.choice(working)  # the first one is handed over on 1 July
        accepted = vn(accepted_day, 8)
        filed = vn(cal.next_working_day(accepted_day), 10)
        j.accepted(accepted)
        j.handed_over(filed)
        j.received(filed, cal, cat)
        due = agency_due_date(filed, cat.get(j.procedure).target, cal)
        p = Planned(j, accepted, filed, due)
        outcome = rng.choice(("early", "on_time", "late", "refused", "open"))
        if outcome == "refused":
            p.refused = vn(cal.next_working_day(filed.date()), 9)
            j.agency_event("agency.dossier_refused", p.refused)
        elif outcome != "open":
            ready_day = {
                "early": cal.previous_working_day(due),
                "on_time": due,
                "late": cal.next_working_day(due),
            }[outcome]
            p.ready = vn(max(ready_day, filed.date()), 16)
            j.agency_event("agency.result_ready", p.ready)
            if rng.random() < 0.6:
                p.picked_up = vn(p.ready.date(), 17)
                p.return_due = cal.add_working_days(p.picked_up.date(), RETURN_LIMIT)
                j.picked_up(p.picked_up)
                late = rng.random() < 0.3
                attempt_day = cal.add_working_days(p.picked_up.date(), RETURN_LIMIT + 2 if late else 1)
                p.attempt = vn(attempt_day, 9)
                j.postal_event("postal.result_out_for_delivery", p.attempt, attempt=1)
        planned.append(p)
    return planned


def expected_report(planned: list[Planned]) -> dict[str, Any]:
    """The quarter's figures, counted from the planned dates alone."""
    resolved = Counter(
        grade(p.ready.astimezone(VN_TZ).date(), p.due) for p in planned if p.ready and in_quarter(p.ready)
    )
    by_post = Counter(
        grade(p.attempt.astimezone(VN_TZ).date(), p.return_due)
        for p in planned
        if p.attempt and p.return_due and in_quarter(p.attempt)
    )
    late_by_procedure = Counter(
        p.journey.procedure
        for p in planned
        if p.ready and in_quarter(p.ready) and grade(p.ready.astimezone(VN_TZ).date(), p.due) == "late"
    )
    resolved_by_procedure = Counter(p.journey.procedure for p in planned if p.ready and in_quarter(p.ready))

    def open_at_end(start: datetime | None, stop: datetime | None, due: date | None) -> tuple[int, int]:
        pending = start is not None and start < END and (stop is None or stop >= END)
        return int(pending), int(pending and due is not None and due <= LAST)

    legs = {
        # Only the dossier accepted on 30 June is in transit at the end; its J+2 falls in July: not overdue.
        "INBOUND_POSTAL": [open_at_end(p.accepted, p.filed, None) for p in planned],
        "AGENCY_PROCESSING": [open_at_end(p.filed, p.ready or p.refused, p.due) for p in planned],
        "RETURN_POSTAL": [open_at_end(p.picked_up, p.attempt, p.return_due) for p in planned],
    }
    top = sorted(late_by_procedure, key=lambda code: (-late_by_procedure[code], code))

    def timeliness(counts: Counter[str]) -> dict[str, int]:
        return {"early": counts["early"], "on_time": counts["on_time"], "late": counts["late"]}

    return {
        "received_by_post": sum(in_quarter(p.accepted) for p in planned),
        "resolved": timeliness(resolved),
        "returned": sum(in_quarter(p.refused) for p in planned),
        "open_at_period_end": [
            {"leg": leg, "pending": sum(c[0] for c in cells), "overdue": sum(c[1] for c in cells)}
            for leg, cells in legs.items()
        ],
        "results_returned_by_post": timeliness(by_post),
        "top_late_procedures": [(code, late_by_procedure[code], resolved_by_procedure[code]) for code in top],
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def turnaround_service(settings: TurnaroundSettings) -> AsyncIterator[str]:
    app = create_app(settings, now=lambda: NOW)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(60):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def publish(kafka: KafkaLogin, envelopes: list[Envelope[Event]]) -> None:
    producer = AIOKafkaProducer(**kafka.options(), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for envelope in envelopes:
            record = kafka_record(envelope)
            topic = POSTAL_EVENTS if envelope.type.startswith("postal.") else AGENCY_EVENTS
            await producer.send(topic.name, record.value, key=record.key, headers=record.headers)
        await producer.flush()
    finally:
        await producer.stop()


async def test_a_simulated_quarters_report_equals_the_count_of_the_events_published(
    kafka_admin: KafkaLogin, turnaround_kafka: KafkaLogin, migrated_database: str, seed: int
) -> None:
    group = f"turnaround-quarter-{uuid.uuid4().hex[:8]}"
    settings = TurnaroundSettings(
        **turnaround_kafka.settings(),
        DATABASE_URL=migrated_database,
        consumer_group=group,
        tick_interval_s=3600,
        # The schedule files the nation's report of the last ended quarter (2026-Q2 on 20 July); the
        # agency's is asked for on demand.
        quality_report_periods=["quarter"],
        quality_report_provinces=[],
        DOSSIER_AUTH_SECRET=SECRET,
    )
    operator = (await issue_tokens(migrated_database)).operator
    rules = load_rules(settings)
    n = uuid.uuid4().int
    agency = f"{n % 1000:03d}.{n // 1000 % 100:02d}.{n // 10**5 % 100:02d}.H22"
    planned = plan_quarter(rules, random.Random(seed), agency)
    events = sorted((e for p in planned for e in p.journey.events), key=lambda e: e.time)
    expected_clocks = sum(2 + (p.picked_up is not None) for p in planned)
    expected_finished = sum(
        1 + (p.ready is not None or p.refused is not None) + (p.attempt is not None) for p in planned
    )
    ours = [p.journey.dossier_id for p in planned]
    await start_group_at_end(kafka_admin, group, (POSTAL_EVENTS, AGENCY_EVENTS))
    engine = make_engine(migrated_database)
    try:
        async with turnaround_service(settings) as url:
            await publish(kafka_admin, events)
            # Every clock of the quarter stored and stopped where its last event left it.
            async with asyncio.timeout(60):
                while True:
                    async with engine.connect() as conn:
                        states = (
                            (await conn.execute(select(clock.c.state).where(clock.c.dossier_id.in_(ours))))
                            .scalars()
                            .all()
                        )
                    if (
                        len(states) == expected_clocks
                        and sum(s != "running" for s in states) == expected_finished
                    ):
                        break
                    await asyncio.sleep(0.2)
            async with asyncio.timeout(30):
                while True:
                    async with engine.connect() as conn:
                        filed = select(
                            report_table.c.period, report_table.c.scope_kind, report_table.c.trigger
                        )
                        scheduled = (await conn.execute(filed)).all()
                    if scheduled:
                        break
                    await asyncio.sleep(0.2)
            assert scheduled == [("2026-Q2", "national", "schedule")], "the service's schedule filed it"
            async with httpx.AsyncClient(
                base_url=url, headers={"Authorization": f"Bearer {operator}"}
            ) as http:
                answer = await http.get(
                    "/quality/reports/2026-Q2", params={"scope": "agency", "code": agency}
                )
    finally:
        await engine.dispose()

    assert answer.status_code == 200, answer.text
    report = answer.json()
    expected = expected_report(planned)
    assert report["status"] == "final"
    assert report["received_by_post"] == expected["received_by_post"]
    got = {k: report["resolved"][k] for k in ("early", "on_time", "late")}
    assert got == expected["resolved"]
    assert report["returned"] == expected["returned"]
    assert report["open_at_period_end"] == expected["open_at_period_end"]
    got_post = {k: report["results_returned_by_post"][k] for k in ("early", "on_time", "late")}
    assert got_post == expected["results_returned_by_post"]
    top = [(p["procedure_code"], p["late"], p["resolved"]) for p in report["top_late_procedures"]]
    assert top == expected["top_late_procedures"]
    assert sum(expected["resolved"].values()) > 0 and expected["returned"] + expected["received_by_post"] > 0

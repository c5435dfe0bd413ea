"""The turnaround service against the real broker and PostgreSQL, scraped by a real Prometheus running the
committed configuration and rules: 39 dossiers are driven through by publishing contract events, then
every query of every dashboard panel is run against Prometheus (and the overdue table against
PostgreSQL), and its value is checked against its entry in dashboard_expectations.EXPECTED, computed
from the clocks the scenario finished and left open, the events and poison records it published, the
alerts its scheduler ticks raised, and the scrapes Prometheus made. A panel query without an entry, or
an entry without a panel query, fails. The drilldown is run for two provinces.

What is covered: every panel of the six dashboards (the quality objectives' from an objectives file the
test writes and nonconformities it registers, counted back from the clocks and the table; the citizen
notifications' from the notifications service's own metrics, fed a known traffic by
notification_traffic.py). The post office, agency and tracker services are not started here (they are
built in parallel): their scrape jobs get no targets, so panels over `http_requests_total`,
`faststream_*` and `dossier_consumer_*` are answered by the turnaround job alone, which exports all of
them.

The scenario is judged on Wednesday 11 March 2026, 10:00 (the injected clock). Each phase waits until
Prometheus has scraped it, so the finished-clock counters are seen at zero before they count (as they
are in production, where clocks stay open for days).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
import shutil
import socket
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import yaml
from aiokafka import AIOKafkaProducer
from sqlalchemy import text

from contracts.envelope import Envelope, kafka_record
from contracts.events import Event
from contracts.topics import AGENCY_EVENTS, CLOCK_ALERTS, POSTAL_EVENTS
from services.shared.calendar import VN_TZ
from services.shared.db.engine import make_engine
from services.stack.prometheus import JOBS, prometheus_process, write_config
from services.turnaround.adapters.tables import nonconformity
from services.turnaround.app import create_app, load_rules
from services.turnaround.domain import ClockRules
from services.turnaround.settings import TurnaroundSettings
from tests.fixtures.kafka import KafkaLogin
from tests.fixtures.kafka_groups import start_group_at_end
from tests.post_office.conftest import SECRET, issue_tokens
from tests.turnaround.dashboard_expectations import (
    AG,
    EXPECTED,
    IN,
    JOURNEY_BOUNDS,
    QUALITY_OBJECTIVES,
    RET,
    Facts,
    FinishedClock,
    OpenClock,
    objective_figures,
    quantile,
)
from tests.turnaround.journeys import ENTERPRISE, JUDICIAL_RECORD, PASSPORT, Journey, vn
from tests.turnaround.notification_traffic import TRAFFIC, notification_exporter

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
NOW = vn(date(2026, 3, 11), 10)
HANOI, HUE, HCMC, DANANG = "100000", "490000", "700000", "500000"
D = date


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- the scenario

PROVINCE = {HANOI: "ha_noi", HUE: "hue", HCMC: "ho_chi_minh", DANANG: "da_nang"}
# Every office of the scenario is in the province of the agency it serves or returns from.
ROUTE = "same_province"


class Scenario:
    """39 dossiers in ten groups; `phases[i]` holds the events published in phase i. Beside the events,
    each group records the clocks its events finish (leg, timeliness, working days taken) and the clocks
    they leave open on the judging day: every dashboard value is computed from these records."""

    def __init__(self, rules: ClockRules) -> None:
        self.rules = rules
        self.phases: list[list[Envelope[Event]]] = [[], [], [], []]
        self.finished: list[FinishedClock] = []
        self.open: list[OpenClock] = []
        # Whole journeys ended (working days, calendar days), for the journey histograms.
        self.journeys_ended: list[tuple[int, int]] = []
        base = uuid.uuid4().int % 90_000_000
        self._serial = iter(range(base, base + 1000))
        cal, cat = rules.calendar, rules.catalog

        def group(n: int, office: str | Callable[[int], str], procedure: str) -> list[Journey]:
            return [
                Journey(next(self._serial), office if isinstance(office, str) else office(i), procedure)
                for i in range(n)
            ]

        def at(phase: int, envelope: Envelope[Event]) -> None:
            self.phases[phase].append(envelope)

        def finish(j: Journey, leg: str, timeliness: str, working_days: int) -> None:
            route = "" if leg == AG else ROUTE
            field = cat.get(j.procedure).field_key
            agency = j.agency if leg == AG else ""
            self.finished.append(
                FinishedClock(leg, PROVINCE[j.post_office], field, timeliness, working_days, route, agency)
            )

        def still_open(j: Journey, leg: str, due: date, **state: Any) -> None:
            field = cat.get(j.procedure).field_key
            self.open.append(OpenClock(j.dossier_id, leg, PROVINCE[j.post_office], field, due, **state))

        # G1: on time everywhere, delivered at the first attempt (Hà Nội and Huế).
        self.g1 = group(8, lambda i: HANOI if i < 4 else HUE, ENTERPRISE)
        for j in self.g1:
            at(0, j.accepted(vn(D(2026, 3, 2), 9)))  # J+2 → due Wed 4
            at(1, j.handed_over(vn(D(2026, 3, 3))))  # early, 1 working day
            at(1, j.received(vn(D(2026, 3, 3)), cal, cat))  # due Fri 6
            at(2, j.agency_event("agency.result_ready", vn(D(2026, 3, 6), 9)))  # on time, 3 days
            at(2, j.picked_up(vn(D(2026, 3, 6), 14)))  # J+2 → due Tue 10
            at(3, j.postal_event("postal.result_out_for_delivery", vn(D(2026, 3, 9), 8), attempt=1))  # early
            at(3, j.postal_event("postal.result_delivered", vn(D(2026, 3, 9), 10), attempt=1))
            finish(j, IN, "early", 1)
            finish(j, AG, "on_time", 3)
            finish(j, RET, "early", 1)
            self.journeys_ended.append((5, 7))  # Mon 2 → Mon 9
        # G2: late at the post and at the agency; the result is on its way back (Hồ Chí Minh City).
        self.g2 = group(6, HCMC, ENTERPRISE)
        for j in self.g2:
            at(0, j.accepted(vn(D(2026, 3, 2), 9)))
            at(1, j.handed_over(vn(D(2026, 3, 5))))  # late (due Wed 4), 3 working days
            at(1, j.received(vn(D(2026, 3, 5)), cal, cat))  # due Tue 10
            at(2, j.agency_event("agency.result_ready", vn(D(2026, 3, 11), 9)))  # late, 4 days
            at(2, j.picked_up(vn(D(2026, 3, 11), 9, 30)))  # due Fri 13: open
            finish(j, IN, "late", 3)
            finish(j, AG, "late", 4)
            still_open(j, RET, D(2026, 3, 13))
        # G3: agency clocks due tomorrow (Đà Nẵng).
        self.g3 = group(5, DANANG, PASSPORT)
        for j in self.g3:
            at(0, j.accepted(vn(D(2026, 2, 27), 9)))  # J+2 → due Tue 3
            at(1, j.handed_over(vn(D(2026, 3, 2), 11)))  # early; agency due Thu 12 Mar (8 days)
            finish(j, IN, "early", 1)
            still_open(j, AG, D(2026, 3, 12), due_soon=True)
        # G4: agency clocks overdue since Tue 10 (Hà Nội 2, Đà Nẵng 3).
        self.g4 = group(5, lambda i: HANOI if i < 2 else DANANG, JUDICIAL_RECORD)
        for j in self.g4:
            at(0, j.accepted(vn(D(2026, 2, 23), 8)))
            at(1, j.handed_over(vn(D(2026, 2, 23), 14)))  # early (0 days); agency due Mon 9 Mar
            finish(j, IN, "early", 0)
            still_open(j, AG, D(2026, 3, 9), overdue_days=2)  # Tue 10, Wed 11
        # G5: dossiers never handed over: inbound overdue (Huế).
        self.g5 = group(3, HUE, ENTERPRISE)
        for j in self.g5:
            at(0, j.accepted(vn(D(2026, 3, 5), 9)))  # due Mon 9
            still_open(j, IN, D(2026, 3, 9), overdue_days=2)
        # G6: a supplement is awaited (Hồ Chí Minh City).
        self.g6 = group(3, HCMC, ENTERPRISE)
        for j in self.g6:
            at(0, j.accepted(vn(D(2026, 3, 5), 9)))  # due Mon 9
            at(1, j.handed_over(vn(D(2026, 3, 9))))  # on time, 2 working days
            at(2, j.agency_event("agency.supplement_requested", vn(D(2026, 3, 10))))
            finish(j, IN, "on_time", 2)
            still_open(j, AG, D(2026, 3, 12), suspended=True)  # neither due soon nor overdue
        # G7: delivery failed twice, then returned to the agency (Hồ Chí Minh City).
        self.g7 = group(3, HCMC, ENTERPRISE)
        for j in self.g7:
            at(0, j.accepted(vn(D(2026, 3, 2), 9)))
            at(1, j.handed_over(vn(D(2026, 3, 3))))  # early
            at(2, j.agency_event("agency.result_ready", vn(D(2026, 3, 5))))  # early, 2 days
            at(2, j.picked_up(vn(D(2026, 3, 5), 14)))  # due Mon 9
            at(3, j.postal_event("postal.delivery_failed", vn(D(2026, 3, 6)), attempt=1))  # early, 1 day
            at(3, j.postal_event("postal.delivery_failed", vn(D(2026, 3, 9)), attempt=2))
            at(3, j.postal_event("postal.result_returned_to_agency", vn(D(2026, 3, 10)), attempts=2))
            finish(j, IN, "early", 1)
            finish(j, AG, "early", 2)
            finish(j, RET, "early", 1)  # the return leg ends at the first attempt
        # G8: withdrawn before the handover (Hà Nội).
        self.g8 = group(2, HANOI, ENTERPRISE)
        for j in self.g8:
            at(0, j.accepted(vn(D(2026, 3, 9), 9)))
            at(1, j.agency_event("agency.dossier_withdrawn", vn(D(2026, 3, 10))))
        # G9: one delay notice moved the due date from Mon 9 to Fri 13 (Huế).
        self.g9 = group(2, HUE, JUDICIAL_RECORD)
        for j in self.g9:
            at(0, j.accepted(vn(D(2026, 2, 23), 8)))
            at(1, j.handed_over(vn(D(2026, 2, 23), 14)))
            at(
                2,
                j.agency_event(
                    "agency.delay_notified",
                    vn(D(2026, 3, 5)),
                    previous_due_date=D(2026, 3, 9),
                    new_due_date=D(2026, 3, 13),
                    issued_on=D(2026, 3, 5),
                    breach=False,
                ),
            )
            finish(j, IN, "early", 0)
            still_open(j, AG, D(2026, 3, 13))
        # G10: asked twice for a supplement, ready before the due date: late by the service-quality
        # index, which counts more than one request as late whatever the dates (Đà Nẵng).
        self.g10 = group(2, DANANG, ENTERPRISE)
        for j in self.g10:
            at(0, j.accepted(vn(D(2026, 3, 2), 9)))  # J+2 → due Wed 4
            at(1, j.handed_over(vn(D(2026, 3, 3))))  # early, 1 working day
            at(1, j.received(vn(D(2026, 3, 3)), cal, cat))  # due Fri 6
            for asked, arrived in (
                (vn(D(2026, 3, 3), 14), vn(D(2026, 3, 4), 9)),
                (vn(D(2026, 3, 4), 10), vn(D(2026, 3, 4), 11)),
            ):
                at(2, j.agency_event("agency.supplement_requested", asked))
                at(2, j.agency_event("agency.supplement_received", arrived, received_at=arrived))
            at(2, j.agency_event("agency.result_ready", vn(D(2026, 3, 5), 9)))  # due Mon 9: early by date
            finish(j, IN, "early", 1)
            finish(j, AG, "late", 1)
        self.journeys = (
            self.g1 + self.g2 + self.g3 + self.g4 + self.g5 + self.g6 + self.g7 + self.g8 + self.g9 + self.g10
        )
        assert len(self.journeys) == 39

    def events(self) -> list[Envelope[Event]]:
        return [e for phase in self.phases for e in phase]


# --------------------------------------------------------------------------- Prometheus


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url
        self.client = httpx.AsyncClient(base_url=url, timeout=10)

    async def query(self, expr: str) -> list[dict[str, Any]]:
        response = await self.client.get("/api/v1/query", params={"query": expr})
        body = response.json()
        assert body["status"] == "success", f"{expr}: {body}"
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    async def value(self, expr: str) -> float | None:
        result = await self.query(expr)
        return float(result[0]["value"][1]) if result else None

    async def until_at_least(self, expr: str, minimum: float, timeout_s: float = 90) -> None:
        async with asyncio.timeout(timeout_s):
            while (last := await self.value(expr)) is None or last < minimum:
                await asyncio.sleep(0.5)

    async def until(self, expr: str, expected: float, timeout_s: float = 60) -> None:
        last: float | None = None
        async with asyncio.timeout(timeout_s):
            while True:
                last = await self.value(expr)
                if last is not None and abs(last - expected) < 1e-9:
                    return
                await asyncio.sleep(0.5)


@contextlib.asynccontextmanager
async def prometheus_server(targets: dict[str, str]) -> AsyncIterator[str]:
    """The committed configuration and rules with 1 s intervals, as the local run writes them; only the
    jobs in ``targets`` (job → host:port) have a target. Yields its URL once it answers /-/ready."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not installed (scripts/setup.sh installs the Debian package)")
    work = Path(tempfile.mkdtemp(prefix="dossier-prometheus-"))
    port = _free_port()
    try:
        write_config(work, targets, listen=f"127.0.0.1:{port}", interval="1s")
        for job in set(targets) - set(JOBS):  # jobs the local run does not start (notifications)
            entries = [{"targets": [targets[job]], "labels": {"service": job}}]
            (work / "targets" / f"{job}.json").write_text(json.dumps(entries))
        process = prometheus_process(
            binary, work, host="127.0.0.1", port=port, log_path=work / "prometheus.log"
        )
        process.start()
        try:
            await process.wait_ready(60)
            yield f"http://127.0.0.1:{port}"
        finally:
            await process.stop(20)
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --------------------------------------------------------------------------- the service


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@contextlib.asynccontextmanager
async def turnaround_service(settings: TurnaroundSettings, now: FixedClock) -> AsyncIterator[tuple[str, Any]]:
    app = create_app(settings, now=now)
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
        yield f"127.0.0.1:{port}", app.state.turnaround
    finally:
        server.should_exit = True
        await task


# --------------------------------------------------------------------------- panel queries


def panels() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(DASHBOARDS.glob("*.json")):
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            if panel["type"] != "row":
                yield board["uid"], panel


def substitute(expr: str, variables: dict[str, str]) -> str:
    for name, value in variables.items():
        expr = expr.replace(f"${{{name}:regex}}", value).replace(f"${name}", value)
    return expr


def increased_counters() -> list[str]:
    """Every counter a dashboard panel takes increase() of."""
    found = {
        name
        for _, panel in panels()
        for target in panel["targets"]
        for name in re.findall(r"increase\(([A-Za-z_:]+)", target.get("expr", ""))
    }
    return sorted(found)


# --------------------------------------------------------------------------- the test


async def test_every_dashboard_panel_answers_with_the_scenarios_values(
    kafka_admin: KafkaLogin, turnaround_kafka: KafkaLogin, migrated_database: str, tmp_path: Path
) -> None:
    group = f"turnaround-dash-{uuid.uuid4().hex[:8]}"
    objectives_file = tmp_path / "objectives.yaml"
    objectives_file.write_text(
        yaml.safe_dump(
            {"objectives": [{**QUALITY_COMMON, **o} for o in QUALITY_OBJECTIVES]}, allow_unicode=True
        ),
        encoding="utf-8",
    )
    await insert_nonconformities(migrated_database)
    settings = TurnaroundSettings(
        **turnaround_kafka.settings(),
        DATABASE_URL=migrated_database,
        consumer_group=group,
        tick_interval_s=3600,  # ticked by hand once the scenario is in
        relay_interval_s=0.2,
        snapshot_interval_s=0.5,
        lag_interval_s=1,
        objectives_file=objectives_file,
        objectives_refresh_s=0.5,
        DOSSIER_AUTH_SECRET=SECRET,
    )
    operator = (await issue_tokens(migrated_database)).operator
    rules = load_rules(settings)
    scenario = Scenario(rules)
    await start_group_at_end(kafka_admin, group, (POSTAL_EVENTS, AGENCY_EVENTS))
    now = FixedClock(NOW)
    producer = AIOKafkaProducer(**kafka_admin.options(), acks="all", enable_idempotence=True)
    await producer.start()

    async def publish(envelopes: list[Envelope[Event]]) -> None:
        for envelope in envelopes:
            record = kafka_record(envelope)
            topic = POSTAL_EVENTS if envelope.type.startswith("postal.") else AGENCY_EVENTS
            await producer.send(topic.name, record.value, key=record.key, headers=record.headers)
        await producer.flush()

    async def poison() -> None:
        await producer.send_and_wait(POSTAL_EVENTS.name, b"{not json", key=scenario.g5[0].dossier_id.encode())

    try:
        async with (
            turnaround_service(settings, now) as (target, service),
            notification_exporter(TRAFFIC) as (notifications_target, notifications),
            prometheus_server(
                {"turnaround": target, "notifications": notifications_target}
            ) as prometheus_url,
        ):
            prom = Prometheus(prometheus_url)
            await prom.until('count(up{job="turnaround"} == 1)', 1)
            # The notifications' series, all created at zero, are scraped before their traffic is counted.
            await prom.until_at_least('count_over_time(up{job="notifications"}[10m])', 2)
            notifications.count()

            open_ = 'sum(turnaround:open_clocks:max{{leg="{}"}}) or vector(0)'
            started = time.monotonic()
            await publish(scenario.phases[0])
            await poison()
            await prom.until(open_.format(IN), 39)
            await publish(scenario.phases[1])
            await prom.until(open_.format(AG), 34)
            await prom.until(open_.format(IN), 3)
            await publish(scenario.phases[2])
            await poison()
            await prom.until(open_.format(RET), 17)
            await prom.until('sum(turnaround:suspended_clocks:max{leg="AGENCY_PROCESSING"})', 3)
            await publish(scenario.phases[3])
            await prom.until(open_.format(RET), 6)
            await prom.until('sum(turnaround:delivery_attempts_total:max{outcome="failed"})', 6)
            await prom.until('sum(turnaround:delivery_attempts_total:max{outcome="delivered"})', 8)

            alerts = await service.scheduler.tick()
            assert await service.scheduler.tick() == 0, "alerts are raised once"
            await prom.until("sum(turnaround_clock_alerts_total)", alerts)
            await prom.until("max(turnaround_outbox_pending)", 0)
            await prom.until(
                f'sum(turnaround:clocks_finished_total:max{{leg="{RET}"}})', 11
            )  # every counter scraped at its final value
            for expr, value in notifications.scraped():
                await prom.until(expr, value)
            # increase() extrapolates by up to 1.6 scrape intervals over the span its series
            # have samples; 30 samples keep that under the 10 % the checks allow.
            for counter in increased_counters():
                await prom.until_at_least(f"min(count_over_time({counter}[10m]))", 30)

            facts = scenario_facts(scenario, settings, rules, group, poisoned=2)
            # The objectives and open nonconformities, counted by the test: the clocks from the scenario,
            # the nonconformities from their table (whoever opened them), each band from its breach time.
            facts.extra.update(await counted_nonconformities(migrated_database))
            for objective in QUALITY_OBJECTIVES:
                numerator, denominator = objective_figures(facts, objective)
                part = "numerator" if denominator is None else "denominator"
                await prom.until(
                    f'max(quality_objective_{part}{{objective="{objective["id"]}"}})',
                    denominator or numerator,
                )
            await prom.until(
                "sum(max without (instance) (quality_nonconformities_open)) or vector(0)",
                sum(facts.extra["open_nonconformities"].values()),
            )
            assert alerts == sum(facts.alerts.values()), "one alert per clock due soon or overdue"
            scrapes = 'count_over_time(up{job="turnaround"}[10m])'
            facts.scrapes = await prom.value(scrapes) or 0
            facts.max_scrape_s = (
                await prom.value('max_over_time(scrape_duration_seconds{job="turnaround"}[10m])') or 0
            )
            facts.elapsed_s = time.monotonic() - started
            failures = await check_every_panel(prom, migrated_database, scenario, facts)
            assert failures == [], "\n".join(failures)

            # The HTTP API shows a dossier's clocks.
            async with httpx.AsyncClient(base_url=f"http://{target}") as client:
                path = f"/dossiers/{scenario.g9[0].dossier_id}/clocks"
                assert (await client.get(path)).status_code == 401, "staff only"
                body = (await client.get(path, headers={"Authorization": f"Bearer {operator}"})).json()
            assert [(c["leg"], c["state"], c["due_date"], c["generation"]) for c in body["clocks"]] == [
                (IN, "finished", "2026-02-25", 0),
                (AG, "running", "2026-03-13", 1),
            ]
    finally:
        await producer.stop()


# Grafana's variables: the whole window of the test for both $__range and $__rate_interval, so that
# rates are the scenario's counts over that window. The drilldown is run for a province with clocks due
# soon and overdue, and for one with late clocks.
WINDOW = "10m"
DRILLDOWN_PROVINCES = ("da_nang", "ho_chi_minh")


def queries() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for uid, panel in panels():
        for target_spec in panel["targets"]:
            yield uid, panel["title"], target_spec


async def check_every_panel(prom: Prometheus, url: str, scenario: Scenario, facts: Facts) -> list[str]:
    """Every panel query against its entry in EXPECTED; the failures, each with its query and result."""
    keys = [(uid, title, spec["refId"]) for uid, title, spec in queries()]
    failures = [f"no expected value for panel query {k}" for k in keys if k not in EXPECTED]
    failures += [f"expected value for a panel query no dashboard has: {k}" for k in EXPECTED if k not in keys]
    for uid, title, spec in queries():
        check = EXPECTED.get((uid, title, spec["refId"]))
        if check is None:
            continue
        if "rawSql" in spec:
            try:
                facts.province = ".*"
                check(await overdue_table(url, spec["rawSql"]), facts)
            except AssertionError as error:
                failures.append(f"{uid} / {title}: {error}")
            continue
        for province in DRILLDOWN_PROVINCES if uid == "dossier-drilldown" else (".*",):
            variables = {"__rate_interval": WINDOW, "__range": WINDOW, "province": province, "field": ".*"}
            expr = substitute(spec["expr"], variables)
            result = await prom.query(expr)
            where = f"{uid} / {title} / {spec['refId']} / province={province}: {expr}"
            try:
                assert not any(math.isnan(float(r["value"][1])) for r in result), "NaN"
                facts.province = province
                check(result, facts)
            except (AssertionError, KeyError) as error:
                failures.append(f"{where}\n  → {result}\n  {type(error).__name__}: {error}")
    return failures


def scenario_facts(
    scenario: Scenario, settings: TurnaroundSettings, rules: ClockRules, group: str, poisoned: int
) -> Facts:
    events = scenario.events()
    reasons = {getattr(e.data, "reason", None) for e in events if e.type == "postal.delivery_failed"}
    assert len(reasons) == 1
    reason = next(iter(reasons))
    due_soon = sum(1 for c in scenario.open if c.due_soon)
    overdue = sum(1 for c in scenario.open if c.overdue)
    by_topic = Counter(
        POSTAL_EVENTS.name if e.type.startswith("postal.") else AGENCY_EVENTS.name for e in events
    )
    by_topic[POSTAL_EVENTS.name] += poisoned
    working, calendar = zip(*scenario.journeys_ended, strict=True)
    return Facts(
        finished=scenario.finished,
        open=scenario.open,
        published=Counter(e.type for e in events),
        published_by_topic=by_topic,
        poison=poisoned,
        alerts=Counter({"due_soon": due_soon, "overdue": overdue}),
        group=group,
        topics=(POSTAL_EVENTS.name, AGENCY_EVENTS.name),
        window_s=600,
        extra={
            "failure_reason": getattr(reason, "value", reason),
            "route_limits": {c.value: n for c, n in rules.route_limits.limits.items()},
            "snapshot_interval_s": settings.snapshot_interval_s,
            "alerts_topic": CLOCK_ALERTS.name,
            "journey_working_days_median": quantile(0.5, list(working), JOURNEY_BOUNDS),
            "journey_days_median": quantile(0.5, list(calendar), JOURNEY_BOUNDS),
        },
    )


async def overdue_table(url: str, raw_sql: str) -> list[dict[str, Any]]:
    sql = substitute(
        raw_sql.replace("$__timeTo()", f"'{NOW.isoformat()}'::timestamptz").replace(
            "$__timeFrom()", f"'{(NOW - timedelta(days=30)).isoformat()}'::timestamptz"
        ),
        {"province": ".*", "field": ".*"},
    )
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return [dict(row) for row in (await conn.execute(text(sql))).mappings().all()]
    finally:
        await engine.dispose()


# --------------------------------------------------------------------------- quality objectives

QUALITY_COMMON = {"title": "Mục tiêu chất lượng", "owner": "Đơn vị", "source": "Thử nghiệm"}
# Nonconformities the test registers (the quality loop opens them from breaches; here only their count
# and age matter): (kind, responsible kind, province, detected this long before the judging time, state).
NONCONFORMITIES = (
    ("late_delay_notice", "agency", "ha_noi", timedelta(days=2), "open"),
    ("late_delay_notice", "agency", "hue", timedelta(days=40), "analysed"),  # 30 January: Q1
    ("late_delay_notice", "agency", "hue", timedelta(days=80), "closed"),  # Q4 2025, closed
    ("postal_leg_late", "post_office", "ho_chi_minh", timedelta(days=10), "action_taken"),
    ("postal_leg_late", "post_office", "da_nang", timedelta(days=200), "verified"),
    ("second_supplement_request", "agency", "da_nang", timedelta(days=1), "closed"),
)


async def insert_nonconformities(url: str) -> None:
    engine = make_engine(url)
    rows: list[dict[str, Any]] = []
    for kind, responsible, province, age, state in NONCONFORMITIES:
        detected = NOW - age
        rows.append(
            {
                "nonconformity_id": str(uuid.uuid4()),
                "dossier_id": str(uuid.uuid4()),
                "kind": kind,
                "occurrence": "1",
                "leg": None,
                "responsible_kind": responsible,
                "responsible_code": "000.00.01.H22" if responsible == "agency" else HANOI,
                "province": province,
                "procedure_code": None,
                "rule_set": "decree_118_2025",
                "article": "Decree 118/2025/NĐ-CP",
                "facts": {},
                "detected_at": detected,
                "opened_at": detected,
                "state": state,
                "version": 1,
                "updated_at": detected,
            }
        )
    try:
        async with engine.begin() as conn:
            await conn.execute(nonconformity.insert(), rows)
    finally:
        await engine.dispose()


def _band(age: timedelta) -> str:
    days = age / timedelta(days=1)
    return "under_7d" if days < 7 else "7d_to_30d" if days < 30 else "30d_to_90d" if days < 90 else "over_90d"


async def counted_nonconformities(url: str) -> dict[str, Any]:
    """Every nonconformity in the table (the test's and any the quality loop opened from the scenario's
    breaches): the open ones by responsible kind, province and age band, and the late delay notices
    detected in the first quarter of 2026 (Vietnam days)."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(nonconformity.select())).mappings().all()
    finally:
        await engine.dispose()
    still_open: Counter[tuple[str, str, str]] = Counter(
        (r["responsible_kind"], r["province"], _band(NOW - r["detected_at"]))
        for r in rows
        if r["state"] != "closed"
    )
    q1 = (datetime(2026, 1, 1, tzinfo=VN_TZ), datetime(2026, 4, 1, tzinfo=VN_TZ))
    late_notices = sum(
        1 for r in rows if r["kind"] == "late_delay_notice" and q1[0] <= r["detected_at"] < q1[1]
    )
    return {"open_nonconformities": dict(still_open), "late_delay_notices": late_notices}

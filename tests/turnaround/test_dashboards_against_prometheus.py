"""The turnaround service against the real broker and PostgreSQL, scraped by a real Prometheus running the
committed configuration and rules: 37 dossiers are driven through by publishing contract events, then
every query of every dashboard panel is run against Prometheus (and the overdue table against
PostgreSQL) and must return data; the values that follow from the scenario are checked.

What is covered: every panel of the four dashboards. The post office, agency and tracker services are
not started here (they are built in parallel): their scrape jobs get no targets, so panels over
`http_requests_total`, `up`, `faststream_*` and `dossier_consumer_*` are answered by the turnaround job
alone, which exports all of them.

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
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import text

from contracts.envelope import Envelope, kafka_record
from contracts.events import Event
from contracts.topics import AGENCY_EVENTS, POSTAL_EVENTS, Topic
from services.shared.db.engine import make_engine
from services.turnaround.app import create_app, load_rules
from services.turnaround.domain import ClockRules
from services.turnaround.settings import TurnaroundSettings
from tests.post_office.conftest import SECRET, issue_tokens
from tests.turnaround.journeys import ENTERPRISE, JUDICIAL_RECORD, PASSPORT, Journey, vn

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
NOW = vn(date(2026, 3, 11), 10)
HANOI, HUE, HCMC, DANANG = "100000", "490000", "700000", "500000"
D = date


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- the scenario


class Scenario:
    """37 dossiers in nine groups; `phases[i]` holds the events published in phase i."""

    def __init__(self, rules: ClockRules) -> None:
        self.rules = rules
        self.phases: list[list[Envelope[Event]]] = [[], [], [], []]
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
        # G2: late at the post and at the agency; the result is on its way back (Hồ Chí Minh City).
        self.g2 = group(6, HCMC, ENTERPRISE)
        for j in self.g2:
            at(0, j.accepted(vn(D(2026, 3, 2), 9)))
            at(1, j.handed_over(vn(D(2026, 3, 5))))  # late (due Wed 4), 3 working days
            at(1, j.received(vn(D(2026, 3, 5)), cal, cat))  # due Tue 10
            at(2, j.agency_event("agency.result_ready", vn(D(2026, 3, 11), 9)))  # late, 4 days
            at(2, j.picked_up(vn(D(2026, 3, 11), 9, 30)))  # due Fri 13: open
        # G3: agency clocks due tomorrow (Đà Nẵng).
        self.g3 = group(5, DANANG, PASSPORT)
        for j in self.g3:
            at(0, j.accepted(vn(D(2026, 2, 27), 9)))  # J+2 → due Tue 3
            at(1, j.handed_over(vn(D(2026, 3, 2), 11)))  # early; agency due Thu 12 Mar (8 days)
        # G4: agency clocks overdue since Tue 10 (Hà Nội 2, Đà Nẵng 3).
        self.g4 = group(5, lambda i: HANOI if i < 2 else DANANG, JUDICIAL_RECORD)
        for j in self.g4:
            at(0, j.accepted(vn(D(2026, 2, 23), 8)))
            at(1, j.handed_over(vn(D(2026, 2, 23), 14)))  # early (0 days); agency due Mon 9 Mar
        # G5: dossiers never handed over: inbound overdue (Huế).
        self.g5 = group(3, HUE, ENTERPRISE)
        for j in self.g5:
            at(0, j.accepted(vn(D(2026, 3, 5), 9)))  # due Mon 9
        # G6: a supplement is awaited (Hồ Chí Minh City).
        self.g6 = group(3, HCMC, ENTERPRISE)
        for j in self.g6:
            at(0, j.accepted(vn(D(2026, 3, 5), 9)))  # due Mon 9
            at(1, j.handed_over(vn(D(2026, 3, 9))))  # on time, 2 working days
            at(2, j.agency_event("agency.supplement_requested", vn(D(2026, 3, 10))))
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
        self.journeys = (
            self.g1 + self.g2 + self.g3 + self.g4 + self.g5 + self.g6 + self.g7 + self.g8 + self.g9
        )
        assert len(self.journeys) == 37


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


@contextlib.contextmanager
def prometheus_server(turnaround_target: str) -> Iterator[str]:
    """The committed configuration and rules with 1 s intervals; only the turnaround job has a target."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not installed (scripts/setup.sh installs the Debian package)")
    work = Path(tempfile.mkdtemp(prefix="dossier-prometheus-"))
    try:
        shutil.copytree(PROMETHEUS_DIR / "rules", work / "rules")
        (work / "targets").mkdir()
        for job in ("post_office", "agency", "tracker"):
            (work / "targets" / f"{job}.json").write_text("[]")
        (work / "targets" / "turnaround.json").write_text(
            json.dumps([{"targets": [turnaround_target], "labels": {"service": "turnaround"}}])
        )
        config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
        config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
        (work / "prometheus.yml").write_text(yaml.safe_dump(config))
        port = _free_port()
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={work / 'prometheus.yml'}",
                f"--storage.tsdb.path={work / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(work / "prometheus.log").open("w"),
        )
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    finally:
        shutil.rmtree(work, ignore_errors=True)


async def _wait_ready(url: str, timeout_s: float = 60) -> None:
    async with httpx.AsyncClient(timeout=2) as client, asyncio.timeout(timeout_s):
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.2)


# --------------------------------------------------------------------------- the service


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def _start_group_at_the_end(bootstrap: str, group: str, topics: tuple[Topic, ...]) -> None:
    """The session's broker holds other tests' events: this group reads only what this test publishes."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(t.name, p) for t in topics for p in range(t.partitions)]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.commit(dict(ends))
    finally:
        await consumer.stop()


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


def by_labels(result: list[dict[str, Any]], *labels: str) -> dict[tuple[str, ...], float]:
    return {tuple(r["metric"].get(label, "") for label in labels): float(r["value"][1]) for r in result}


def increased_counters() -> list[str]:
    """Every counter a dashboard panel takes increase() of."""
    found = {
        name
        for _, panel in panels()
        for target in panel["targets"]
        for name in re.findall(r"increase\(([A-Za-z_:]+)", target.get("expr", ""))
    }
    return sorted(found)


def close(actual: float, expected: float, rel: float = 0.1) -> bool:
    # increase() extrapolates to the end of its window by up to one scrape interval.
    return math.isclose(actual, expected, rel_tol=rel, abs_tol=1e-9)


IN, AG, RET = "INBOUND_POSTAL", "AGENCY_PROCESSING", "RETURN_POSTAL"


def check_national(title: str, ref: str, result: list[dict[str, Any]], group: str) -> None:
    single = float(result[0]["value"][1]) if len(result) == 1 else None
    legs = by_labels(result, "leg")
    if title == "Open clocks":
        assert single == 24
    elif title == "Due within one working day":
        assert single == 5
    elif title == "Overdue":
        assert single == 8
    elif title == "Awaiting a supplement":
        assert single == 3
    elif title == "Backlog by leg":
        expected = {"A": {(IN,): 3, (AG,): 15, (RET,): 6}, "B": {(AG,): 5}, "C": {(IN,): 3, (AG,): 5}}[ref]
        assert {k: v for k, v in legs.items() if v} == expected
    elif title == "Clocks finished, by leg and timeliness":
        got = {k: v for k, v in by_labels(result, "leg", "timeliness").items() if v}
        want = {
            (IN, "early"): 23,
            (IN, "on_time"): 3,
            (IN, "late"): 6,
            (AG, "early"): 3,
            (AG, "on_time"): 8,
            (AG, "late"): 6,
            (RET, "early"): 11,
        }
        assert set(got) == set(want) and all(close(got[k], v) for k, v in want.items()), got
    elif title == "Early or on time, by leg":
        assert (
            close(legs[(IN,)], 26 / 32, 0.02) and close(legs[(AG,)], 11 / 17, 0.02) and close(legs[(RET,)], 1)
        )
    elif title.startswith("Official score"):
        assert (
            close(legs[(IN,)], 49 / 32, 0.02) and close(legs[(AG,)], 14 / 17, 0.02) and close(legs[(RET,)], 2)
        )
    elif title == "Overdue clocks by province":
        nonzero = {k: v for k, v in by_labels(result, "province").items() if v}
        assert nonzero == {("ha_noi",): 2, ("da_nang",): 3, ("hue",): 3}
    elif title == "Median working days, by leg":
        assert 0 < legs[(IN,)] <= 1 and 2 < legs[(AG,)] <= 3 and 0 < legs[(RET,)] <= 1
    elif title == "90th percentile working days, by leg":
        assert 2 < legs[(IN,)] <= 3 and 3 < legs[(AG,)] <= 4 and 0 < legs[(RET,)] <= 1
    elif title.startswith("Whole journey"):
        assert single is not None
        assert (3 < single <= 5) if ref == "A" else (5 < single <= 7)


def check_drilldown_da_nang(title: str, ref: str, result: list[dict[str, Any]], group: str) -> None:
    single = float(result[0]["value"][1]) if len(result) == 1 else None
    if title == "Open clocks":
        assert single == 8
    elif title == "Due within one working day":
        assert single == 5
    elif title == "Overdue":
        assert single == 3
    elif title == "Early or on time, by leg":
        assert by_labels(result, "leg") == {(IN,): pytest.approx(1.0)}
    elif title == "Overdue by procedure field":
        assert {k: v for k, v in by_labels(result, "field").items() if v} == {("ly_lich_tu_phap",): 3}


def check_postal(title: str, ref: str, result: list[dict[str, Any]], group: str) -> None:
    if title == "Within J+n, by leg and route":
        got = by_labels(result, "leg", "route")
        assert close(got[(IN, "same_province")], 26 / 32, 0.02) and close(got[(RET, "same_province")], 1)
    elif title.startswith("90th percentile") and ref == "B":
        assert by_labels(result, "route") == {
            ("same_commune",): 1,
            ("same_province",): 2,
            ("between_special_cities",): 3,
            ("inter_provincial",): 4,
        }
    elif title == "Late postal legs by province":
        nonzero = {k: v for k, v in by_labels(result, "province").items() if v}
        assert list(nonzero) == [("ho_chi_minh",)] and close(nonzero[("ho_chi_minh",)], 6)
    elif title == "Delivery attempts, by outcome":
        got = by_labels(result, "outcome")
        assert close(got[("delivered",)], 8) and close(got[("failed",)], 6)
    elif title == "Attempts that delivered":
        assert close(float(result[0]["value"][1]), 8 / 14, 0.02)
    elif title == "Failed attempts, by reason":
        nonzero = {k: v for k, v in by_labels(result, "reason").items() if v}
        assert list(nonzero) == [("NOT_AT_HOME",)] and close(nonzero[("NOT_AT_HOME",)], 6)
    elif title == "Results returned to the agency":
        assert close(float(result[0]["value"][1]), 3)


def check_pipeline(title: str, ref: str, result: list[dict[str, Any]], group: str) -> None:
    if title == "Instances up, by service":
        assert by_labels(result, "job") == {("turnaround",): 1}
    elif title == "Clock alerts raised in the period, by threshold":
        got = by_labels(result, "threshold")
        assert close(got[("due_soon",)], 5) and close(got[("overdue",)], 8)
    elif title == "Alerts waiting for Kafka":
        assert float(result[0]["value"][1]) == 0
    elif title.startswith("Dead letters"):
        got = by_labels(result, "consumer", "reason")
        assert got[(group, "malformed_json")] >= 1


# --------------------------------------------------------------------------- the test


async def test_every_dashboard_panel_answers_with_the_scenarios_values(
    kafka_bootstrap: str, migrated_database: str
) -> None:
    group = f"turnaround-dash-{uuid.uuid4().hex[:8]}"
    settings = TurnaroundSettings(
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        DATABASE_URL=migrated_database,
        consumer_group=group,
        tick_interval_s=3600,  # ticked by hand once the scenario is in
        relay_interval_s=0.2,
        snapshot_interval_s=0.5,
        lag_interval_s=1,
        DOSSIER_AUTH_SECRET=SECRET,
    )
    operator = (await issue_tokens(migrated_database)).operator
    rules = load_rules(settings)
    scenario = Scenario(rules)
    ours = {j.dossier_id for j in scenario.journeys}
    await _start_group_at_the_end(kafka_bootstrap, group, (POSTAL_EVENTS, AGENCY_EVENTS))
    now = FixedClock(NOW)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
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
        async with turnaround_service(settings, now) as (target, service):
            with prometheus_server(target) as prometheus_url:
                await _wait_ready(f"{prometheus_url}/-/ready")
                prom = Prometheus(prometheus_url)
                await prom.until('count(up{job="turnaround"} == 1)', 1)

                open_ = 'sum(turnaround:open_clocks:max{{leg="{}"}}) or vector(0)'
                await publish(scenario.phases[0])
                await poison()
                await prom.until(open_.format(IN), 37)
                await publish(scenario.phases[1])
                await prom.until(open_.format(AG), 32)
                await prom.until(open_.format(IN), 3)
                await publish(scenario.phases[2])
                await poison()
                await prom.until(open_.format(RET), 17)
                await prom.until('sum(turnaround:suspended_clocks:max{leg="AGENCY_PROCESSING"})', 3)
                await publish(scenario.phases[3])
                await prom.until(open_.format(RET), 6)
                await prom.until('sum(turnaround:delivery_attempts_total:max{outcome="failed"})', 6)
                await prom.until('sum(turnaround:delivery_attempts_total:max{outcome="delivered"})', 8)

                assert await service.scheduler.tick() == 13
                assert await service.scheduler.tick() == 0, "alerts are raised once"
                await prom.until("sum(turnaround_clock_alerts_total)", 13)
                await prom.until("max(turnaround_outbox_pending)", 0)
                await prom.until(
                    f'sum(turnaround:clocks_finished_total:max{{leg="{RET}"}})', 11
                )  # every counter scraped at its final value
                # increase() extrapolates by up to 1.6 scrape intervals over the span its series
                # have samples; 30 samples keep that under the 10 % the checks allow.
                for counter in increased_counters():
                    await prom.until_at_least(f"min(count_over_time({counter}[10m]))", 30)

                checked = 0
                variable_sets = {
                    "dossier-drilldown": {"province": "da_nang", "field": ".*"},
                }
                for uid, panel in panels():
                    variables = {"__rate_interval": "5m", "__range": "10m", **variable_sets.get(uid, {})}
                    for target_spec in panel["targets"]:
                        if "rawSql" in target_spec:
                            await check_overdue_table(migrated_database, target_spec["rawSql"], scenario)
                            checked += 1
                            continue
                        expr = substitute(target_spec["expr"], variables)
                        result = await prom.query(expr)
                        where = f"{uid} / {panel['title']} / {target_spec['refId']}: {expr}"
                        assert result, f"no data: {where}"
                        values = [float(r["value"][1]) for r in result]
                        assert not any(math.isnan(v) for v in values), f"NaN: {where} → {result}"
                        check = {
                            "dossier-national": check_national,
                            "dossier-drilldown": check_drilldown_da_nang,
                            "dossier-postal": check_postal,
                            "dossier-pipeline": check_pipeline,
                        }[uid]
                        try:
                            check(panel["title"], target_spec["refId"], result, group)
                        except AssertionError as error:
                            raise AssertionError(f"{where} → {result}") from error
                        checked += 1
                assert checked >= 50

                # The HTTP API shows a dossier's clocks.
                async with httpx.AsyncClient(base_url=f"http://{target}") as client:
                    path = f"/dossiers/{scenario.g9[0].dossier_id}/clocks"
                    assert (await client.get(path)).status_code == 401, "staff only"
                    body = (await client.get(path, headers={"Authorization": f"Bearer {operator}"})).json()
                assert [(c["leg"], c["state"], c["due_date"], c["generation"]) for c in body["clocks"]] == [
                    (IN, "finished", "2026-02-25", 0),
                    (AG, "running", "2026-03-13", 1),
                ]
                assert ours  # every dossier of the scenario went through the service
    finally:
        await producer.stop()


async def check_overdue_table(url: str, raw_sql: str, scenario: Scenario) -> None:
    sql = substitute(
        raw_sql.replace("$__timeTo()", f"'{NOW.isoformat()}'::timestamptz"),
        {"province": ".*", "field": ".*"},
    )
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text(sql))).mappings().all()
    finally:
        await engine.dispose()
    overdue = {j.dossier_id for j in scenario.g4 + scenario.g5}
    assert {r["dossier_id"] for r in rows} == overdue
    assert {(r["due_date"], r["days_overdue"]) for r in rows} == {(D(2026, 3, 9), 2)}

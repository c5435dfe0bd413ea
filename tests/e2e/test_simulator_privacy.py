"""The privacy scan over a simulated day (services/simulator): its applicants — every one the simulator
invents, at the post's counters, the agencies' desks and, as agency systems, in version 1 reports on
agency.intake.v1 — appear in none of the simulator's own log records or report, nor in the four services'
logs and /metrics, nor in any Kafka key or header.

Topic values are the business of tests/e2e/test_erasure_proof.py and tests/security/test_privacy.py, whose
people are unique: the simulator's are plausible names that other tests' version 1 events (plain by
design, read through the upcaster) may share.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from services.simulator.run import simulate
from services.simulator.settings import SimulatorSettings
from services.simulator.summary import collect, render_store
from services.stack.lag import wait_caught_up
from tests.e2e.support import Stack
from tests.fixtures.privacy_scan import Person, Scanner

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


async def test_a_simulated_days_applicants_are_in_no_log_report_metric_or_kafka_key(
    stack: Stack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # As its entrypoint configures it (services/simulator/__main__.py): everything at DEBUG but aiokafka,
    # which logs whole message values at DEBUG (an agency system's version 1 report carries the contact),
    # and httpx.
    caplog.set_level(logging.DEBUG)
    for noisy in ("aiokafka", "httpx"):
        caplog.set_level(logging.WARNING, logger=noisy)
    settings = SimulatorSettings(
        dossiers=12,
        seed=20261206,
        concurrency=4,
        state_file=tmp_path / "state.json",
        **stack.agency_systems.settings(),
        post_office_url=stack.endpoints.post_office,
        agency_url=stack.endpoints.agency,
        tracker_url=stack.endpoints.tracker,
        turnaround_url=stack.endpoints.turnaround,
    )

    report = await simulate(settings, stack.endpoints, stack.credentials)
    lag = await wait_caught_up(stack.bootstrap, 60, stack.groups, security=stack.admin.security)
    assert not any(lag.values()), lag

    assert report.traffic.intake_events > 0, "the day exercises the agency systems' intake too"
    people = [
        Person(j.applicant.name, j.applicant.phone, j.applicant.id_number or "", j.applicant.address.line)
        for j in report.journeys
    ]
    scanner = Scanner(people)
    # The simulator's output: every log record with its fields, its report and the store view it prints.
    records = [f"{r.getMessage()} {r.__dict__!r}" for r in caplog.records]
    output = [
        *records,
        *report.lines(),
        *render_store(await collect(stack.endpoints, stack.credentials.operator)),
    ]
    found = [
        f"simulator output line {n}: {needle!r}"
        for n, line in enumerate(output, 1)
        for needle in scanner.needles.found_in(line)
    ]
    endpoints = stack.endpoints
    scan = await asyncio.to_thread(
        scanner.scan,
        kafka=stack.admin,
        values=lambda topic: False,
        logs=[p.log_path for p in stack.processes],
        metrics={
            "post_office": endpoints.post_office,
            "agency": endpoints.agency,
            "tracker": endpoints.tracker,
            "turnaround": endpoints.turnaround,
        },
    )
    found += scan.places()
    assert found == [], "\n".join(found)
    print(
        f"\nsimulator privacy: {len(people)} applicants, {len(scanner.needles)} strings; "
        f"{len(output)} lines of the simulator's output, {scan.tally}; 0 found"
    )

"""One run of the simulator: plan the day's journeys, play them, report what was done."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from services.shared.calendar import load_calendar
from services.shared.catalog import load_catalog
from services.shared.kafka_security import kafka_security_of
from services.shared.postal_limits import load_route_limits
from services.shared.settings import legal_rules_of
from services.simulator.clients import Credentials, Endpoints, Http, Intake, Traffic
from services.simulator.driver import Driver, Outcome, Progress
from services.simulator.geography import Reporting
from services.simulator.plan import Planner, Rules
from services.simulator.settings import SimulatorSettings
from services.simulator.state import load_serials, save_serials
from services.simulator.steps import Journey


@dataclass
class RunReport:
    dossiers: int
    forms: Counter[str]
    reporting: Counter[str]
    outcome: Outcome
    traffic: Traffic
    journeys: list[Journey]

    def lines(self) -> list[str]:
        o, t = self.outcome, self.traffic
        requests = sum(t.answers.values())
        lines = [
            f"This run: {self.dossiers} dossiers in {o.seconds:.0f} s — {o.played} acts played, "
            f"{requests} HTTP requests ({t.retries} retried), "
            f"{t.intake_events} agency-system reports on agency.intake.v1, "
            f"{o.batches} offline batches with {o.batch_scans} scans uploaded late",
            "  forms         " + ", ".join(f"{k} {v}" for k, v in sorted(self.forms.items())),
            "  agencies      " + ", ".join(f"{k} {v}" for k, v in sorted(self.reporting.items())),
            "  journeys      " + ", ".join(f"{k} {v}" for k, v in o.scenarios.most_common()),
        ]
        if o.failures:
            lines.append("  refused acts  " + ", ".join(f"{k} ×{v}" for k, v in o.failures.most_common(8)))
        return lines


def endpoints_of(settings: SimulatorSettings) -> Endpoints:
    return Endpoints(
        post_office=settings.post_office_url,
        agency=settings.agency_url,
        tracker=settings.tracker_url,
        turnaround=settings.turnaround_url,
        kafka_bootstrap=settings.kafka_bootstrap_servers,
        kafka_security=kafka_security_of(settings),
    )


async def simulate(
    settings: SimulatorSettings,
    endpoints: Endpoints,
    credentials: Credentials,
    *,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> RunReport:
    rules = Rules(
        calendar=load_calendar(),
        catalog=load_catalog(),
        limits=load_route_limits(),
        legal=legal_rules_of(settings),
    )
    serials = load_serials(settings.state_file)
    planner = Planner(
        random.Random(settings.seed),
        now or datetime.now(UTC),
        rules,
        serials,
        history_working_days=settings.history_working_days,
        use_agency_systems=settings.agency_systems,
    )
    journeys = [planner.plan() for _ in range(settings.dossiers)]
    # Saved before anything is sent: an interrupted run never hands its serials to the next one.
    save_serials(settings.state_file, serials)
    traffic = Traffic()
    http = Http(
        endpoints, concurrency=settings.concurrency, timeout_s=settings.request_timeout_s, traffic=traffic
    )
    intake = Intake(endpoints.kafka_bootstrap, traffic, endpoints.kafka_security)
    driver = Driver(
        http,
        intake,
        credentials,
        rules.calendar,
        progress=progress,
        propagation_timeout_s=settings.propagation_timeout_s,
    )
    try:
        outcome = await driver.play(journeys)
    finally:
        await http.close()
        await intake.close()
    return RunReport(
        dossiers=len(journeys),
        forms=Counter(j.form.value for j in journeys),
        reporting=Counter(
            "desk (HTTP)" if j.reporting is Reporting.DESK else "provincial system (agency.intake.v1)"
            for j in journeys
        ),
        outcome=outcome,
        traffic=traffic,
        journeys=journeys,
    )

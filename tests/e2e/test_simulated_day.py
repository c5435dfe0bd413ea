"""A short simulated day (services/simulator) through the running stack: every act it plays is accepted
— at the post's counters, the agencies' desks, on the intake topic and in late offline batches — and
the tracker ends up knowing every dossier where the simulator left it."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.simulator.run import simulate
from services.simulator.settings import SimulatorSettings
from services.simulator.summary import collect
from services.stack.lag import wait_caught_up
from tests.e2e.support import Api, Stack

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

# What the tracker shows for each scenario the simulator ends a journey in.
STAGES = {
    "delivered": {"DELIVERED"},
    "returned": {"RETURNED_TO_AGENCY"},
    "refused": {"REFUSED", "RESULT_PICKED_UP", "OUT_FOR_DELIVERY", "DELIVERED", "DELIVERY_FAILED"},
    "withdrawn": {"WITHDRAWN"},
    "lost": {"LOST"},
    "result ready": {"RESULT_READY"},
    "denied": {"RESULT_READY"},
    "awaiting supplement": {"AWAITING_SUPPLEMENT"},
    "processing": {"RECEIVED", "PROCESSING"},
    "received": {"RECEIVED", "PROCESSING"},
    "handed to agency": {"HANDED_TO_AGENCY"},
    "waiting for handover": {"ACCEPTED", "IN_TRANSIT"},
    "in transit": {"ACCEPTED", "IN_TRANSIT"},
    "stuck in transit": {"ACCEPTED", "IN_TRANSIT"},
    "result picked up": {"RESULT_PICKED_UP", "RESULT_IN_TRANSIT"},
    "out for delivery": {"OUT_FOR_DELIVERY"},
    "delivery failed": {"DELIVERY_FAILED", "OUT_FOR_DELIVERY"},
}


async def test_a_short_simulated_day_is_accepted_everywhere_and_tracked_to_where_it_stopped(
    stack: Stack, tmp_path: Path
) -> None:
    settings = SimulatorSettings(
        dossiers=40,
        seed=20260311,
        concurrency=8,
        state_file=tmp_path / "state.json",
        **stack.agency_systems.settings(),
        post_office_url=stack.endpoints.post_office,
        agency_url=stack.endpoints.agency,
        tracker_url=stack.endpoints.tracker,
        turnaround_url=stack.endpoints.turnaround,
    )

    report = await simulate(settings, stack.endpoints, stack.credentials)

    assert not report.outcome.failures, f"{report.outcome.failures}\n{stack.logs()}"
    assert report.traffic.intake_events > 0 and len(report.forms) == 3
    lag = await wait_caught_up(stack.bootstrap, 60, stack.groups, security=stack.admin.security)
    assert not any(lag.values()), lag
    view = await collect(stack.endpoints, stack.credentials.operator)
    assert view.intake_refused == 0 and view.dead_letters == 0
    api = Api(stack)
    try:
        for journey in report.journeys:
            detail = (await api.tracker(f"/dossiers/{journey.dossier_id}")).json()
            assert detail["stage"] in STAGES[journey.scenario], (journey.scenario, detail["stage"])
            assert len(detail["history"]) == journey.events, journey.scenario
            unexpected = [
                h["anomaly"]
                for h in detail["history"]
                if h["anomaly"] and h["type"] != "agency.dossier_received"
            ]
            assert not unexpected, (journey.scenario, unexpected)
    finally:
        await api.close()

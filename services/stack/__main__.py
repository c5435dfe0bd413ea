"""`python -m services.stack`: run every service, a local Prometheus and the traffic simulator locally.

    python -m services.stack [--dossiers N] [--no-simulator] [--no-prometheus]

scripts/run.sh calls it after starting the Kafka broker, creating the topics and migrating the database.
Settings: STACK_* (services/stack/settings.py), SIM_* (services/simulator/settings.py) and the shared
KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL, DOSSIER_AUTH_SECRET. Ctrl-C stops everything cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import logging

from services.shared.logs import configure
from services.simulator.settings import SimulatorSettings
from services.stack.processes import ROOT
from services.stack.settings import StackSettings
from services.stack.supervisor import Supervisor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.stack", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dossiers", type=int, help="dossiers the simulator starts (default: SIM_DOSSIERS, 200)"
    )
    parser.add_argument("--no-simulator", action="store_true", help="start the stack only (STACK_SIMULATE=0)")
    parser.add_argument(
        "--no-prometheus", action="store_true", help="no local Prometheus (STACK_PROMETHEUS=0)"
    )
    args = parser.parse_args(argv)
    stack = StackSettings()
    configure(stack.log_level)
    # The supervisor's own output is the progress bar and the summary; library chatter stays quiet.
    logging.getLogger().setLevel(logging.WARNING)
    # configure() holds aiokafka at INFO, which prints every SCRAM login of the lag watch.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    work = stack.work_dir if stack.work_dir.is_absolute() else ROOT / stack.work_dir
    simulator = SimulatorSettings()
    updates: dict[str, object] = {
        "post_office_url": f"http://{stack.host}:{stack.post_office_port}",
        "agency_url": f"http://{stack.host}:{stack.agency_port}",
        "tracker_url": f"http://{stack.host}:{stack.tracker_port}",
        "turnaround_url": f"http://{stack.host}:{stack.turnaround_port}",
        "state_file": work / "simulator" / "state.json",
        "kafka_bootstrap_servers": stack.kafka_bootstrap_servers,
        "database_url": stack.database_url,
    }
    if args.dossiers is not None:
        updates["dossiers"] = args.dossiers
    supervisor = Supervisor(
        settings=stack,
        simulator=simulator.model_copy(update=updates),
        simulate=stack.simulate and not args.no_simulator,
        prometheus=stack.prometheus and not args.no_prometheus,
    )
    return asyncio.run(supervisor.run())


if __name__ == "__main__":
    raise SystemExit(main())

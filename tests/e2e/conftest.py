"""The whole stack for the end-to-end tests, started once per session the way the local run starts it
(services/stack): the four services as child processes against the session's Kafka broker and a fresh
PostgreSQL database, scraped by a real Prometheus with the deployed configuration and rules (1 s
intervals). The consumer groups get names of their own, committed at the end of their topics first, so
the services read only what these tests send, not what other tests left on the session's broker."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from contracts.topics import by_name
from services.agency.settings import AgencySettings
from services.notifications.settings import NotificationsSettings
from services.shared.db import migrate
from services.shared.launcher import ManagedProcess, ProcessFailedError
from services.simulator.clients import Endpoints
from services.simulator.credentials import issue_credentials
from services.stack.lag import CONSUMER_GROUPS
from services.stack.processes import SERVICES, service_process
from services.stack.prometheus import prometheus_process, write_config
from services.stack.settings import env_var
from services.stack.supervisor import write_office_directory
from services.tracker.settings import TrackerSettings
from services.turnaround.settings import TurnaroundSettings
from tests.e2e.support import Stack
from tests.fixtures.kafka import KafkaBroker
from tests.fixtures.kafka_groups import start_group_at_end
from tests.fixtures.postgres import create_database

HOST = "127.0.0.1"
# Which setting names each default consumer group (services/stack/lag.py lists them and their topics).
GROUP_SETTINGS: dict[str, tuple[type[BaseSettings], str]] = {
    "tracker": (TrackerSettings, "consumer_group"),
    "turnaround": (TurnaroundSettings, "consumer_group"),
    "agency.postal": (AgencySettings, "postal_group_id"),
    "agency.intake": (AgencySettings, "intake_group_id"),
    "notifications": (NotificationsSettings, "consumer_group"),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="package")
async def stack(
    kafka_broker: KafkaBroker, postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    work: Path = tmp_path_factory.mktemp("e2e")
    database = await create_database(postgres_url, "e2e")
    await migrate.upgrade_async(database)
    secret = secrets.token_urlsafe(48)
    session = uuid.uuid4().hex[:8]
    # Each group id starts with its service's default (tracker, agency.postal…), the prefix the service's
    # principal may use (deploy/kafka/acls.tsv).
    group_of = {name: f"{name}.e2e-{session}" for name in GROUP_SETTINGS}
    groups = {group_of[name]: CONSUMER_GROUPS[name] for name in GROUP_SETTINGS}
    await asyncio.gather(
        *(start_group_at_end(kafka_broker.admin, g, map(by_name, topics)) for g, topics in groups.items())
    )
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "DOSSIER_AUTH_SECRET": secret,
        "LOG_LEVEL": "INFO",
        env_var(TrackerSettings, "office_directory"): str(write_office_directory(work / "offices.yaml")),
        env_var(TurnaroundSettings, "snapshot_interval_s"): "1",
        env_var(TurnaroundSettings, "lag_interval_s"): "1",
        env_var(TurnaroundSettings, "lag_groups"): json.dumps(
            {g: list(t) for g, t in groups.items() if g != group_of["turnaround"]}
        ),
    }
    for name, (settings, field) in GROUP_SETTINGS.items():
        env[env_var(settings, field)] = group_of[name]
    ports = {spec.name: _free_port() for spec in SERVICES}
    # Each service logs in as its own principal (deploy/kafka/acls.tsv): the journeys run with least
    # privilege, as in production.
    processes: list[ManagedProcess] = [
        service_process(
            spec,
            host=HOST,
            port=ports[spec.name],
            env={**env, **kafka_broker.for_service(spec.name).env()},
            log_dir=work / "logs",
        )
        for spec in SERVICES
    ]
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not installed (scripts/setup.sh installs the Debian package)")
    prometheus_port = _free_port()
    prometheus_dir = work / "prometheus"
    write_config(
        prometheus_dir,
        {name: f"{HOST}:{port}" for name, port in ports.items()},
        listen=f"{HOST}:{prometheus_port}",
        interval="1s",
    )
    processes.append(
        prometheus_process(
            binary, prometheus_dir, host=HOST, port=prometheus_port, log_path=work / "logs" / "prometheus.log"
        )
    )
    try:
        for process in processes:
            process.start()
        try:
            await asyncio.gather(*(p.wait_ready(90) for p in processes))
        except ProcessFailedError as exc:
            pytest.fail(str(exc))
        credentials = await issue_credentials(database, secret)
        agency_systems = kafka_broker.for_service("agency systems")
        yield Stack(
            bootstrap=kafka_broker.bootstrap,
            admin=kafka_broker.admin,
            agency_systems=agency_systems,
            database_url=database,
            endpoints=Endpoints(
                post_office=f"http://{HOST}:{ports['post_office']}",
                agency=f"http://{HOST}:{ports['agency']}",
                tracker=f"http://{HOST}:{ports['tracker']}",
                turnaround=f"http://{HOST}:{ports['turnaround']}",
                # The simulator publishes raw reports as the agencies' systems do.
                kafka_bootstrap=agency_systems.bootstrap,
                kafka_security=agency_systems.security,
            ),
            prometheus_url=f"http://{HOST}:{prometheus_port}",
            credentials=credentials,
            groups=groups,
            processes=processes,
        )
    finally:
        for process in reversed(processes):
            await process.stop(20)

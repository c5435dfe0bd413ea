"""The services as child processes of the local run and of the end-to-end tests: each one `python -m`
command with its environment and listener, started and awaited by the project's one launcher
(services/shared/launcher.py)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic_settings import BaseSettings

from services.agency.settings import AgencySettings
from services.notifications.settings import NotificationsSettings
from services.post_office.settings import PostOfficeSettings
from services.shared.launcher import ManagedProcess
from services.stack.settings import env_var
from services.tracker.settings import TrackerSettings
from services.turnaround.settings import TurnaroundSettings

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class ServiceSpec:
    """One deployable: its `python -m` command and the settings fields that place its HTTP listener."""

    name: str
    module: str
    args: tuple[str, ...]
    settings: type[BaseSettings]
    host_field: str
    port_field: str
    principal: str
    """Its Kafka login on the secured broker: a principal of deploy/kafka/acls.tsv (first column)."""

    def command(self, python: str = sys.executable) -> list[str]:
        return [python, "-m", self.module, *self.args]

    def listen_env(self, host: str, port: int) -> dict[str, str]:
        return {
            env_var(self.settings, self.host_field): host,
            env_var(self.settings, self.port_field): str(port),
        }


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("post_office", "services.post_office", (), PostOfficeSettings, "host", "port", "post-office"),
    ServiceSpec("agency", "services.agency", (), AgencySettings, "http_host", "http_port", "agency"),
    ServiceSpec("tracker", "services.tracker", ("serve",), TrackerSettings, "host", "port", "tracker"),
    ServiceSpec(
        "turnaround", "services.turnaround", (), TurnaroundSettings, "http_host", "http_port", "turnaround"
    ),
    ServiceSpec(
        "notifications",
        "services.notifications",
        (),
        NotificationsSettings,
        "http_host",
        "http_port",
        "notifications",
    ),
)
BY_NAME = {spec.name: spec for spec in SERVICES}

SIMULATED_AGENCY_SYSTEMS = "agency-systems"
"""The principal of the agencies' own systems, which the simulator plays when it publishes raw reports."""
ADMIN = "admin"
"""The broker's super user: creates the topics (scripts/run.sh) and describes every consumer group for
the local run's lag watch (no service principal may describe another service's groups)."""


def kafka_login(principal: str, credentials_dir: Path | None) -> dict[str, str]:
    """The environment that logs a process in as `principal` with its password file, never the password
    itself; nothing without a credentials directory (a PLAINTEXT broker)."""
    if credentials_dir is None:
        return {}
    return {"KAFKA_USERNAME": principal, "KAFKA_PASSWORD_FILE": str(credentials_dir / principal)}


def service_process(
    spec: ServiceSpec,
    *,
    host: str,
    port: int,
    env: Mapping[str, str],
    log_dir: Path,
    python: str = sys.executable,
    kafka_credentials: Path | None = None,
) -> ManagedProcess:
    """A service with the shared environment plus its own listener settings and, on the secured broker
    (`kafka_credentials`: the directory of the principals' password files), its own Kafka login; ready
    once /ready says so."""
    return ManagedProcess(
        spec.name,
        spec.command(python),
        log_path=log_dir / f"{spec.name}.log",
        env={
            **env,
            **spec.listen_env(host, port),
            **kafka_login(spec.principal, kafka_credentials),
            "PYTHONUNBUFFERED": "1",
        },
        ready_url=f"http://{host}:{port}/ready",
    )


def sinks_process(
    *,
    host: str,
    smtp_port: int,
    http_port: int,
    work: Path,
    zalo_webhook_url: str,
    log_dir: Path,
    python: str = sys.executable,
) -> ManagedProcess:
    """The local SMTP server, eSMS and Zalo ZNS (services/stack/sinks), keeping the messages under
    ``work``; ready once its HTTP side answers."""
    return ManagedProcess(
        "sinks",
        [
            python,
            "-m",
            "services.stack.sinks",
            f"--host={host}",
            f"--smtp-port={smtp_port}",
            f"--http-port={http_port}",
            f"--work-dir={work}",
            f"--zalo-webhook-url={zalo_webhook_url}",
        ],
        log_path=log_dir / "sinks.log",
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        ready_url=f"http://{host}:{http_port}/health",
    )

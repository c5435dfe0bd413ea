"""The services as child processes of the local run and of the end-to-end tests: each one `python -m`
command with its environment and listener, started and awaited by the project's one launcher
(services/shared/launcher.py)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic_settings import BaseSettings

from services.agency.settings import AgencySettings
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

    def command(self, python: str = sys.executable) -> list[str]:
        return [python, "-m", self.module, *self.args]

    def listen_env(self, host: str, port: int) -> dict[str, str]:
        return {
            env_var(self.settings, self.host_field): host,
            env_var(self.settings, self.port_field): str(port),
        }


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("post_office", "services.post_office", (), PostOfficeSettings, "host", "port"),
    ServiceSpec("agency", "services.agency", (), AgencySettings, "http_host", "http_port"),
    ServiceSpec("tracker", "services.tracker", ("serve",), TrackerSettings, "host", "port"),
    ServiceSpec("turnaround", "services.turnaround", (), TurnaroundSettings, "http_host", "http_port"),
)
BY_NAME = {spec.name: spec for spec in SERVICES}


def service_process(
    spec: ServiceSpec,
    *,
    host: str,
    port: int,
    env: Mapping[str, str],
    log_dir: Path,
    python: str = sys.executable,
) -> ManagedProcess:
    """A service with the shared environment plus its own listener settings; ready once /ready says so."""
    return ManagedProcess(
        spec.name,
        spec.command(python),
        log_path=log_dir / f"{spec.name}.log",
        env={**env, **spec.listen_env(host, port), "PYTHONUNBUFFERED": "1"},
        ready_url=f"http://{host}:{port}/ready",
    )

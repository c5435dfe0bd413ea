"""The local run's pieces that need no broker: the signing secret, the office directory, the local
Prometheus configuration, where each service is told to listen, and the refusal of a busy port.
(tests/e2e starts the whole stack the same way.)"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from services.shared.launcher import ProcessFailedError
from services.simulator import geography
from services.simulator.settings import SimulatorSettings
from services.stack.processes import SERVICES, ServiceSpec
from services.stack.prometheus import PROMETHEUS_DIR, write_config
from services.stack.settings import StackSettings
from services.stack.supervisor import Supervisor, ensure_auth_secret, write_office_directory


def test_the_signing_secret_is_generated_once_kept_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "auth_secret"

    first = ensure_auth_secret("", path)
    again = ensure_auth_secret("", path)

    assert first == again and len(first.encode()) >= 32
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_configured_secret_is_used_as_it_is(tmp_path: Path) -> None:
    assert ensure_auth_secret("x" * 40, tmp_path / "auth_secret") == "x" * 40
    assert not (tmp_path / "auth_secret").exists()


def test_the_office_directory_names_every_simulated_office_and_keeps_the_trackers_samples(
    tmp_path: Path,
) -> None:
    names = yaml.safe_load(write_office_directory(tmp_path / "offices.yaml").read_text())

    assert {office.code for _, office in geography.offices()} <= set(names["post_offices"])
    assert {agency.code for _, agency in geography.agencies()} <= set(names["agencies"])
    assert "000.00.01.H22" in names["agencies"]  # the tracker's own sample


def test_the_local_prometheus_runs_the_deployed_rules_against_the_local_targets(tmp_path: Path) -> None:
    targets = {spec.name: f"127.0.0.1:{18001 + i}" for i, spec in enumerate(SERVICES)}

    config = write_config(tmp_path, targets, listen="127.0.0.1:19090", interval="1s")

    loaded = yaml.safe_load(config.read_text())
    assert loaded["global"]["scrape_interval"] == "1s"
    assert sorted(p.name for p in (tmp_path / "rules").iterdir()) == sorted(
        p.name for p in (PROMETHEUS_DIR / "rules").iterdir()
    )
    for name, target in targets.items():
        written = yaml.safe_load((tmp_path / "targets" / f"{name}.json").read_text())
        assert written == [{"targets": [target], "labels": {"service": name}}]
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed (scripts/setup.sh installs the Debian prometheus package)")
    checked = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("spec", SERVICES, ids=lambda spec: spec.name)
def test_each_service_reads_the_address_the_supervisor_gives_it(
    spec: ServiceSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in spec.listen_env("127.0.0.2", 18123).items():
        monkeypatch.setenv(name, value)

    settings = spec.settings()

    assert getattr(settings, spec.host_field) == "127.0.0.2"
    assert getattr(settings, spec.port_field) == 18123


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_port_in_use_stops_the_start_with_a_clear_message(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        supervisor = Supervisor(
            settings=StackSettings(
                work_dir=tmp_path,
                post_office_port=_free_port(),
                agency_port=_free_port(),
                tracker_port=port,
                turnaround_port=_free_port(),
                notifications_port=_free_port(),
                smtp_sink_port=_free_port(),
                provider_sink_port=_free_port(),
            ),
            simulator=SimulatorSettings(),
            simulate=False,
            prometheus=False,
        )
        with pytest.raises(ProcessFailedError, match=f"port {port} .* tracker"):
            supervisor._check_ports_free()


def test_the_command_lines_describe_themselves() -> None:
    for module in ("services.stack", "services.simulator"):
        done = subprocess.run(
            [sys.executable, "-m", module, "--help"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
        )
        assert done.returncode == 0 and "--dossiers" in done.stdout, done.stderr


def test_the_notifications_service_reads_the_local_owners_and_sends_through_the_local_providers(
    tmp_path: Path,
) -> None:
    stack = StackSettings(work_dir=tmp_path)
    supervisor = Supervisor(settings=stack, simulator=SimulatorSettings(), simulate=False, prometheus=False)

    env = supervisor.notifications_env("the-contact-token")

    assert env["NOTIFICATIONS_POST_OFFICE_URL"] == f"http://{stack.host}:{stack.post_office_port}"
    assert env["NOTIFICATIONS_AGENCY_URL"] == f"http://{stack.host}:{stack.agency_port}"
    assert env["NOTIFICATIONS_CONTACT_TOKEN"] == "the-contact-token"
    assert (env["NOTIFICATIONS_SMTP_HOST"], env["NOTIFICATIONS_SMTP_PORT"]) == (
        stack.host,
        str(stack.smtp_sink_port),
    )
    providers = f"http://{stack.host}:{stack.provider_sink_port}"
    assert env["NOTIFICATIONS_ESMS_BASE_URL"] == env["NOTIFICATIONS_ZALO_BASE_URL"] == providers
    # The receipts come back to the service; the secrets stay the same from one run to the next.
    assert env["NOTIFICATIONS_PUBLIC_URL"] == f"http://{stack.host}:{stack.notifications_port}"
    assert supervisor.notifications_env("the-contact-token") == env
    assert (tmp_path / "sinks" / "esms_callback_secret").stat().st_mode & 0o777 == 0o600
    # Every simulated agency's desk gets the clock alerts.
    assert set(json.loads(env["NOTIFICATIONS_DESK_EMAILS"])) == {a.code for _, a in geography.agencies()}


def test_the_summary_says_where_the_messages_land(tmp_path: Path) -> None:
    supervisor = Supervisor(
        settings=StackSettings(work_dir=tmp_path),
        simulator=SimulatorSettings(),
        simulate=False,
        prometheus=False,
    )
    (tmp_path / "sms").mkdir()
    (tmp_path / "sms" / "20261206T080000.000000Z-000001.json").write_text("{}")

    text = "\n".join(supervisor.message_lines())

    assert f"{tmp_path}/mail/*.eml (0;" in text
    assert f"{tmp_path}/sms/*.json (1)" in text and f"{tmp_path}/zalo/*.json (0)" in text

"""kafka.sh start watches the broker it launched from the moment of the fork. Until the forked shell has
exec'd java, /proc/<pid>/cmdline is still the shell's: a start that took that for a dead broker gave up
("exited during start-up") while the broker came up anyway — its port then in use, and a JVM left on a
data directory the session removes. KAFKA_EXEC_DELAY widens that window to force the race. Started
secured, as the session's broker is (its readiness check is the TLS handshake)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.fixtures.kafka import KAFKA_SCRIPT, _free_port_pair

pytestmark = pytest.mark.kafka


def test_a_start_whose_broker_is_slow_to_exec_waits_for_it_and_serves() -> None:
    data = Path(tempfile.mkdtemp(prefix="dossier-kafka-race-"))
    port = _free_port_pair()
    try:
        started = subprocess.run(
            ["bash", str(KAFKA_SCRIPT), "start-secure", str(data), str(port)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            env={**os.environ, "KAFKA_EXEC_DELAY": "1.5"},
        )
        assert started.returncode == 0, started.stdout + started.stderr
        assert "broker up" in started.stdout
        status = subprocess.run(["bash", str(KAFKA_SCRIPT), "status", str(data)], check=False, timeout=60)
        assert status.returncode == 0, "the broker it reported up is running"
    finally:
        subprocess.run(["bash", str(KAFKA_SCRIPT), "stop", str(data)], check=False, timeout=120)
        shutil.rmtree(data, ignore_errors=True)

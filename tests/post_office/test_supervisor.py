"""The process `python -m services.post_office` starts supervises its workers and serves nothing itself
(POST_OFFICE_WORKERS > 1, issue 19): it must not hold a post office of its own. Each worker imports the
app; the supervisor only its settings and uvicorn's supervisor, so its memory is a fraction of a
worker's and the service's tree is its workers plus a small process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from services.shared.launcher import ROOT

# The entrypoint run as deployed, with the shared serve_workers replaced by one that reports which
# modules the supervising process had loaded by the time it would start the workers.
_PROBE = """
import json, runpy, sys
import services.shared.http_server as http_server

def serve_workers(make_app, settings, **options):
    print(json.dumps({
        "loaded": sorted(m for m in sys.modules if m.split(".")[0] in ("fastapi", "asyncpg", "aiokafka",
            "faststream", "starlette", "sqlalchemy") or m == "services.post_office.app"),
        "workers": options["workers"],
        "factory": f"{make_app.__module__}:{make_app.__qualname__}",
    }))

http_server.serve_workers = serve_workers
runpy.run_module("services.post_office", run_name="__main__")
"""


def test_the_supervising_process_loads_no_part_of_the_app_its_workers_serve() -> None:
    env = {
        **os.environ,
        "DOSSIER_AUTH_SECRET": "post-office-supervisor-tests-secret-0123456789",
        "POST_OFFICE_WORKERS": "2",
    }
    ran = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    report = json.loads(ran.stdout.strip().splitlines()[-1])

    assert report["workers"] == 2
    assert report["loaded"] == []
    # Each worker builds the app from the factory it is handed by name, in its own interpreter.
    module, _, function = report["factory"].partition(":")
    worker = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import {module} as m; from fastapi import FastAPI; print(isinstance(m.{function}(), FastAPI))",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert worker.stdout.strip() == "True", worker.stderr[-2000:]

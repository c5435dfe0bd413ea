"""How `python -m services.post_office` runs the API: settings, logging, uvicorn, and nothing of the app.

With POST_OFFICE_WORKERS > 1 the process started is uvicorn's supervisor: it binds the socket, spawns
the workers and replaces a dead one, and serves no request. Importing the app here (FastAPI, SQLAlchemy's
statements, asyncpg, aiokafka, the catalog) cost it as much memory as a worker, about 100 MiB it never
used (issue 19): the app is imported by `app_from_environment`, which only a process that serves calls.
"""

from __future__ import annotations

import logging
from typing import Any

from services.post_office.settings import PostOfficeSettings
from services.shared.http_server import serve_workers
from services.shared.logs import configure


def configured_settings() -> PostOfficeSettings:
    settings = PostOfficeSettings()
    configure(settings.log_level)
    # aiokafka logs whole message values at DEBUG, and a delivery attempt's note may hold personal data:
    # keep it at INFO even when the service itself runs at DEBUG.
    logging.getLogger("aiokafka").setLevel(max(logging.INFO, logging.getLogger().level))
    return settings


def app_from_environment() -> Any:
    """The app each worker process serves, from the settings in its environment (with one worker,
    the only process)."""
    # Imported here, not at the top: the supervising process imports this module and never serves.
    from services.post_office.app import create_app

    return create_app(configured_settings())


def main() -> None:
    settings = configured_settings()
    serve_workers(
        app_from_environment,
        settings,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        name="post_office",
    )

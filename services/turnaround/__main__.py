"""`python -m services.turnaround`: run the turnaround service (HTTP on TURNAROUND_HTTP_PORT, 8004)."""

from __future__ import annotations

import uvicorn

from services.shared.logs import configure
from services.turnaround.app import create_app
from services.turnaround.settings import TurnaroundSettings


def main() -> None:
    settings = TurnaroundSettings()
    configure(settings.log_level)
    uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port, log_config=None)


if __name__ == "__main__":
    main()

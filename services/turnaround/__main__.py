"""`python -m services.turnaround`: run the turnaround service (HTTP on TURNAROUND_HTTP_PORT, 8004)."""

from __future__ import annotations

from services.shared.http_server import serve
from services.shared.logs import configure
from services.turnaround.app import create_app
from services.turnaround.settings import TurnaroundSettings


def main() -> None:
    settings = TurnaroundSettings()
    configure(settings.log_level)
    serve(create_app(settings), settings, host=settings.http_host, port=settings.http_port)


if __name__ == "__main__":
    main()

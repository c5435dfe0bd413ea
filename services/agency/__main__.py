"""Run the agency service: `python -m services.agency` (settings from the environment, AGENCY_*)."""

from __future__ import annotations

from services.agency.app import create_app
from services.agency.settings import AgencySettings
from services.shared import logs
from services.shared.http_server import serve


def main() -> None:
    settings = AgencySettings()
    logs.configure(settings.log_level)
    serve(create_app(settings), settings, host=settings.http_host, port=settings.http_port)


if __name__ == "__main__":
    main()

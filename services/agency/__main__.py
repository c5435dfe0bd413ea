"""Run the agency service: `python -m services.agency` (settings from the environment, AGENCY_*)."""

from __future__ import annotations

import uvicorn

from services.agency.app import create_app
from services.agency.settings import AgencySettings
from services.shared import logs


def main() -> None:
    settings = AgencySettings()
    logs.configure(settings.log_level)
    uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port, log_config=None)


if __name__ == "__main__":
    main()
